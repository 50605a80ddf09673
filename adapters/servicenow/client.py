"""ServiceNow's Table API (`/api/now/table/<table>`) over aiohttp, with its answers and refusals
turned into the ports' errors.

- Auth: an OAuth client-credential token from `{url}/oauth_token.do` as a Bearer, or basic
  auth as the integration user.
- Answers: `{"result": ...}`; lists page by `sysparm_limit`/`sysparm_offset`, and the `Link`
  header's `rel="next"` (followed only on the instance's own origin) says there is more.
- Refusals: `{"error": {"message", "detail"}, "status": "failure"}`. 401/403 are
  `ServiceNowRefused` (an operator's to fix: a role or an ACL, named when ServiceNow names
  it); 404 `NotFoundError`; 429/503 wait `Retry-After` (bounded) and are tried again, up to
  `RETRIES` times, as ServiceNow refuses them before acting. A write whose answer is lost is
  `OutcomeUnknown`; a read that cannot be made is `ServiceNowUnavailable`.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from adapters.http.exchange import JsonAnswer, exchange
from adapters.http.tokens import TokenSource, TokenUnavailable
from bot.ports import NotFoundError, OutcomeUnknown

Sleep = Callable[[float], Awaitable[None]]
Record = dict[str, str]
Params = Mapping[str, str | int]
RETRIES = 3
MAX_WAIT = 60.0  # never wait longer than this on one Retry-After
PAGE_LIMIT = 100
TABLE = "/api/now/table/"


class ServiceNowError(Exception):
    """ServiceNow refused a call. The message holds its status and message, never a secret."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(f"ServiceNow refused: HTTP {status}" + (f": {message}" if message else ""))
        self.status = status


class ServiceNowRefused(ServiceNowError):
    """The integration user may not do this (401: the credentials; 403: a role or an ACL).
    `role` is the role ServiceNow named as missing, when it named one."""

    def __init__(self, status: int, message: str, role: str | None) -> None:
        need = f" (the integration user needs the role {role})" if role else ""
        super().__init__(status, message + need)
        self.role = role


class ServiceNowUnavailable(ServiceNowError):
    """ServiceNow could not be reached, kept throttling, or its token endpoint refused."""


class ServiceNowClient:
    """Table API calls under `base_url`. `tokens` given: Bearer auth; else `basic`."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: TokenSource | None = None,
        basic: tuple[str, SecretStr] | None = None,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if (tokens is None) == (basic is None):
            raise ValueError("ServiceNowClient takes a token source or basic auth, one of them")
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._basic = None if basic is None else _basic(*basic)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._session = session

    def __repr__(self) -> str:
        return f"ServiceNowClient({self.base_url!r}, {'oauth' if self._tokens else 'basic'})"

    async def records(
        self, table: str, query: str, fields: str, *, limit: int | None = None
    ) -> list[Record]:
        """Every record of `table` matching the encoded `query`, over all pages (at most
        `limit` of them when given), with `fields` (raw values, dot-walks allowed)."""
        found: list[Record] = []
        url: str | None = self.base_url + TABLE + table
        params: Params | None = {"sysparm_query": query, "sysparm_fields": fields,
                                 "sysparm_display_value": "false", "sysparm_offset": 0,
                                 "sysparm_limit": min(limit or PAGE_LIMIT, PAGE_LIMIT)}  # fmt: skip
        while url is not None and (limit is None or len(found) < limit):
            body, response = await self.call("GET", url, params=params)
            page = body.get("result") if isinstance(body, dict) else None
            found.extend(_record(r) for r in page or [] if isinstance(r, dict))
            url, params = (self._next(response) if page else None), None
        return found[:limit] if limit is not None else found

    async def create(self, table: str, fields: Mapping[str, str], returned: str) -> Record:
        return await self._write("POST", TABLE + table, fields, returned)

    async def change(
        self, table: str, sys_id: str, fields: Mapping[str, str], returned: str
    ) -> Record:
        return await self._write("PATCH", f"{TABLE}{table}/{sys_id}", fields, returned)

    async def _write(
        self, method: str, path: str, fields: Mapping[str, str], returned: str
    ) -> Record:
        params = {"sysparm_fields": returned, "sysparm_display_value": "false",
                  "sysparm_input_display_value": "false"}  # fmt: skip
        body, _ = await self.call(method, self.base_url + path, params=params, body=dict(fields))
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise ServiceNowError(200, f"{method} {path}: an answer without a result")
        return _record(result)

    def _next(self, response: JsonAnswer) -> str | None:
        url = response.links.get("next", "")
        if not url:
            return None
        if _origin(url) != _origin(self.base_url):
            raise ServiceNowError(response.status, "a next page outside the instance")
        return url

    async def call(
        self, method: str, url: str, *, params: Params | None = None, body: object = None
    ) -> tuple[Any, JsonAnswer]:
        """One call, tried again after a 429/503 or a refused OAuth token."""
        write, path, refreshed = method != "GET", urlsplit(url).path, False
        for attempt in range(RETRIES + 1):
            headers = await self._headers()
            try:
                response = await exchange(
                    self._session, method, url, headers=headers, limit=self._timeout,
                    params=params, json=body,
                )  # fmt: skip
            except (TimeoutError, aiohttp.ClientError) as exc:
                why = f"{method} {path}: {type(exc).__name__}"
                if write:
                    raise OutcomeUnknown(f"the answer to ServiceNow's {why} was lost") from None
                raise ServiceNowUnavailable(0, f"ServiceNow cannot be reached ({why})") from None
            if response.status in {429, 503} and attempt < RETRIES:
                await self._sleep(_retry_after(response))
                continue
            if response.status == 401 and self._tokens is not None and not refreshed:
                self._tokens.forget()  # an expired token: fetch another and try once more
                refreshed = True
                continue
            if response.status >= 400:
                raise _refusal(response.status, response.body, f"{method} {path}")
            return response.body, response
        raise ServiceNowUnavailable(429, "ServiceNow kept refusing the call (rate limit)")

    async def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._basic is not None:
            headers["Authorization"] = self._basic.get_secret_value()
        if self._tokens is not None:
            try:
                headers["Authorization"] = f"Bearer {await self._tokens.token()}"
            except TokenUnavailable as exc:
                raise ServiceNowUnavailable(0, str(exc)) from None
        return headers


def _basic(user: str, password: SecretStr) -> SecretStr:
    pair = f"{user}:{password.get_secret_value()}".encode()
    return SecretStr("Basic " + base64.b64encode(pair).decode())


def _record(raw: Mapping[str, Any]) -> Record:
    """A record's fields as strings (a reference left unwalked is `{"value": sys_id}`)."""
    out: Record = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            value = value.get("value", "")
        out[name] = "" if value is None else str(value)
    return out


def _retry_after(response: JsonAnswer) -> float:
    """What ServiceNow asks to wait, at most MAX_WAIT; a second when it does not say."""
    seconds = response.retry_after()
    return min(1.0 if seconds is None else seconds, MAX_WAIT)


# "... requires role itil", "roles: admin", "role 'snc_platform_rest_api_access'"
_ROLE = re.compile(r"\broles?\b[\s:='\"]*([a-z][a-z0-9_.]{1,79})", re.IGNORECASE)
_NOT_ROLES = {"is", "to", "the", "a", "an", "of", "for", "and", "or", "required", "missing"}


def _refusal(status: int, payload: Any, call: str) -> Exception:
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    said = [str(error.get(k) or "").strip()[:300] for k in ("message", "detail")]
    message = ": ".join(part for part in said if part) or call
    if status == 404:
        return NotFoundError("servicenow record", call)
    if status in {401, 403} and "data policy" not in message.lower():
        roles = [m for m in _ROLE.findall(" ".join(said)) if m.lower() not in _NOT_ROLES]
        return ServiceNowRefused(status, f"{call}: {message}", roles[0] if roles else None)
    if status in {400, 403}:
        return ValueError(f"ServiceNow refused {call}: {message}")
    if status in {429, 503} or status >= 500:
        return ServiceNowUnavailable(status, f"{call}: {message}")
    return ServiceNowError(status, f"{call}: {message}")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def escape(value: str) -> str:
    """A value inside an encoded query (`^` separates its terms; `^^` is a literal one)."""
    return value.replace("^", "^^")
