"""The web chat's request bodies, read strictly: a JSON object from this site only, checked
against its model, or an `ApiError` with a status and a message for the page."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from redis.exceptions import RedisError

from bot import texts

log = structlog.get_logger("itdesk.web")

MAX_TEXT = 4000
ID = r"[A-Za-z0-9_.:-]{1,100}"
EventId = Annotated[str, StringConstraints(pattern=f"^{ID}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=100)]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_Body):
    """A message typed into the chat (or into an on-call thread's reply box)."""

    text: Text
    id: EventId | None = Field(default=None, description="client event id, for retries")


class ClickIn(_Body):
    """A card button pressed, in the person's DM or (with `thread`) in an on-call thread."""

    action: Token
    ref: Token
    thread: EventId | None = None
    id: EventId | None = None


class ApiError(Exception):
    """A request the web chat refuses, with the status and a message for the page."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra

    def response(self) -> web.Response:
        body = {"error": self.error, "message": self.message, **self.extra}
        return web.json_response(body, status=self.status)


B = TypeVar("B", bound=_Body)


async def read_body(request: web.Request, model: type[B]) -> B:
    # A JSON content type forces a CORS preflight, which nothing answers, so another site open
    # in the same browser cannot post here; a foreign Origin is refused outright.
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise ApiError(403, "forbidden_origin", "Requests from other sites are refused.")
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "body", "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        raise ApiError(400, "invalid_request", summary, problems=problems) from None


def guard(handler: Handler) -> Handler:
    """Turn an `ApiError` raised by a handler into its JSON response, and the desk's store
    being out of reach into a plain 503 the page shows ("try again shortly"), never a bare
    500. (Not a middleware: the routes of other adapters on the same app stay untouched.)"""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except RedisError as exc:
            log.warning("web.store_unreachable", error=str(exc))
            unavailable = ApiError(503, "unavailable", texts.say("inbox.unavailable"))
            return unavailable.response()

    return guarded
