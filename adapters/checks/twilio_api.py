"""The calls of a Twilio-compatible Verify API (v2) the desk makes, with HTTP basic auth (the
account SID and auth token): start a verification, fetch it, check a code against it, cancel
it. Twilio's error bodies (`code`, `message`, `more_info`) become `VerifyError` carrying the
code (60200 invalid parameter, 60202 max check attempts, 60203 max send attempts, 20404 not
found...), or `ProviderUnavailable` for a 5xx. A code is sent in a form and nowhere else."""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import SecretStr

from adapters.checks.provider_http import (
    DEFAULT_TIMEOUT,
    Answer,
    ProviderRefused,
    ProviderUnavailable,
    call,
)
from bot.settings_cloud import CloudSettings

PROVIDER = "Twilio Verify"
DEFAULT_URL = "https://verify.twilio.com"
NOT_FOUND = 20404
INVALID_PARAMETER = 60200
MAX_CHECK_ATTEMPTS = 60202
MAX_SEND_ATTEMPTS = 60203


class VerifyError(ProviderRefused):
    """Twilio refused the call; `code` is Twilio's error code."""


class SendLimitReached(VerifyError):
    """Twilio has sent this number as many codes as it allows for now (60203): no code went
    out, and another will not until the verification expires."""


class VerifyApi:
    """One Verify service (`service_sid`, VA...) of an account, at `base_url`."""

    def __init__(
        self,
        account_sid: str,
        auth_token: SecretStr,
        service_sid: str,
        *,
        base_url: str = DEFAULT_URL,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._account_sid = account_sid
        self._token = auth_token
        self._service = f"{base_url.rstrip('/')}/v2/Services/{service_sid}"
        self._timeout = timeout
        self._session = session

    def __repr__(self) -> str:
        return f"VerifyApi({self._service!r}, account_sid={self._account_sid!r})"

    @classmethod
    def from_settings(
        cls, settings: CloudSettings, *, session: aiohttp.ClientSession | None = None
    ) -> VerifyApi:
        """The service ITDESK_TWILIO_VERIFY_URL, ITDESK_TWILIO_ACCOUNT_SID,
        ITDESK_TWILIO_AUTH_TOKEN and ITDESK_TWILIO_VERIFY_SERVICE_SID name (`cloud_problems`
        reports any missing at start-up)."""
        sid, token, service = (settings.twilio_account_sid, settings.twilio_auth_token,
                               settings.twilio_verify_service_sid)  # fmt: skip
        if sid is None or token is None or service is None:
            raise ValueError("ITDESK_TWILIO_ACCOUNT_SID, _AUTH_TOKEN and _VERIFY_SERVICE_SID "
                             "are needed")  # fmt: skip
        return cls(sid, token, service, base_url=settings.twilio_verify_url, session=session)

    async def start(self, to: str) -> dict[str, Any]:
        """Send a code by SMS to `to` (E.164): the verification, `pending`."""
        return await self._call("POST", "/Verifications", {"To": to, "Channel": "sms"})

    async def fetch(self, sid: str) -> dict[str, Any]:
        return await self._call("GET", f"/Verifications/{sid}", None)

    async def check(self, sid: str, code: str) -> dict[str, Any]:
        """Check a code: the verification check, `approved` when it was right."""
        return await self._call("POST", "/VerificationCheck", {"VerificationSid": sid,
                                                               "Code": code})  # fmt: skip

    async def cancel(self, sid: str) -> dict[str, Any]:
        return await self._call("POST", f"/Verifications/{sid}", {"Status": "canceled"})

    async def _call(self, method: str, path: str, form: dict[str, str] | None) -> dict[str, Any]:
        answer = await call(
            self._session, method, f"{self._service}{path}", provider=PROVIDER,
            write=method == "POST", within=self._timeout, form=form,
            basic_auth=(self._account_sid, self._token.get_secret_value()),
        )  # fmt: skip
        return _response(answer)


def _response(answer: Answer) -> dict[str, Any]:
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status in {200, 201}:
        return body
    if answer.status >= 500:
        raise ProviderUnavailable(f"{PROVIDER} failed: HTTP {answer.status}")
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = str(body.get("message") or "no message")
    kind = SendLimitReached if code == MAX_SEND_ATTEMPTS else VerifyError
    raise kind(PROVIDER, answer.status, code, message)


def e164(number: str) -> str:
    """A number as Verify takes it: "+44 7700 900123" -> "+447700900123" (spaces, dashes,
    dots and brackets dropped). A number not in international form is a `ValueError`."""
    digits = "".join(c for c in number if c.isdigit())
    if not number.strip().startswith("+") or not 2 <= len(digits) <= 15:
        raise ValueError("a mobile number on record is not in international form (+<country>...)")
    return f"+{digits}"
