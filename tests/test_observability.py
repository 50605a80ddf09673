"""Logs, metrics and health: correlation ids, secret redaction, Prometheus text, /healthz."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, SecretStr

from bot.observability import (
    MASK,
    Metrics,
    bind_correlation,
    configure_logging,
    current_correlation_id,
    health_routes,
    new_correlation_id,
    redact,
    redact_secrets,
)

METRIC_NAMES = {
    "itdesk_turns", "itdesk_cases", "itdesk_actions", "itdesk_turn_seconds",
    "itdesk_action_seconds", "itdesk_llm_calls", "itdesk_duplicates_dropped",
}  # fmt: skip


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """JSON logging into a buffer; the global logging set-up is restored afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    out = io.StringIO()
    configure_logging("INFO", "json", stream=out)
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


# -- metrics --------------------------------------------------------------------------------


def test_metrics_render_in_prometheus_text_format() -> None:
    metrics = Metrics()
    metrics.turns.labels(platform="slack", kind="message").inc()
    metrics.cases.labels(outcome="resolved").inc(2)
    metrics.actions.labels(skill="unlock_account", result="ok").inc()
    metrics.turn_seconds.observe(0.2)
    metrics.action_seconds.labels(skill="unlock_account").observe(0.05)
    metrics.llm_calls.labels(result="fallback").inc()
    metrics.duplicates.labels(platform="teams").inc()

    body, content_type = metrics.render()

    assert content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert set(families) >= METRIC_NAMES
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("itdesk_turns_total", (("kind", "message"), ("platform", "slack")))] == 1
    assert samples[("itdesk_cases_total", (("outcome", "resolved"),))] == 2
    assert samples[("itdesk_turn_seconds_count", ())] == 1
    bucket = ("itdesk_action_seconds_bucket", (("le", "0.05"), ("skill", "unlock_account")))
    assert samples[bucket] == 1
    assert samples[("itdesk_duplicates_dropped_total", (("platform", "teams"),))] == 1


def test_each_metrics_instance_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()  # the global registry would refuse the second
    a.llm_calls.labels(result="ok").inc()
    assert b"itdesk_llm_calls_total{" not in b.render()[0]
    assert b'itdesk_llm_calls_total{result="ok"} 1.0' in a.render()[0]


def test_metrics_negotiate_openmetrics() -> None:
    body, content_type = Metrics().render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


# -- http -----------------------------------------------------------------------------------


async def always(result: bool) -> bool:
    return result


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Callable[[], Awaitable[bool]], Metrics], Any]]:
    clients: list[TestClient[web.Request, web.Application]] = []

    async def start(
        ping: Callable[[], Awaitable[bool]], metrics: Metrics
    ) -> TestClient[web.Request, web.Application]:
        app = web.Application()
        app.add_routes(health_routes(metrics, ping, ping_timeout=0.2))
        client = TestClient(TestServer(app))  # an ephemeral port
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def test_healthz_reports_redis_up(serve: Any) -> None:
    client = await serve(lambda: always(True), Metrics())
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "redis": "ok"}
    assert resp.headers["Cache-Control"] == "no-store"


async def failing_ping() -> bool:
    raise ConnectionError("redis refused")


async def hanging_ping() -> bool:
    await asyncio.Event().wait()
    return True


@pytest.mark.parametrize(
    "ping", [lambda: always(False), failing_ping, hanging_ping], ids=["false", "raises", "hangs"]
)
async def test_healthz_reports_redis_down(serve: Any, ping: Callable[[], Awaitable[bool]]) -> None:
    client = await serve(ping, Metrics())
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert (await resp.json())["redis"] == "down"


async def test_healthz_pings_the_real_redis(serve: Any, redis: Any) -> None:
    client = await serve(redis.ping, Metrics())
    assert (await client.get("/healthz")).status == 200


async def test_metrics_endpoint_serves_the_registry(serve: Any) -> None:
    metrics = Metrics()
    metrics.turns.labels(platform="web", kind="message").inc(3)
    client = await serve(lambda: always(True), metrics)
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    assert 'itdesk_turns_total{kind="message",platform="web"} 3.0' in text
    assert {f.name for f in text_string_to_metric_families(text)} >= METRIC_NAMES


# -- redaction ------------------------------------------------------------------------------


class Login(BaseModel):
    user: str
    password: SecretStr
    note: str


def test_redaction_masks_secret_keys_values_and_token_shapes() -> None:
    event = {
        "event": "reset for xoxb-1234567890-abcdef",
        "password": "hunter2",
        "otp_code": "123456",
        "clientSecret": "s",
        "Authorization": "Bearer abc.def.ghi",
        "api-key": "k",
        "refresh_token": "r",
        "status_code": 200,
        "input_tokens": 42,
        "user": "alice",
        "anthropic": SecretStr("sk-ant-whatever"),
        "nested": {"headers": {"Cookie": "c=1"}, "items": [{"code": "9"}, "ok"]},
        "login": Login(user="bob", password=SecretStr("pw"), note="see https://x/cb?code=77"),
        "url": "https://idp/cb?state=s&code=secretcode&token=abc",
    }
    out = redact_secrets(None, "info", event)

    for key in (
        "password",
        "otp_code",
        "clientSecret",
        "Authorization",
        "api-key",
        "refresh_token",
        "anthropic",
    ):
        assert out[key] == MASK, key
    assert out["event"] == f"reset for {MASK}"
    assert (out["status_code"], out["input_tokens"], out["user"]) == (200, 42, "alice")
    assert out["nested"] == {"headers": {"Cookie": MASK}, "items": [{"code": MASK}, "ok"]}
    assert out["login"] == {
        "user": "bob",
        "password": MASK,
        "note": f"see https://x/cb?code={MASK}",
    }
    assert out["url"] == f"https://idp/cb?state=s&code={MASK}&token={MASK}"
    assert event["password"] == "hunter2"  # the caller's objects are left alone


def test_redact_leaves_ordinary_values_alone() -> None:
    value = {"group": "vpn-users", "count": 3, "tags": ("a", "b"), "when": None}
    assert redact(value) == {"group": "vpn-users", "count": 3, "tags": ["a", "b"], "when": None}


def test_secrets_never_reach_a_log_line(log_output: io.StringIO) -> None:
    log = structlog.get_logger("itdesk.test")
    log.info("step_up.sent", code="482913", person="alice", token=SecretStr("t0ken"))
    logging.getLogger("aiohttp.access").info("GET /cb?code=%s", "482913")
    try:
        raise RuntimeError("upstream said Bearer eyJhbGciOiJIUzI1NiJ9")
    except RuntimeError:
        log.exception("skill.failed", password="hunter2")

    text = log_output.getvalue()
    for secret in ("482913", "t0ken", "hunter2", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in text
    first, access, failed = lines(log_output)
    assert (first["code"], first["token"], first["person"]) == (MASK, MASK, "alice")
    assert access["event"] == f"GET /cb?code={MASK}"
    assert "RuntimeError" in failed["exception"]


# -- correlation ----------------------------------------------------------------------------


def test_json_log_lines_carry_the_correlation_id(log_output: io.StringIO) -> None:
    log = structlog.get_logger("itdesk.desk")
    log.info("before")
    with bind_correlation("turn-1") as cid:
        assert cid == current_correlation_id() == "turn-1"
        log.info("turn.start", platform="slack")
        logging.getLogger("redis").warning("slow reply")
    log.info("after")

    before, start, foreign, after = lines(log_output)
    assert "correlation_id" not in before
    assert "correlation_id" not in after
    assert start["correlation_id"] == foreign["correlation_id"] == "turn-1"
    assert (start["event"], start["level"], start["logger"]) == (
        "turn.start",
        "info",
        "itdesk.desk",
    )
    assert start["timestamp"].endswith("Z")
    assert current_correlation_id() is None


async def test_concurrent_turns_keep_their_own_correlation_ids(log_output: io.StringIO) -> None:
    log = structlog.get_logger("itdesk.desk")
    both_inside = asyncio.Barrier(2)

    async def turn(name: str) -> None:
        with bind_correlation() as cid:
            await both_inside.wait()  # the two turns interleave here
            log.info("turn", name=name, cid=cid)

    await asyncio.gather(turn("a"), turn("b"))
    records = lines(log_output)
    assert len(records) == 2
    assert all(r["correlation_id"] == r["cid"] for r in records)
    assert records[0]["correlation_id"] != records[1]["correlation_id"]


def test_new_correlation_ids_are_distinct() -> None:
    assert len({new_correlation_id() for _ in range(100)}) == 100


def test_log_level_filters_and_console_format_renders(log_output: io.StringIO) -> None:
    log = structlog.get_logger("itdesk.test")
    log.debug("hidden")
    assert log_output.getvalue() == ""

    out = io.StringIO()
    configure_logging("DEBUG", "console", stream=out)
    assert len([h for h in logging.getLogger().handlers if h.get_name() == "itdesk"]) == 1
    log.debug("shown", password="hunter2")
    assert "shown" in out.getvalue()
    assert "hunter2" not in out.getvalue()
    assert log_output.getvalue() == ""  # the earlier handler was replaced, not kept
