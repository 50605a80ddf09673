"""Okta's Management API over aiohttp: one authenticated call at a time, as Okta's rate limits
and paging ask, with Okta's error bodies turned into the ports' errors.

- Rate limits: every answer carries `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` (epoch
  seconds). When Remaining reaches 0 the next call waits until Reset; a 429 waits the same
  and is tried again, up to `RATE_LIMIT_RETRIES` times (Okta refuses a throttled call before
  acting on it, so a write may be sent again). One gate for every endpoint: Okta counts per
  endpoint, so this waits sometimes when it need not, never the other way round.
- Paging: a list answer names its next page in `Link: <...>; rel="next"`, followed only on
  Okta's own origin (the token is never sent elsewhere).
- Errors: `{"errorCode", "errorSummary", "errorCauses"}`. Not found (E0000007, HTTP 404) is
  `NotFoundError`, a validation failure (E0000001, HTTP 400) a `ValueError` with Okta's
  summary, the rest an `OktaError` naming the code (a 403 for missing admin permissions is
  `OktaPermissionDenied`, an operator's to fix). A write whose answer is lost (a timeout, a
  dropped connection) is `OutcomeUnknown`; a read that cannot be made is `OktaUnavailable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp

from adapters.http.exchange import JsonAnswer, exchange
from adapters.http.tokens import TokenSource, TokenUnavailable
from bot.clock import Clock, SystemClock
from bot.ports import NotFoundError, OutcomeUnknown

Sleep = Callable[[float], Awaitable[None]]
Scheme = Literal["SSWS", "Bearer"]
Params = Mapping[str, str | int]
RATE_LIMIT_RETRIES = 3
MAX_WAIT = 120.0  # never wait longer than this on one Reset (a clock far off, a bad header)
PAGE_LIMIT = 200  # what Okta recommends for lists
USER_AGENT = "itdesk (IT service desk)"


class OktaError(Exception):
    """Okta refused a call. The message holds Okta's code and summary, never a token."""

    def __init__(self, status: int, code: str = "", summary: str = "") -> None:
        what = f" {code}" if code else ""
        super().__init__(f"Okta refused: HTTP {status}{what}" + (f": {summary}" if summary else ""))
        self.status = status
        self.code = code
        self.summary = summary


class OktaPermissionDenied(OktaError):
    """The desk's credentials lack the admin role or scope for this call (E0000006)."""


class OktaUnavailable(OktaError):
    """Okta could not be reached, or its token endpoint refused the desk."""


class OktaClient:
    """Calls under `base_url` (https://<org>.okta.com), authenticated with `tokens` under
    `scheme` (SSWS for an API token, Bearer for an OAuth service app). Without `session`
    each call opens its own connection (nothing to close); with one, the caller owns it."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        scheme: Scheme,
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._tokens = tokens
        self._scheme = scheme
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._session = session
        self._quiet_until = 0.0  # epoch seconds: no call before this (Remaining was 0)

    def __repr__(self) -> str:
        return f"OktaClient({self.base_url!r}, {self._scheme})"

    async def get(self, path: str, params: Params | None = None) -> Any:
        return (await self.call("GET", path, params=params))[0]

    async def post(self, path: str, body: object = None, params: Params | None = None) -> Any:
        return (await self.call("POST", path, params=params, body=body))[0]

    async def put(self, path: str) -> Any:
        return (await self.call("PUT", path))[0]

    async def delete(self, path: str, params: Params | None = None) -> Any:
        return (await self.call("DELETE", path, params=params))[0]

    async def pages(self, path: str, params: Params | None = None) -> AsyncIterator[list[Any]]:
        """Each page of a list, following `rel="next"` until there is none (a System Log
        poll always has one: its reader stops at an empty page)."""
        url: str | None = path
        query: Params | None = {"limit": PAGE_LIMIT, **(params or {})}
        while url is not None:
            body, response = await self.call("GET", url, params=query)
            yield list(body) if isinstance(body, list) else []
            url, query = self._next(response), None

    async def every(self, path: str, params: Params | None = None) -> list[Any]:
        """Every item of a list, over all its pages."""
        return [item async for page in self.pages(path, params) for item in page]

    def _next(self, response: JsonAnswer) -> str | None:
        url = response.links.get("next", "")
        if not url:
            return None
        if _origin(url) != self._origin:
            raise OktaError(response.status, summary="a next page outside the Okta org")
        return url

    async def call(
        self, method: str, url: str, *, params: Params | None = None, body: object = None
    ) -> tuple[Any, JsonAnswer]:
        """One call (retried after a 429 or a refused token): its JSON body (None when
        empty) and the answer."""
        target = url if url.startswith(("http://", "https://")) else self.base_url + url
        write = method != "GET"
        refreshed = False
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            await self._wait_for_quota()
            headers = await self._headers()
            try:
                response = await exchange(
                    self._session, method, target, headers=headers, limit=self._timeout,
                    params=params, json=body,
                )  # fmt: skip
            except (TimeoutError, aiohttp.ClientError) as exc:
                why = f"{method} {urlsplit(target).path}: {type(exc).__name__}"
                if write:
                    raise OutcomeUnknown(f"the answer to Okta's {why} was lost") from None
                raise OktaUnavailable(0, summary=f"Okta cannot be reached ({why})") from None
            self._note_quota(response)
            if response.status == 429 and attempt < RATE_LIMIT_RETRIES:
                self._quiet_until = max(self._quiet_until, _reset_of(response, self._now()))
                continue
            if response.status == 401 and not refreshed:
                self._tokens.forget()  # an expired OAuth token: fetch one and try once more
                refreshed = True
                continue
            if response.status >= 400:
                raise _refusal(response.status, response.body, urlsplit(target).path)
            return response.body, response
        raise OktaUnavailable(429, summary="Okta kept refusing the call (rate limit, token)")

    async def _headers(self) -> dict[str, str]:
        try:
            token = await self._tokens.token()
        except TokenUnavailable as exc:
            raise OktaUnavailable(0, summary=str(exc)) from None
        # Okta shows a push's user agent on the phone: the desk says who is asking
        return {"Authorization": f"{self._scheme} {token}", "Accept": "application/json",
                "User-Agent": USER_AGENT}  # fmt: skip

    async def _wait_for_quota(self) -> None:
        wait = self._quiet_until - self._now()
        if wait > 0:
            await self._sleep(min(wait, MAX_WAIT))

    def _note_quota(self, response: JsonAnswer) -> None:
        if response.headers.get("X-Rate-Limit-Remaining", "").strip() == "0":
            self._quiet_until = max(self._quiet_until, _reset_of(response, self._now()))

    def _now(self) -> float:
        return self._clock.now().timestamp()


def _reset_of(response: JsonAnswer, now: float) -> float:
    """When the rate-limit window ends; a second from now when Okta did not say."""
    try:
        reset = float(response.headers.get("X-Rate-Limit-Reset", ""))
    except ValueError:
        return now + 1.0
    return min(max(reset, now), now + MAX_WAIT)


def _refusal(status: int, payload: Any, path: str) -> Exception:
    body = payload if isinstance(payload, dict) else {}
    code = str(body.get("errorCode") or "")
    summary = str(body.get("errorSummary") or "")
    causes = [str(c.get("errorSummary")) for c in body.get("errorCauses") or []
              if isinstance(c, dict) and c.get("errorSummary")]  # fmt: skip
    if status == 404 or code == "E0000007":
        return NotFoundError("okta resource", path)
    if status == 400 and code in {"E0000001", ""}:
        return ValueError("; ".join([summary, *causes]).strip("; ") or "Okta refused the request")
    if status == 403 and code == "E0000006":
        return OktaPermissionDenied(status, code, summary)
    if status in {401, 429} or status >= 500:
        return OktaUnavailable(status, code, summary)
    return OktaError(status, code, summary)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
