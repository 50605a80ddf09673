"""The Entra client's requests and the fake Graph's answers, checked against the slice of
Microsoft Graph v1.0 the desk uses (`tests/servers/specs/graph/openapi.yaml`, made from
msgraph-metadata's CSDL by `tests/servers/specs/graph_slice.py`): every call a workload of
reads, writes and feed polls makes, and what the fake answered to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import InvalidRequestBody
from openapi_core.validation.response.exceptions import InvalidData
from servers.graph import FakeGraph, entra_settings, seeded_graph
from servers.graph_protocol import Exchange

from adapters.entra.auth import graph_tokens
from adapters.entra.directory import EntraDirectory
from adapters.entra.graph import Graph
from adapters.entra.signins import EntraSignIns
from bot.clock import ManualClock
from bot.directory_files import load_catalogue, load_roles
from bot.org import load_org

HERE = Path(__file__).parent
SLICE = yaml.safe_load((HERE / "servers" / "specs" / "graph" / "openapi.yaml").read_text())
CONTRACTS = HERE / "contracts"
ORG = load_org(CONTRACTS / "org.yaml")
assert ORG.now is not None


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with seeded_graph() as running:
        yield running


def spec_for(fake: FakeGraph) -> OpenAPI:
    return OpenAPI.from_dict({**SLICE, "servers": [{"url": f"{fake.url}/v1.0"}]})


def request_of(fake: FakeGraph, e: Exchange) -> MockRequest:
    data = json.dumps(e.body).encode() if e.body is not None else None
    headers = {k: v for k, v in e.headers.items() if k.lower() != "content-type"}
    return MockRequest(fake.url, e.method.lower(), e.path, args=e.query, headers=headers,
                       data=data)  # fmt: skip


def response_of(e: Exchange) -> MockResponse:
    data = json.dumps(e.answer).encode() if e.answer is not None else b""
    return MockResponse(data, status_code=e.status)


async def workload(fake: FakeGraph) -> None:
    clock = ManualClock(ORG.now + timedelta(minutes=1))  # type: ignore[operator]
    settings = entra_settings(fake)
    d = EntraDirectory.from_settings(
        settings, roles=load_roles(CONTRACTS / "entra-roles.yaml"),
        catalogue=load_catalogue(CONTRACTS / "entra-catalogue.yaml"), clock=clock,
    )  # fmt: skip
    fake.page_size = 1  # so that next links are followed too
    await d.people()
    await d.person_by_email("ana@contract.test")
    await d.people_with_role("security")
    await d.reports_of("mo")
    await d.groups()
    await d.add_member("ana", "reports")
    await d.add_member("ana", "reports")  # a member already: Graph's 400
    await d.remove_member("ana", "reports")
    await d.remove_member("ana", "reports")  # not a member: Graph's 404
    await d.set_disabled("ben", True)
    await d.revoke_sessions("ben")
    await d.reset_factors("mo")
    await d.set_password("ben", "long enough now", must_change=True)
    feed = EntraSignIns(Graph(settings.graph_url, graph_tokens(settings)), clock)
    start = await feed.lockouts_since(None)
    fake.tenant.add_risky_user(fake.tenant.user("ben")["id"], clock.now(), "high")
    await feed.lockouts_since(start.cursor)


async def test_the_clients_calls_and_the_fakes_answers_keep_to_graphs_spec(
    fake: FakeGraph,
) -> None:
    await workload(fake)
    spec = spec_for(fake)
    seen = {(e.method, e.status) for e in fake.exchanges}
    assert {("PATCH", 204), ("POST", 400), ("DELETE", 404), ("DELETE", 204)} <= seen
    for e in fake.exchanges:
        request = request_of(fake, e)
        spec.validate_request(request)
        spec.validate_response(request, response_of(e))


async def test_the_check_fails_for_a_property_graph_does_not_have(fake: FakeGraph) -> None:
    spec = spec_for(fake)
    invented = Exchange("GET", "/v1.0/users", {}, {}, None, 200,
                        {"value": [{"id": "x", "lockedOut": True}]})  # fmt: skip
    with pytest.raises(InvalidData):
        spec.validate_response(request_of(fake, invented), response_of(invented))
    wrong: dict[str, Any] = {"accountEnabled": "no"}
    patch = Exchange("PATCH", "/v1.0/users/x", {}, {}, wrong, 204, None)
    with pytest.raises(InvalidRequestBody):
        spec.validate_request(request_of(fake, patch))
