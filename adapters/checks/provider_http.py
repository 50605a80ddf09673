"""One HTTP call to a check provider's API (Duo, Twilio Verify) and what can go wrong with it,
in the desk's terms: the provider could not be reached (nothing was sent), it refused (an
answer it will give again: bad credentials, a bad parameter, a rate limit), or a write's
answer was lost after it went out (`OutcomeUnknown`: a push or a text may have been sent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.ports import OutcomeUnknown

DEFAULT_TIMEOUT = 10.0


class ProviderUnavailable(ConnectionError):
    """The provider could not be reached or failed (a 5xx); for a write, nothing was done."""


class ProviderRefused(RuntimeError):
    """The provider refused the call and will again: an operator's matter (credentials, a
    parameter, a limit). The message holds the provider's code and its plain words, never a
    secret of the request."""

    def __init__(self, provider: str, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{provider} refused the call: HTTP {status}, code {code}: {message}")
        self.status = status
        self.code = code
        self.provider_message = message


@dataclass(frozen=True)
class Answer:
    """What the provider answered: the HTTP status and the JSON body (None if it had none)."""

    status: int
    body: Any


async def call(
    session: aiohttp.ClientSession | None,
    method: str,
    url: str,
    *,
    provider: str,
    write: bool,
    within: float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    form: Mapping[str, str] | str | None = None,
    basic_auth: tuple[str, str] | None = None,
) -> Answer:
    """Make one call (on `session`, or on a session of its own). A failure to connect is
    `ProviderUnavailable`; no answer `within` seconds, or a dropped connection, is
    `OutcomeUnknown` for a `write` and a `TimeoutError` / `ProviderUnavailable` for a read.
    Neither the form (which may hold a code) nor the headers (which hold credentials) appear
    in any message. A form given as text is sent as it is (a signed request's parameters,
    exactly as signed)."""
    limit = aiohttp.ClientTimeout(total=within)
    try:
        if session is not None:
            return await _send(session, method, url, limit, headers, params, form, basic_auth)
        async with aiohttp.ClientSession() as own:
            return await _send(own, method, url, limit, headers, params, form, basic_auth)
    except aiohttp.ClientConnectorError as exc:
        raise ProviderUnavailable(f"{provider} cannot be reached at {_where(url)}") from exc
    except TimeoutError as exc:
        if write:
            raise OutcomeUnknown(
                f"{provider} did not answer within {within:g} s: the change may or may not "
                "have been made"
            ) from exc
        raise TimeoutError(f"{provider} did not answer within {within:g} s") from exc
    except aiohttp.ClientError as exc:
        if write:
            raise OutcomeUnknown(
                f"{provider} dropped the call ({type(exc).__name__}): the change may or may "
                "not have been made"
            ) from exc
        raise ProviderUnavailable(f"{provider} dropped the call ({type(exc).__name__})") from exc


async def _send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    limit: aiohttp.ClientTimeout,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    form: Mapping[str, str] | str | None,
    basic_auth: tuple[str, str] | None,
) -> Answer:
    sent = dict(headers or {})
    if basic_auth is not None:
        sent["Authorization"] = aiohttp.encode_basic_auth(*basic_auth)
    data: dict[str, str] | str | None = None
    if isinstance(form, str):  # already encoded, as it was signed
        sent["Content-Type"] = "application/x-www-form-urlencoded"
        data = form
    elif form is not None:
        data = dict(form)
    async with session.request(
        method,
        url,
        headers=sent,
        params=dict(params) if params else None,
        data=data,
        timeout=limit,
    ) as response:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        return Answer(response.status, body)


def _where(url: str) -> str:
    """The URL without its query (which may name a person)."""
    return url.split("?", 1)[0]
