"""Jira Service Management's REST APIs over aiohttp: the servicedesk API
(`/rest/servicedeskapi/...`) and the Jira platform API (`/rest/api/3/...`), as the desk's
Atlassian account (basic auth: its e-mail and an API token).

- Paging: the servicedesk API pages with `start`/`limit`/`isLastPage` (`values`), the platform
  API's lists with `startAt`/`maxResults`/`total` or `isLast`, its JQL search with
  `nextPageToken`.
- Errors: `{"errorMessage"}` (servicedesk) or `{"errorMessages": [...], "errors": {...}}`
  (platform). 401/403 are `JsmRefused` (an operator's to fix: the token, the account's
  permissions), 404 `NotFoundError`, other 4xx a `JsmError` naming Jira's messages. A 429
  waits its `Retry-After` (bounded) and is tried again. A write whose answer is lost is
  `OutcomeUnknown`; a read that cannot be made is `JsmUnavailable`.
- `X-ExperimentalApi: opt-in` goes with every servicedesk call: some of its endpoints are
  still experimental and refuse a call without it; the others ignore it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr

from adapters.http.exchange import JsonAnswer, exchange
from bot.ports import NotFoundError, OutcomeUnknown

Sleep = Callable[[float], Awaitable[None]]
Params = Mapping[str, str | int]
RATE_LIMIT_RETRIES = 3
MAX_WAIT = 60.0  # never wait longer than this on one Retry-After
PAGE_LIMIT = 50
USER_AGENT = "itdesk (IT service desk)"


class JsmError(Exception):
    """Jira refused a call. The message holds Jira's own messages, never the token."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"Jira refused: HTTP {status}" + (f": {detail}" if detail else ""))
        self.status = status
        self.detail = detail


class JsmRefused(JsmError):
    """Jira does not accept the desk's account (401: the e-mail or API token) or the account
    lacks a permission (403: e.g. not an agent of the service desk): an operator's to fix."""


class JsmUnavailable(JsmError):
    """Jira could not be reached, or kept throttling the desk."""


class JsmClient:
    """Calls under `base_url` (https://<site>.atlassian.net). Without `session` each call
    opens its own connection; with one, the caller owns it."""

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: SecretStr,
        *,
        timeout: float = 15.0,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        pair = f"{email}:{api_token.get_secret_value()}".encode()
        self._auth = SecretStr("Basic " + base64.b64encode(pair).decode())
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._session = session

    def __repr__(self) -> str:
        return f"JsmClient({self.base_url!r})"

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: object, params: Params | None = None) -> Any:
        return await self.call("POST", path, params=params, body=body)

    async def put(self, path: str, body: object) -> Any:
        return await self.call("PUT", path, body=body)

    async def desk_pages(self, path: str, params: Params | None = None) -> list[Any]:
        """Every item of a servicedesk list (`start`, `limit`, `isLastPage`, `values`)."""
        items: list[Any] = []
        start = 0
        while True:
            page = await self.get(path, {**(params or {}), "start": start, "limit": PAGE_LIMIT})
            values = list(page.get("values") or [])
            items.extend(values)
            if page.get("isLastPage", True) or not values:
                return items
            start += len(values)

    async def platform_pages(self, path: str, key: str, params: Params | None = None
                             ) -> list[Any]:  # fmt: skip
        """Every item of a platform list under `key` (`startAt`, `maxResults`, `total` or
        `isLast`)."""
        items: list[Any] = []
        while True:
            query = {**(params or {}), "startAt": len(items), "maxResults": PAGE_LIMIT}
            page = await self.get(path, query)
            values = list(page.get(key) or [])
            items.extend(values)
            total = page.get("total")
            last = page.get("isLast", total is not None and len(items) >= int(total))
            if last or not values:
                return items

    async def search(self, jql: str, fields: str, expand: str = "") -> AsyncIterator[Any]:
        """Each issue a JQL search finds, following `nextPageToken`."""
        token: str | None = None
        while True:
            query: dict[str, str | int] = {"jql": jql, "fields": fields, "maxResults": PAGE_LIMIT}
            if expand:
                query["expand"] = expand
            if token:
                query["nextPageToken"] = token
            page = await self.get("/rest/api/3/search/jql", query)
            for issue in page.get("issues") or []:
                yield issue
            token = page.get("nextPageToken")
            if not token or page.get("isLast", False):
                return

    async def call(
        self, method: str, path: str, *, params: Params | None = None, body: object = None
    ) -> Any:
        """One call, tried again after a 429: its JSON body (None when empty)."""
        url = self.base_url + path
        write = method != "GET"
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                answer = await exchange(
                    self._session, method, url, headers=self._headers(path),
                    limit=self._timeout, params=params, json=body,
                )  # fmt: skip
            except (TimeoutError, aiohttp.ClientError) as exc:
                why = f"{method} {urlsplit(url).path}: {type(exc).__name__}"
                if write:
                    raise OutcomeUnknown(f"the answer to Jira's {why} was lost") from None
                raise JsmUnavailable(0, f"Jira cannot be reached ({why})") from None
            if answer.status == 429 and attempt < RATE_LIMIT_RETRIES:
                await self._sleep(min(_retry_after(answer), MAX_WAIT))  # refused before it acted
                continue
            if answer.status >= 400:
                raise _refusal(answer.status, answer.body, urlsplit(url).path)
            return answer.body
        raise JsmUnavailable(429, "Jira kept throttling the desk")

    def _headers(self, path: str) -> dict[str, str]:
        headers = {"Authorization": self._auth.get_secret_value(), "Accept": "application/json",
                   "User-Agent": USER_AGENT}  # fmt: skip
        if path.startswith("/rest/servicedeskapi/"):
            headers["X-ExperimentalApi"] = "opt-in"
        return headers


def _retry_after(answer: JsonAnswer) -> float:
    """What Jira asks to wait; a second when it does not say."""
    seconds = answer.retry_after()
    return 1.0 if seconds is None else seconds


def _refusal(status: int, payload: Any, path: str) -> Exception:
    body = payload if isinstance(payload, dict) else {}
    messages = [str(m) for m in body.get("errorMessages") or []]
    messages += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    if body.get("errorMessage"):
        messages.append(str(body["errorMessage"]))
    detail = "; ".join(messages)
    if status == 404:
        return NotFoundError("jira resource", path)
    if status in {401, 403}:
        return JsmRefused(status, detail or "the desk's Atlassian account was refused")
    if status == 429 or status >= 500:
        return JsmUnavailable(status, detail)
    return JsmError(status, detail)
