"""A stateful fake Confluence Cloud site for the tests: aiohttp.web on 127.0.0.1 at an
ephemeral port in its own thread (`servers.threaded`), answering the REST API's content
search (`GET /wiki/rest/api/content/search`) as Atlassian documents it.

It holds spaces and pages (storage body, version); understands the CQL the desk sends
(`space = K`, `space in (A, B)`, `type = page`, joined by `and`; anything else is a 400 as
Confluence answers it); pages its answers with a cursor in `_links.next`, `page_size` at a
time; checks basic auth (401 with Atlassian's body). For the tests: `refuse_space` (403 for
a space), `throttle` (429 or 503 with Retry-After), `break_page` (a body that is not
well-formed), `stall` (answers that come late), `links_to` (next links on another site) and
`exchanges`, every call as it went."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from servers.threaded import ThreadedApp

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
SEARCH = "/wiki/rest/api/content/search"
MAX_LIMIT = 25  # with bodies expanded Confluence returns fewer than asked, and says so
_CLAUSE = re.compile(
    r'^\s*(?:(space)\s*=\s*"?([\w~-]+)"?|(space)\s+in\s*\(([^)]*)\)|(type)\s*=\s*"?(\w+)"?)\s*$',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Exchange:
    """One call the fake answered, as it went over the wire."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int
    content_type: str
    answer: bytes
    answer_headers: dict[str, str]


@dataclass
class Page:
    id: str
    space: str
    title: str
    storage: str
    version: int
    when: datetime


@dataclass
class FakeConfluence:
    """The fake site; `start` it (or use `running_confluence`), `stop` it after. `url` is
    the base the desk is configured with (…/wiki)."""

    email: str = "desk@example.test"
    api_token: str = "atl-token-123"
    page_size: int = 2
    spaces: dict[str, str] = field(default_factory=dict)  # key -> name
    pages: dict[str, Page] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    exchanges: list[Exchange] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    throttled: list[tuple[int, str]] = field(default_factory=list)  # (status, Retry-After)
    stall: float = 0.0  # seconds every answer is held back (past the caller's timeout)
    links_to: str | None = None  # the site its next links name, when not itself
    _server: ThreadedApp | None = None
    _ids: int = 65000
    _now: datetime = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url + "/wiki"

    # --- what tests do ----------------------------------------------------------------------

    def add_space(self, key: str, name: str) -> None:
        with self.lock:
            self.spaces[key] = name

    def add_page(self, space: str, title: str, storage: str) -> str:
        with self.lock:
            self._ids += 1
            self._now += timedelta(minutes=1)
            page = Page(str(self._ids), space, title, storage, 1, self._now)
            self.pages[page.id] = page
            return page.id

    def edit_page(self, page_id: str, storage: str, title: str | None = None) -> None:
        with self.lock:
            page = self.pages[page_id]
            self._now += timedelta(minutes=1)
            page.storage, page.version, page.when = storage, page.version + 1, self._now
            page.title = title or page.title

    def break_page(self, page_id: str) -> None:
        """The page's body cut in half, as a bad edit or a truncated import leaves it."""
        with self.lock:
            page = self.pages[page_id]
            page.storage = "<p>Half a page <strong>" + page.storage[: len(page.storage) // 2]

    def refuse_space(self, key: str) -> None:
        with self.lock:
            self.refused.add(key)

    def throttle(self, calls: int, *, status: int = 429, retry_after: str = "2") -> None:
        with self.lock:
            self.throttled += [(status, retry_after)] * calls

    def web_url(self, page_id: str) -> str:
        page = self.pages[page_id]
        return f"{self.url}/spaces/{page.space}/pages/{page.id}/{page.title.replace(' ', '+')}"

    # --- the server -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._recorded, self._signed_in, self._throttling])
        app.router.add_get(SEARCH, self._search)
        return app

    @web.middleware
    async def _recorded(self, request: web.Request, handler: Next) -> web.StreamResponse:
        response = await handler(request)
        answer = response.body if isinstance(response, web.Response) else b""
        exchange = Exchange(
            request.method, request.path, dict(request.query), dict(request.headers),
            response.status, response.content_type if answer else "",
            bytes(answer) if isinstance(answer, bytes | bytearray) else b"",
            dict(response.headers),
        )  # fmt: skip
        with self.lock:
            self.exchanges.append(exchange)
        return response

    @web.middleware
    async def _signed_in(self, request: web.Request, handler: Next) -> web.StreamResponse:
        expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        if request.headers.get("Authorization", "") != f"Basic {expected}":
            return web.json_response(
                _error(401, "Current user not permitted to use Confluence"), status=401,
                headers={"WWW-Authenticate": 'Basic realm="Protected"'},
            )  # fmt: skip
        return await handler(request)

    @web.middleware
    async def _throttling(self, request: web.Request, handler: Next) -> web.StreamResponse:
        with self.lock:
            refusal = self.throttled.pop(0) if self.throttled else None
        if refusal is not None:
            status, retry_after = refusal
            return web.json_response(_error(status, "Rate limit exceeded"), status=status,
                                     headers={"Retry-After": retry_after})  # fmt: skip
        return await handler(request)

    async def _search(self, request: web.Request) -> web.Response:
        if self.stall > 0:
            await asyncio.sleep(self.stall)
        cql = request.query.get("cql", "")
        try:
            spaces = _parse(cql)
        except ValueError:
            return web.json_response(_error(400, f"Could not parse cql : {cql}"), status=400)
        with self.lock:
            if spaces & self.refused:
                return web.json_response(_error(403, "Not permitted to view the space"),
                                         status=403)  # fmt: skip
            found = sorted(
                (p for p in self.pages.values() if p.space in spaces), key=lambda p: int(p.id)
            )
            limit = min(int(request.query.get("limit", "25")), self.page_size, MAX_LIMIT)
            start = _cursor_offset(request.query.get("cursor"))
            chosen = found[start : start + limit]
            expand = set(request.query.get("expand", "").split(","))
            results = [self._content(p, expand) for p in chosen]
        links = {"base": self.url, "context": "/wiki",
                 "self": f"{self.url}/rest/api/content/search"}  # fmt: skip
        if start + limit < len(found):
            query = {"cql": cql, "limit": str(limit), "cursor": _cursor(start + limit)}
            if request.query.get("expand"):
                query["expand"] = request.query["expand"]
            following = "/rest/api/content/search?" + urlencode(query)
            links["next"] = following if self.links_to is None else self.links_to + following
        answer = {"results": results, "start": start, "limit": limit, "size": len(results),
                  "_links": links}  # fmt: skip
        return web.json_response(answer)

    def _content(self, page: Page, expand: set[str]) -> dict[str, Any]:
        webui = f"/spaces/{page.space}/pages/{page.id}/{page.title.replace(' ', '+')}"
        item: dict[str, Any] = {
            "id": page.id, "type": "page", "status": "current", "title": page.title,
            "_expandable": {"children": f"/rest/api/content/{page.id}/child"},
            "_links": {"webui": webui, "self": f"{self.url}/rest/api/content/{page.id}",
                       "tinyui": f"/x/{page.id}"},
        }  # fmt: skip
        if "body.storage" in expand:
            item["body"] = {"storage": {"value": page.storage, "representation": "storage",
                                        "embeddedContent": [], "_expandable": {}}}  # fmt: skip
        if "version" in expand:
            item["version"] = {"number": page.version, "minorEdit": False,
                               "when": page.when.isoformat().replace("+00:00", "Z")}  # fmt: skip
        if "space" in expand:
            item["space"] = {"id": abs(hash(page.space)) % 10**6, "key": page.space,
                             "name": self.spaces.get(page.space, page.space), "type": "global",
                             "status": "current", "_expandable": {},
                             "_links": {"webui": f"/spaces/{page.space}"}}  # fmt: skip
        return item

    def start(self) -> FakeConfluence:
        self._server = ThreadedApp(self.app())
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def _parse(cql: str) -> set[str]:
    """The spaces a query names; ValueError past the subset the fake knows."""
    spaces: set[str] = set()
    for clause in re.split(r"\s+and\s+", cql.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m is None:
            raise ValueError(clause)
        if m.group(1):
            spaces.add(m.group(2))
        elif m.group(3):
            spaces |= {k.strip().strip('"') for k in m.group(4).split(",") if k.strip()}
        elif m.group(6).lower() != "page":
            raise ValueError(clause)  # the fake holds pages only
    if not spaces:
        raise ValueError(cql)
    return spaces


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _cursor_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    padded = cursor + "=" * (-len(cursor) % 4)
    return int(base64.urlsafe_b64decode(padded).decode().partition(":")[2])


def _error(status: int, message: str) -> dict[str, Any]:
    """Confluence's error body."""
    return {"statusCode": status, "message": message,
            "data": {"authorized": status not in {401, 403}, "valid": True, "errors": [],
                     "successful": False}}  # fmt: skip


@contextmanager
def running_confluence(**options: Any) -> Iterator[FakeConfluence]:
    fake = FakeConfluence(**options).start()
    try:
        yield fake
    finally:
        fake.stop()
