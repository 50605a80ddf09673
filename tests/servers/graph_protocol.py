"""How the fake Graph speaks: Graph's error bodies, collections filtered (`$filter`, with
the advanced queries Graph requires `ConsistencyLevel: eventual` and `$count` for), selected
(`$select`) and paged by `@odata.nextLink`, and every call's guard: a valid token, the
test's switches (an answer asked for, throttling, a lost answer), the permission the call
needs, and the record of the exchange for the spec check."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from servers.odata import parse_filter

if TYPE_CHECKING:
    from servers.graph import FakeGraph

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.Response]]
ADVANCED = ("onPremisesSamAccountName", "otherMails/any")
DENIED = "Insufficient privileges to complete the operation."


@dataclass
class Exchange:
    """One Graph call and its answer, for the spec check."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    answer: Any


class GraphAnswer(Exception):
    """An error answer in Graph's own shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what: str) -> GraphAnswer:
    return GraphAnswer(404, "Request_ResourceNotFound",
                       f"Resource '{what}' does not exist or one of its queried reference-"
                       "property objects are not present.")  # fmt: skip


def select(item: Json, fields: str | None, typed: str | None) -> Json:
    chosen = dict(item) if not fields else {
        k: item.get(k) for k in ["id", *fields.split(",")] if k in item}  # fmt: skip
    return {"@odata.type": typed, **chosen} if typed else chosen


def page(fake: FakeGraph, request: web.Request, items: list[Json], typed: str | None = None
         ) -> Json:  # fmt: skip
    """One page of the collection, filtered and selected as the query asks."""
    query = request.query
    if "$filter" in query:
        if any(a in query["$filter"] for a in ADVANCED) and not (
            request.headers.get("ConsistencyLevel") == "eventual" and query.get("$count") == "true"
        ):
            raise GraphAnswer(
                400,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified for "
                "property. Use ConsistencyLevel eventual and $count=true.",
            )
        try:
            wanted = parse_filter(query["$filter"])
        except ValueError as exc:
            raise GraphAnswer(400, "Request_UnsupportedQuery", str(exc)) from None
        items = [i for i in items if wanted(i)]
    start, size = int(query.get("$skiptoken", "0")), fake.page_size
    chunk = [select(i, query.get("$select"), typed) for i in items[start : start + size]]
    body: Json = {"@odata.context": f"{fake.url}/v1.0/$metadata", "value": chunk}
    if start + size < len(items):
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        rest["$skiptoken"] = str(start + size)
        body["@odata.nextLink"] = f"{fake.url}{request.path}?{urlencode(rest)}"
    return body  # fmt: skip


def guard(fake: FakeGraph, *allowed: str) -> Callable[[Handler], Handler]:
    """The handler behind the checks every Graph call passes, answering Graph's errors."""

    def wrap(handler: Handler) -> Handler:
        async def answer(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else None
            try:
                response = await _checked(fake, request, handler, allowed)
            except GraphAnswer as exc:
                error = {"error": {"code": exc.code, "message": exc.message,
                                   "innerError": {"request-id": "fake"}}}  # fmt: skip
                response = web.json_response(error, status=exc.status)
            answer_body = json.loads(response.text) if response.text else None
            fake.exchanges.append(Exchange(request.method, request.path, dict(request.query),
                                           dict(request.headers), body, response.status,
                                           answer_body))  # fmt: skip
            if fake.lose_next == request.method:
                fake.lose_next = None
                if request.transport is not None:
                    request.transport.abort()  # the change is made; the answer is lost
            return response

        return answer

    return wrap


async def _checked(fake: FakeGraph, request: web.Request, handler: Handler,
                   allowed: tuple[str, ...]) -> web.Response:  # fmt: skip
    granted = fake.granted(request)
    if granted is None:
        raise GraphAnswer(401, "InvalidAuthenticationToken", "Access token validation failure.")
    if fake.answer_next is not None and fake.answer_next[0] == request.method:
        status, fake.answer_next = fake.answer_next[1], None
        raise GraphAnswer(status, "UnknownError" if status >= 500 else "Request_BadRequest",
                          "The service answered as the test asked.")  # fmt: skip
    if fake.throttled:
        fake.throttled -= 1
        error = {"error": {"code": "TooManyRequests", "message": "Too many requests."}}
        return web.json_response(error, status=429, headers={"Retry-After": fake.retry_after})
    if not granted & set(allowed):
        raise GraphAnswer(403, "Authorization_RequestDenied", DENIED)
    return await handler(request)
