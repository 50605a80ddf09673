"""Okta's published OpenAPI spec (the slice under `specs/okta/`) held against what went over the
wire to and from the fake Okta: each request the desk's client sent and each answer the fake
gave, validated with openapi-core, so neither side drifts from what Okta documents."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_core.validation.response.exceptions import MissingData

from servers.okta import Exchange

SPECS = Path(__file__).parent / "specs" / "okta"
HOST = "https://subdomain.okta.com"  # the spec's server, `https://{yourOktaDomain}`


@cache
def spec(name: str) -> OpenAPI:
    """The slice as openapi-core reads it, with two defects of Okta's spec read as meant:
    `UserFactorVerifyRequest` is a `oneOf` whose branches overlap (sms, email, call and the
    token factors are all `{passCode}`), so no body could match exactly one: it is read as
    the `anyOf` it describes, each property still checked; and an enum that lists a value
    twice (the token endpoint's grant types) lists it once."""
    document = yaml.safe_load((SPECS / f"{name}.yaml").read_text(encoding="utf-8"))
    verify = document.get("components", {}).get("schemas", {}).get("UserFactorVerifyRequest")
    if verify is not None and "oneOf" in verify:
        verify["anyOf"] = verify.pop("oneOf")
    return OpenAPI.from_dict(_once(document))


def _once(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: list(dict.fromkeys(v)) if k == "enum" and isinstance(v, list) else _once(v)
                for k, v in node.items()}  # fmt: skip
    if isinstance(node, list):
        return [_once(item) for item in node]
    return node


def problems(exchanges: Iterable[Exchange]) -> list[str]:
    """Every way the exchanges differ from the spec, one line each (none: they agree)."""
    found = []
    for e in exchanges:
        api = spec("oauth" if e.path.startswith("/oauth2/") else "management")
        request = MockRequest(
            HOST, e.method.lower(), e.path, args=e.query, headers=e.headers,
            data=e.body or None, content_type=e.headers.get("Content-Type", "application/json"),
        )  # fmt: skip
        response = MockResponse(e.answer, e.status, e.answer_headers,
                                e.content_type or "application/json")  # fmt: skip
        what = f"{e.method} {e.path} -> {e.status}"
        for error in api.iter_request_errors(request):
            # the token endpoint's client authentication is a form field Okta's spec names as
            # pseudo HTTP schemes (privateKeyJwt...); the fake checks the assertion itself
            if not (isinstance(error, SecurityValidationError) and e.path.startswith("/oauth2/")):
                found.append(f"{what}: request: {_why(error)}")
        if e.status == 401:  # refused before any operation: the spec lists no 401s
            continue
        for error in api.iter_response_errors(request, response):
            # Okta's spec writes "no body" as `content: {}`, which openapi-core reads as a
            # body of no known type that must be there
            if not (isinstance(error, MissingData) and not e.answer):
                found.append(f"{what}: answer: {_why(error)}")
    return found


def _why(error: Exception) -> str:
    causes = [str(c) for c in getattr(error, "schema_errors", ())]
    return f"{type(error).__name__}: {error}" + (f" ({'; '.join(causes)[:500]})" if causes else "")
