"""A small Microsoft Graph client over aiohttp: a bearer token from a `TokenSource` on every
call (a 401 drops it and the call is tried once more with a fresh one), throttling honoured
(429 and 503 with `Retry-After`, waited out through the injected `sleep`, a bounded number of
times), collections read page by page through `@odata.nextLink`, and Graph's error bodies
(`error.code`, `error.message`) turned into the desk's errors. A write whose answer is lost
(a timeout, a dropped connection, a gateway that timed out) is `OutcomeUnknown`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from adapters.entra.permissions import permission_for
from adapters.http.exchange import exchange
from adapters.http.tokens import TokenSource
from bot.ports import NotFoundError, OutcomeUnknown

Json = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]

THROTTLE_RETRIES = 3  # waits for a throttled call before it gives up
LONGEST_WAIT = 30.0  # seconds: a longer Retry-After is not waited out
DEFAULT_WAIT = 2.0  # seconds, when a throttling answer names no Retry-After
READS = frozenset({"GET"})
# A gateway that gave up on the call cannot say whether Graph made the change.
LOST = frozenset({502, 504})


class GraphError(Exception):
    """Graph refused a call: its HTTP status and its error code and message (Graph's words,
    which name no secret)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Microsoft Graph answered HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class PermissionMissing(GraphError):
    """The app registration lacks the permission a call needs: an operator grants it (and
    an administrator consents) in the Entra admin centre."""

    def __init__(
        self, status: int, code: str, message: str, method: str, path: str, body: object = None
    ) -> None:
        super().__init__(status, code, message)
        self.permission = permission_for(method, path, body)
        self.args = (
            f"Microsoft Graph refused {method} {_shape(path)} ({code}): the app registration "
            f"needs the application permission {self.permission}, with admin consent",
        )


class Throttled(GraphError):
    """Graph kept throttling the call (or asked for a longer wait than the desk will hold a
    turn for): the desk tries again later."""


class GraphUnavailable(ConnectionError):
    """Graph could not be reached for a read (a timeout, a refused connection)."""


class Graph:
    """Calls to `{graph_url}/v1.0`, over `session` when one is given (the caller closes it),
    else each over a session of its own."""

    def __init__(
        self,
        graph_url: str,
        tokens: TokenSource,
        *,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.root = graph_url.rstrip("/") + "/v1.0"
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._session = session

    def __repr__(self) -> str:
        return f"Graph({self.root!r})"

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, *, eventual: bool = False
    ) -> Json:
        """One object (or one page of a collection). `eventual`: an advanced query, asked
        with `ConsistencyLevel: eventual` as Graph requires for some filters."""
        headers = {"ConsistencyLevel": "eventual"} if eventual else {}
        body = await self.call("GET", path, params=params, headers=headers)
        return body or {}

    async def items(
        self, path: str, params: Mapping[str, str] | None = None, *, eventual: bool = False
    ) -> AsyncIterator[Json]:
        """Every item of a collection, following `@odata.nextLink` page after page."""
        page = await self.get(path, params, eventual=eventual)
        while True:
            for item in page.get("value", []):
                if isinstance(item, dict):
                    yield item
            link = page.get("@odata.nextLink")
            if not isinstance(link, str) or not link:
                return
            page = await self.get(link, eventual=eventual)

    async def all(
        self, path: str, params: Mapping[str, str] | None = None, *, eventual: bool = False
    ) -> list[Json]:
        return [item async for item in self.items(path, params, eventual=eventual)]

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Json | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json | None:
        """One call, its JSON answer (None for 204 No Content). `path` is under `/v1.0`, or
        a whole `@odata.nextLink`."""
        url = path if path.startswith(("http://", "https://")) else self.root + path
        refreshed, waits = False, 0
        while True:
            status, body, retry_after = await self._send(method, url, params, json, headers)
            if status == 401 and not refreshed:
                self._tokens.forget()  # the token was revoked or rotated: fetch another
                refreshed = True
                continue
            if status in {429, 503} and waits < THROTTLE_RETRIES:
                wait = retry_after if retry_after is not None else DEFAULT_WAIT
                if wait <= LONGEST_WAIT:
                    waits += 1
                    await self._sleep(wait)
                    continue
            if status < 400:
                return body if isinstance(body, dict) else None
            raise _error(status, body, method, path, json)

    async def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Json | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[int, Any, float | None]:
        token = await self._tokens.token()
        sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
        try:
            answer = await exchange(self._session, method, url, headers=sent,
                                    limit=self._timeout, params=params, json=json)  # fmt: skip
        except (TimeoutError, aiohttp.ClientError) as exc:
            what = f"{method} {_shape(url)} ({type(exc).__name__})"
            if method in READS:
                raise GraphUnavailable(f"Microsoft Graph did not answer {what}") from None
            if isinstance(exc, aiohttp.ClientConnectorError):  # never sent: nothing changed
                raise GraphUnavailable(f"Microsoft Graph cannot be reached for {what}") from None
            raise OutcomeUnknown(f"the answer to {what} was lost") from None
        if method not in READS and answer.status in LOST:
            what = f"{method} {_shape(url)} (HTTP {answer.status})"
            raise OutcomeUnknown(f"Microsoft Graph's gateway gave up on {what}")
        # a body that is not JSON (a proxy's error page) is judged by the status alone
        return answer.status, answer.body, answer.retry_after()


def _error(status: int, body: Any, method: str, path: str, sent: Json | None) -> Exception:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = str(error.get("code") or f"HTTP{status}")
    message = str(error.get("message") or "no message")
    if code in {"Request_ResourceNotFound", "ResourceNotFound", "itemNotFound"} or (
        status == 404 and code.startswith("HTTP")
    ):
        return NotFoundError("graph object", _shape(path))
    denied = status == 403 and code == "Forbidden" and "permission" in message.lower()
    if code == "Authorization_RequestDenied" or denied:
        return PermissionMissing(status, code, message, method, path, sent)
    if status in {429, 503}:
        return Throttled(status, code, message)
    return GraphError(status, code, message)


def _shape(path: str) -> str:
    """A path for messages and logs: without its query (which may hold an address)."""
    return path.split("?", 1)[0]
