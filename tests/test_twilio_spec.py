"""The Verify client's requests and the fake Verify service's answers, held against the slice
of Twilio's OpenAPI description kept under `tests/servers/specs/twilio/` (openapi-core): a
run through every call the desk makes, each exchange as it went over the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from pydantic import SecretStr
from servers.twilio import ACCOUNT_SID, AUTH_TOKEN, SERVICE_SID, Exchange, TwilioPhone, TwilioServer
from test_twilio_verify import Contacts, Directory

from adapters.checks.twilio_api import VerifyApi
from adapters.checks.twilio_verify import TwilioVerifyChecks
from bot.clock import ManualClock
from bot.ports import CheckRequest
from bot.store import Store

SPEC = OpenAPI.from_path(Path(__file__).parent / "servers/specs/twilio/twilio_verify_v2.json")
HOST = "https://verify.twilio.com"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    server = TwilioServer(ManualClock(T0).now).start()
    try:
        yield server
    finally:
        server.stop()


def spec_request(exchange: Exchange) -> MockRequest:
    signed = {"Authorization": exchange.authorization} if exchange.authorization else {}
    return MockRequest(HOST, exchange.method.lower(), exchange.path, headers=signed,
                       data=exchange.body.encode() if exchange.body else None,
                       content_type=exchange.content_type)  # fmt: skip


def spec_response(exchange: Exchange) -> MockResponse:
    return MockResponse(json.dumps(exchange.response).encode(), exchange.status)


async def test_every_call_and_answer_is_as_the_spec_says(
    store: Store, twilio: TwilioServer
) -> None:
    clock = ManualClock(T0)
    api = VerifyApi(ACCOUNT_SID, SecretStr(AUTH_TOKEN), SERVICE_SID, base_url=twilio.url)
    checks = TwilioVerifyChecks(store, clock, Directory(), Contacts(), api)  # type: ignore[arg-type]
    asked = CheckRequest(key="su-1", username="ana", factor="sms", message="Code: {code}",
                         expires_at=T0 + timedelta(minutes=5))  # fmt: skip
    check = await checks.issue(asked)
    await checks.result(check.id)
    code = await TwilioPhone(twilio).code(check.id)
    assert code is not None
    await checks.verify_code(check.id, f"{(int(code) + 1) % 10**6:06d}")
    assert await checks.verify_code(check.id, code)
    other = await checks.issue(asked.model_copy(update={"key": "su-2"}))
    await checks.withdraw(other.id)
    exchanges = twilio.exchanges()
    assert {(e.method, e.path.rsplit("/", 1)[-1][:2], e.status) for e in exchanges} == {
        ("POST", "Ve", 201), ("GET", "VE", 200), ("POST", "Ve", 200), ("POST", "VE", 200),
    }  # fmt: skip
    for exchange in exchanges:
        SPEC.validate_request(spec_request(exchange))
        SPEC.validate_response(spec_request(exchange), spec_response(exchange))


def test_the_spec_check_refuses_what_the_spec_does_not_allow(twilio: TwilioServer) -> None:
    path = f"/v2/Services/{SERVICE_SID}/Verifications"
    without_channel = Exchange("POST", path, "Basic x", "application/x-www-form-urlencoded",
                               "To=%2B447700900123", 201, {})  # fmt: skip
    with pytest.raises(Exception, match="Channel"):
        SPEC.validate_request(spec_request(without_channel))
    unsigned = Exchange("POST", path, "", "application/x-www-form-urlencoded",
                        "To=%2B447700900123&Channel=sms", 201, {})  # fmt: skip
    with pytest.raises(Exception, match="Security"):
        SPEC.validate_request(spec_request(unsigned))
    bad_status = Exchange("POST", path, "Basic x", "application/x-www-form-urlencoded",
                          "To=%2B447700900123&Channel=sms", 201, {"status": 3})  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017, PT011 (openapi-core's own error types)
        SPEC.validate_response(spec_request(bad_status), spec_response(bad_status))
