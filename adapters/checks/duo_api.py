"""The three calls of Duo's Auth API v2 the desk makes, signed (`duo_signing`): `preauth` (may
this person authenticate, and on which devices), `auth` (send a push, asynchronously) and
`auth_status` (what became of it). Duo's failures (`{"stat": "FAIL", "code": 40002,
"message": ...}`) become `ProviderRefused` with Duo's code, or `ProviderUnavailable` for 5xx."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from adapters.checks.duo_signing import canonical_params, duo_date, signed_headers
from adapters.checks.provider_http import (
    DEFAULT_TIMEOUT,
    Answer,
    ProviderRefused,
    ProviderUnavailable,
    call,
)
from bot.clock import Clock
from bot.settings_cloud import CloudSettings

PROVIDER = "Duo"
# How long a read of `auth_status` may be held: Duo answers it when the push's status
# changes, so a poll with no news is simply held until then.
STATUS_POLL_TIMEOUT = 5.0


class DuoApi:
    """Signed calls to one Auth API integration at `api_url` (https://api-XXXX.duosecurity.com).
    Requests are dated by `clock` (Duo refuses a Date far from its own time)."""

    def __init__(
        self,
        api_url: str,
        integration_key: str,
        secret_key: SecretStr,
        clock: Clock,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        poll_timeout: float = STATUS_POLL_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parts = urlsplit(api_url if "://" in api_url else f"https://{api_url}")
        self._base = f"{parts.scheme}://{parts.netloc}"
        self._host = parts.netloc.lower()
        self._ikey = integration_key
        self._skey = secret_key
        self._clock = clock
        self._timeout = timeout
        self.poll_timeout = poll_timeout
        self._session = session

    def __repr__(self) -> str:
        return f"DuoApi({self._base!r}, integration_key={self._ikey!r})"

    @classmethod
    def from_settings(
        cls, settings: CloudSettings, clock: Clock, *, session: aiohttp.ClientSession | None = None
    ) -> DuoApi:
        """The integration ITDESK_DUO_API_URL, ITDESK_DUO_INTEGRATION_KEY and
        ITDESK_DUO_SECRET_KEY name (`cloud_problems` reports any missing at start-up)."""
        url, ikey, skey = (settings.duo_api_url, settings.duo_integration_key,
                           settings.duo_secret_key)  # fmt: skip
        if url is None or ikey is None or skey is None:
            raise ValueError("ITDESK_DUO_API_URL, _INTEGRATION_KEY and _SECRET_KEY are needed")
        return cls(url, ikey, skey, clock, session=session)

    async def preauth(self, username: str) -> dict[str, Any]:
        """Whether the person may authenticate ("auth", with their devices), is let through
        without a second factor ("allow": a bypass), must enroll, or is refused ("deny")."""
        return await self._call("POST", "/auth/v2/preauth", {"username": username}, write=False)

    async def auth_push(self, username: str, device: str, *, type_text: str, pushinfo: str) -> str:
        """Send a push to `device` without waiting for the answer; Duo's transaction id."""
        params = {"username": username, "factor": "push", "device": device, "async": "1",
                  "type": type_text, "pushinfo": pushinfo}  # fmt: skip
        response = await self._call("POST", "/auth/v2/auth", params, write=True)
        return str(response["txid"])

    async def auth_status(self, txid: str) -> dict[str, Any]:
        """The transaction's `result` (waiting, allow, deny) and `status` (pushed, allow,
        deny, fraud, timeout, bypass...). Held by Duo until there is news: a poll that gets
        no answer within `poll_timeout` is a `TimeoutError`."""
        return await self._call(
            "GET", "/auth/v2/auth_status", {"txid": txid}, write=False,
            within=self.poll_timeout,
        )  # fmt: skip

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        write: bool,
        within: float | None = None,
    ) -> dict[str, Any]:
        headers = signed_headers(
            self._ikey, self._skey.get_secret_value(), method=method, host=self._host,
            path=path, params=params, date=duo_date(self._clock.now()),
        )  # fmt: skip
        encoded = canonical_params(params)  # sent as signed (Duo decodes what it gets)
        if method == "GET":
            url, form = f"{self._base}{path}?{encoded}", None
        else:
            url, form = f"{self._base}{path}", encoded
        answer = await call(
            self._session, method, url, provider=PROVIDER, write=write,
            within=within or self._timeout, headers=headers, form=form,
        )  # fmt: skip
        return _response(answer)


def _response(answer: Answer) -> dict[str, Any]:
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 200 and body.get("stat") == "OK" and isinstance(body.get("response"), dict):
        response: dict[str, Any] = body["response"]
        return response
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = str(body.get("message") or "no message")
    if isinstance(body.get("message_detail"), str):
        message = f"{message} ({body['message_detail']})"
    if answer.status >= 500:
        raise ProviderUnavailable(f"{PROVIDER} failed: HTTP {answer.status}, code {code}")
    raise ProviderRefused(PROVIDER, answer.status, code, message)
