"""The pages of the configured Confluence Cloud spaces, read over its REST API (v1 content
search by CQL), for the desk's runbooks.

- One search a space (`space = "KEY" and type = page`, storage body, version and space
  expanded), so a space the desk may not read (403) is skipped with a log line and the
  others still count. Paging follows `_links.next` (a cursor), under the configured base only:
  the credentials never go elsewhere.
- Sign-in is basic auth with an Atlassian account's e-mail and API token. A 401 means the
  site refuses the desk: `ConfluenceRefused`, an operator's to fix.
- 429 and 503 wait `Retry-After` (bounded) and try again a few times; a timeout, a dropped
  connection or a 5xx is `ConfluenceUnavailable`, and the caller keeps what it had.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
from pydantic import SecretStr

from adapters.http.exchange import exchange

__all__ = ["ConfluenceClient", "ConfluencePage", "ConfluenceRefused", "ConfluenceUnavailable"]

log = structlog.get_logger("itdesk.confluence")
Sleep = Callable[[float], Awaitable[None]]
SEARCH = "/rest/api/content/search"
PAGE_LIMIT = 50  # Confluence caps a search page with bodies expanded; it says so in `limit`
RETRIES = 3
MAX_WAIT = 60.0  # seconds: never wait longer on one Retry-After
DEFAULT_WAIT = 5.0  # a 429 or 503 without Retry-After
MAX_PAGES = 200  # answers of one space: a next link that never ends stops here


class ConfluenceRefused(Exception):
    """The site refuses the desk's sign-in (401): the e-mail or API token is wrong, expired or
    revoked. An operator's to fix; the message never holds the token."""


class ConfluenceUnavailable(Exception):
    """Confluence could not be read just now (timeout, connection, 5xx, still throttled)."""


@dataclass(frozen=True)
class ConfluencePage:
    """A page as read: its storage-format body and its web address."""

    id: str
    title: str
    space: str
    version: int
    storage: str
    url: str


class ConfluenceClient:
    """Reads the pages of spaces on the site at `base_url` (https://<site>.atlassian.net/wiki).
    Without `session` each call opens its own connection; with one, the caller owns it."""

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: SecretStr,
        *,
        timeout: float = 20.0,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = urlsplit(self.base_url)[:2]
        self._email = email
        self._token = api_token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._session = session

    def __repr__(self) -> str:
        return f"ConfluenceClient({self.base_url!r})"

    async def pages(self, spaces: tuple[str, ...]) -> list[ConfluencePage]:
        """Every page of `spaces` the desk may read; a refused space is left out."""
        found: list[ConfluencePage] = []
        for space in spaces:
            try:
                found += await self.space_pages(space)
            except _SpaceRefused as refused:
                log.warning("confluence_space_skipped", space=space, status=refused.status)
        return found

    async def space_pages(self, space: str) -> list[ConfluencePage]:
        params: dict[str, str] | None = {
            "cql": f'space = "{_quoted(space)}" and type = page',
            "expand": "body.storage,version,space",
            "limit": str(PAGE_LIMIT),
        }
        url = self.base_url + SEARCH
        found: list[ConfluencePage] = []
        for _ in range(MAX_PAGES):
            answer = await self._get(url, params, space)
            base = str(_links(answer).get("base") or self.base_url)
            for item in answer.get("results", []):
                page = _page(item, base, space)
                if page is not None:
                    found.append(page)
            following = _links(answer).get("next")
            if not following:
                return found
            url, params = self._next_url(str(following)), None
        log.warning("confluence_paging_stopped", space=space, pages=MAX_PAGES)
        return found

    def _next_url(self, following: str) -> str:
        if following.startswith(("http://", "https://")):
            if urlsplit(following)[:2] != self._origin:
                raise ConfluenceUnavailable("Confluence named a next page on another site")
            return following
        return self.base_url + following  # relative to the context path (/wiki)

    async def _get(self, url: str, params: dict[str, str] | None, space: str) -> dict[str, Any]:
        for attempt in range(RETRIES + 1):
            try:
                answer = await exchange(self._session, "GET", url, headers=self._headers(),
                                        limit=self._timeout, params=params,
                                        allow_redirects=False)  # fmt: skip
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise ConfluenceUnavailable(
                    f"Confluence cannot be reached ({type(exc).__name__})"
                ) from None
            status, retry_after, body = answer.status, answer.retry_after(), answer.body
            if status in {429, 503} and attempt < RETRIES:
                wait = min(retry_after if retry_after is not None else DEFAULT_WAIT, MAX_WAIT)
                log.info("confluence_throttled", status=status, wait=wait)
                await self._sleep(wait)
                continue
            if status == 401:
                raise ConfluenceRefused(
                    f"Confluence at {self.base_url} refuses the desk's sign-in (HTTP 401): "
                    "check ITDESK_CONFLUENCE_EMAIL and ITDESK_CONFLUENCE_API_TOKEN"
                )
            if status in {400, 403, 404}:  # this space: not readable by the desk, or unknown
                raise _SpaceRefused(status)
            if status >= 400 or not isinstance(body, dict):
                raise ConfluenceUnavailable(f"Confluence answered HTTP {status} for {space}")
            return body
        raise ConfluenceUnavailable("Confluence kept asking the desk to wait (429/503)")

    def _headers(self) -> dict[str, str]:
        pair = f"{self._email}:{self._token.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
                "Accept": "application/json"}  # fmt: skip


class _SpaceRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _quoted(space: str) -> str:
    return space.replace("\\", "\\\\").replace('"', '\\"')


def _links(answer: dict[str, Any]) -> dict[str, Any]:
    links = answer.get("_links")
    return links if isinstance(links, dict) else {}


def _page(item: object, base: str, space: str) -> ConfluencePage | None:
    """A search result as a page; one without an id, title or storage body is left out."""
    if not isinstance(item, dict) or item.get("type", "page") != "page":
        return None
    try:
        storage = item["body"]["storage"]["value"]
        number = int(item.get("version", {}).get("number", 0))
        page_space = str(item.get("space", {}).get("key") or space)
        webui = str(_links(item).get("webui") or "")
        return ConfluencePage(str(item["id"]), str(item["title"]), page_space, number,
                              str(storage), base.rstrip("/") + webui)  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("confluence_page_unreadable", page=str(item.get("id", "?")), space=space)
        return None
