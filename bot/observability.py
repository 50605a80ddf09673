"""What operators see of a running desk: structured logs, metrics, and health.

Logs are structlog events rendered as JSON lines (or for a console), each carrying the
correlation id of the turn it belongs to; stdlib loggers (aiohttp, redis) go through the same
chain. Before anything is rendered, secrets are masked: a key that names a secret, a
`SecretStr` value, or a string shaped like a known token. Metrics live in a registry owned by
a `Metrics` instance, served on `/metrics` beside `/healthz`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TextIO

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel, SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

MASK = "***"
_HANDLER_NAME = "itdesk"

# -- correlation ----------------------------------------------------------------------------

# A ContextVar has to live at module level to be shared by every task; it holds no state until
# a turn binds one, and each task sees only its own turn's id.
_correlation_id: ContextVar[str | None] = ContextVar("itdesk_correlation_id", default=None)


def new_correlation_id() -> str:
    """A fresh id for one turn (and everything done on its behalf)."""
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    """The id bound by the innermost `bind_correlation` of this task, if any."""
    return _correlation_id.get()


@contextmanager
def bind_correlation(cid: str | None = None) -> Iterator[str]:
    """Tag every log line inside the block with `cid` (a fresh id if none is given)."""
    cid = cid or new_correlation_id()
    token = _correlation_id.set(cid)
    try:
        yield cid
    finally:
        _correlation_id.reset(token)


def add_correlation_id(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: stamp the event with the current turn's correlation id."""
    cid = _correlation_id.get()
    if cid is not None:
        event_dict.setdefault("correlation_id", cid)
    return event_dict


# -- redaction ------------------------------------------------------------------------------

_SECRET_WORDS = frozenset(
    {"password", "passwd", "passphrase", "pwd", "token", "secret", "code", "otp", "pin",
     "authorization", "cookie", "credential", "credentials", "apikey"}
)  # fmt: skip
_SECRET_JOINED = ("apikey", "privatekey", "accesskey", "secretkey", "clientsecret")
# Names that contain a secret word but are known to hold nothing secret.
_NOT_SECRET = frozenset({"status_code", "exit_code", "error_code"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Token shapes worth catching even where no key gives them away (a message, an error text).
_TOKEN_SHAPES = re.compile(
    r"(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\bxox[abeoprs]-[A-Za-z0-9-]{8,}"
    r"|\bxapp-[A-Za-z0-9-]{8,}"
    r"|\bsk-ant-[A-Za-z0-9_-]{8,}"
)
# `password=...` inside a string (a logged URL's query, a library's error message).
_ASSIGNED = re.compile(
    r"(?i)\b((?:access_|refresh_|id_)?token|password|passwd|secret|client_secret|code|otp"
    r"|api[_-]?key)=[^&\s\"',;]+"
)
_MAX_DEPTH = 8


def is_secret_key(key: str) -> bool:
    """Whether a field name says its value is a secret (`password`, `otpCode`, `api-key`)."""
    words = [w.lower() for w in _WORD.findall(key)]
    joined = "".join(words)
    if "_".join(words) in _NOT_SECRET:
        return False
    return any(w in _SECRET_WORDS for w in words) or any(j in joined for j in _SECRET_JOINED)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with secrets masked, looking into mappings, sequences and models."""
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, str):
        return _ASSIGNED.sub(rf"\1={MASK}", _TOKEN_SHAPES.sub(MASK, value))
    if _depth >= _MAX_DEPTH:
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()  # SecretStr fields stay SecretStr here, and are masked
    if isinstance(value, Mapping):
        return {
            k: MASK if isinstance(k, str) and is_secret_key(k) else redact(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    return value


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secrets never reach a log line."""
    return {
        key: MASK if key != "event" and is_secret_key(key) else redact(value)
        for key, value in event_dict.items()
    }


# -- logging --------------------------------------------------------------------------------


def configure_logging(
    level: str = "INFO",
    fmt: Literal["json", "console"] = "json",
    *,
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging through one chain to `stream` (stderr by default).

    Called once by the app at start-up; calling it again replaces the earlier set-up."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_correlation_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    out = stream if stream is not None else sys.stderr
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction, so token shapes in them are masked
            # (and no renderer gets to print local variables).
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    handler.setLevel(level.upper())  # libraries that set their own loggers to DEBUG stay quiet
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


# -- metrics --------------------------------------------------------------------------------

_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The desk's Prometheus metrics, in a registry of their own (tests and several desks in
    one process never share counters).

    Counters: `turns{platform,kind}`, `cases{outcome}`, `actions{skill,result}`,
    `llm_calls{result}`, `duplicates{platform}` (redeliveries dropped),
    `inbox{source,outcome}` (turns done or dead-lettered by the workers). Histograms:
    `turn_seconds`, `action_seconds{skill}`. Exported as `itdesk_<name>_total` and
    `itdesk_<name>`, with `itdesk_duplicates_dropped_total` for `duplicates`.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.turns = Counter(
            "itdesk_turns_total", "Turns handled, by chat platform and kind.",
            ["platform", "kind"], registry=r,
        )  # fmt: skip
        self.cases = Counter(
            "itdesk_cases_total", "Cases closed, by outcome.", ["outcome"], registry=r
        )
        self.actions = Counter(
            "itdesk_actions_total", "Skill actions run, by skill and result.",
            ["skill", "result"], registry=r,
        )  # fmt: skip
        self.turn_seconds = Histogram(
            "itdesk_turn_seconds", "Time to handle one turn.",
            buckets=_SECONDS_BUCKETS, registry=r,
        )  # fmt: skip
        self.action_seconds = Histogram(
            "itdesk_action_seconds", "Time to run one skill action.",
            ["skill"], buckets=_SECONDS_BUCKETS, registry=r,
        )  # fmt: skip
        self.llm_calls = Counter(
            "itdesk_llm_calls_total", "Calls to the language model, by result.",
            ["result"], registry=r,
        )  # fmt: skip
        self.llm_tokens = Counter(
            "itdesk_llm_tokens_total", "Tokens the language model read and wrote, by kind.",
            ["kind"], registry=r,
        )  # fmt: skip
        self.duplicates = Counter(
            "itdesk_duplicates_dropped_total", "Platform events dropped as redeliveries.",
            ["platform"], registry=r,
        )  # fmt: skip
        self.inbox = Counter(
            "itdesk_inbox_turns_total",
            "Inbound turns taken out of the inbox, by source and outcome (done, dead).",
            ["source", "outcome"], registry=r,
        )  # fmt: skip

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition body and its content type; `accept` (a scraper's Accept header)
        may ask for OpenMetrics, otherwise it is the Prometheus text format."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


# -- http -----------------------------------------------------------------------------------


def health_routes(
    metrics: Metrics, ping: Callable[[], Awaitable[bool]], *, ping_timeout: float = 2.0
) -> list[web.RouteDef]:
    """`GET /healthz` (is Redis answering?) and `GET /metrics` for the desk's aiohttp app."""
    log = structlog.get_logger("itdesk.health")

    async def healthz(request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(ping_timeout):
                up = bool(await ping())
        except Exception:
            log.warning("health.redis_ping_failed", exc_info=True)
            up = False
        body = {"status": "ok", "redis": "ok"} if up else {"status": "unavailable", "redis": "down"}
        headers = {"Cache-Control": "no-store"}
        return web.json_response(body, status=200 if up else 503, headers=headers)

    async def metrics_page(request: web.Request) -> web.Response:
        body, content_type = metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    return [web.get("/healthz", healthz), web.get("/metrics", metrics_page)]


def starting_routes() -> list[web.RouteDef]:
    """What a desk that is still starting answers on every path, `/healthz` included: 503
    and `{"status": "starting"}`, so that a probe (or anyone early) knows to come back."""

    async def starting(request: web.Request) -> web.Response:
        headers = {"Cache-Control": "no-store", "Retry-After": "1"}
        response = web.json_response({"status": "starting"}, status=503, headers=headers)
        response.force_close()  # the next request reaches the started desk on a new connection
        return response

    return [web.route("*", "/{tail:.*}", starting)]
