"""A local server that speaks the Anthropic Messages API, for tests and benches.

`POST /v1/messages` answers with real-shaped JSON: a `tool_use` content block, `stop_reason`
`tool_use`, and `usage` with `cache_creation_input_tokens` / `cache_read_input_tokens`. It is
scriptable: each queued `Answer` is used for one request (a tool call, a text, an HTTP error
with `retry-after` or `retry-after-ms`, a hang past the client's timeout, a malformed body);
when the queue is empty a `responder` function decides. Every request is recorded as
`Received`, so a test can assert on exactly what left the desk.

Tokens are counted as the local server sees them, four characters a token; the cached prefix
is the tools and system blocks up to the last `cache_control` breakpoint, written on first
sight and read afterwards (the real API also has a minimum cacheable length; this has none).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from .local import serve_locally

__all__ = [
    "Answer",
    "Failure",
    "FakeMessagesAPI",
    "Hang",
    "Raw",
    "Received",
    "Text",
    "ToolUse",
]

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class ToolUse:
    """Answer with one `tool_use` block."""

    input: dict[str, Any]
    name: str = "understand_request"


@dataclass(frozen=True)
class Text:
    """Answer with a text block and no tool call."""

    text: str


@dataclass(frozen=True)
class Failure:
    """Answer with an API error: 429 `rate_limit_error`, 529 `overloaded_error`, 500..."""

    status: int
    error_type: str = "api_error"
    message: str = "error"
    retry_after: float | None = None
    retry_after_ms: float | None = None


@dataclass(frozen=True)
class Hang:
    """Answer only after `seconds` (or when the server closes), long past a client timeout."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Raw:
    """Answer with this body as it is (malformed responses)."""

    body: str
    status: int = 200


Answer = ToolUse | Text | Failure | Hang | Raw


@dataclass
class Received:
    """One request as the server received it."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def system_text(self) -> str:
        system = self.body.get("system", "")
        if isinstance(system, str):
            return system
        return "\n".join(block.get("text", "") for block in system)

    @property
    def user_text(self) -> str:
        parts = []
        for message in self.body.get("messages", []):
            content = message.get("content", "")
            if isinstance(content, str):
                parts.append(content)
            else:
                parts.extend(block.get("text", "") for block in content)
        return "\n".join(parts)

    @property
    def tool_names(self) -> list[str]:
        return [tool["name"] for tool in self.body.get("tools", [])]

    @property
    def forced_tool(self) -> str | None:
        choice = self.body.get("tool_choice") or {}
        return choice.get("name") if choice.get("type") == "tool" else None

    @property
    def raw(self) -> str:
        """The whole request, headers aside, as the server read it."""
        return json.dumps(self.body, ensure_ascii=False)


Responder = Callable[[Received], Answer]


def _default_responder(received: Received) -> Answer:
    return Text("No scripted answer.")


@dataclass
class FakeMessagesAPI:
    """The fake API on an ephemeral port of 127.0.0.1; `async with` starts and stops it."""

    responder: Responder = _default_responder
    received: list[Received] = field(default_factory=list)
    base_url: str = ""
    _script: deque[Answer] = field(default_factory=deque)
    _cached: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _runner: web.AppRunner | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, *answers: Answer) -> None:
        """Queue answers, one a request, before the responder takes over."""
        self._script.extend(answers)

    @property
    def calls(self) -> int:
        return len(self.received)

    async def __aenter__(self) -> FakeMessagesAPI:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner, self.base_url = await serve_locally(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get("x-api-key") or request.headers.get("authorization")
        if not key or not request.headers.get("anthropic-version"):
            return _error(401, "authentication_error", "missing credentials or anthropic-version")
        received = Received(await request.json(), dict(request.headers))
        self.received.append(received)
        answer = self._script.popleft() if self._script else self.responder(received)
        if isinstance(answer, Hang):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), answer.seconds)
            return _error(504, "timeout_error", "hung")
        if isinstance(answer, Failure):
            headers = {"retry-after": str(answer.retry_after)} if answer.retry_after else {}
            if answer.retry_after_ms:
                headers["retry-after-ms"] = str(answer.retry_after_ms)
            return _error(answer.status, answer.error_type, answer.message, headers)
        if isinstance(answer, Raw):
            return web.Response(
                status=answer.status, text=answer.body, content_type="application/json"
            )
        return web.json_response(self._message(received, answer))

    def _message(self, received: Received, answer: ToolUse | Text) -> dict[str, Any]:
        n = next(self._ids)
        if isinstance(answer, ToolUse):
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": f"toolu_{n:024d}",
                "name": answer.name,
                "input": answer.input,
            }
            stop, produced = "tool_use", json.dumps(answer.input)
        else:
            block = {"type": "text", "text": answer.text}
            stop, produced = "end_turn", answer.text
        return {
            "id": f"msg_{n:024d}",
            "type": "message",
            "role": "assistant",
            "model": received.body.get("model", "claude-test"),
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self._usage(received.body, produced),
        }

    def _usage(self, body: dict[str, Any], produced: str) -> dict[str, Any]:
        prefix, rest = _split_at_breakpoint(body)
        prefix_tokens = _tokens(prefix)
        key = hashlib.sha256(prefix.encode()).hexdigest()
        written = read = 0
        if prefix:
            if key in self._cached:
                read = prefix_tokens
            else:
                written = prefix_tokens
                self._cached.add(key)
        return {
            "input_tokens": _tokens(rest),
            "output_tokens": _tokens(produced),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }


def _split_at_breakpoint(body: dict[str, Any]) -> tuple[str, str]:
    """(cached prefix, the rest) of a request, in the API's order: tools, system, messages."""
    system = body.get("system") or []
    blocks = [("tool", t) for t in body.get("tools", [])]
    blocks += [("system", {"type": "text", "text": system} if isinstance(system, str) else b)
               for b in ([system] if isinstance(system, str) else system)]  # fmt: skip
    last = max((i for i, (_, b) in enumerate(blocks) if b.get("cache_control")), default=-1)
    prefix = "".join(json.dumps(b, sort_keys=True) for _, b in blocks[: last + 1])
    rest = "".join(json.dumps(b, sort_keys=True) for _, b in blocks[last + 1 :])
    return prefix, rest + json.dumps(body.get("messages", []), sort_keys=True)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.json_response(body, status=status, headers=headers)
