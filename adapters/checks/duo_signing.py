"""Signing a request to Duo's APIs as Duo specifies it (signature version 2): an HMAC of the
request's canonical form (its Date header, method, host, path and sorted, URL-encoded
parameters, one per line) keyed with the integration's secret key, sent as the password of
HTTP basic auth with the integration key as the user name. Duo's Auth API takes HMAC-SHA512;
the digest is a parameter only so the canonical form can be checked against the examples of
Duo's documentation, which are signed with HMAC-SHA1."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

Digest = Callable[..., Any]  # hashlib.sha512 and the like


def duo_quote(value: str) -> str:
    """URL-encode as Duo does: every byte of the UTF-8 text but ASCII letters, digits and
    `_.~-` as %XX, with upper-case hex (a space is %20, never +)."""
    return quote(value.encode(), safe="~")


def canonical_params(params: Mapping[str, str]) -> str:
    """`key=value` pairs, both encoded, sorted by key and joined with `&` ("" for none)."""
    pairs = sorted((duo_quote(key), duo_quote(value)) for key, value in params.items())
    return "&".join(f"{key}={value}" for key, value in pairs)


def canonical_request(date: str, method: str, host: str, path: str, params: str) -> str:
    """The five lines that are signed; `params` is already canonical."""
    return "\n".join((date, method.upper(), host.lower(), path, params))


def duo_date(when: datetime) -> str:
    """`when` as an RFC 2822 date, as the Date header and the signature carry it."""
    return formatdate(when.timestamp(), localtime=False, usegmt=False)


def signed_headers(
    integration_key: str,
    secret_key: str,
    *,
    method: str,
    host: str,
    path: str,
    params: Mapping[str, str],
    date: str,
    digest: Digest = hashlib.sha512,
) -> dict[str, str]:
    """The Date and Authorization headers of one request."""
    canonical = canonical_request(date, method, host, path, canonical_params(params))
    signature = hmac.new(secret_key.encode(), canonical.encode(), digest).hexdigest()
    credentials = base64.b64encode(f"{integration_key}:{signature}".encode()).decode()
    return {"Date": date, "Authorization": f"Basic {credentials}"}
