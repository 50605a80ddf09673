"""The Graph client under Entra: tokens by secret and by certificate, a refused token
dropped and the call tried again, a slow token endpoint that does not stall the loop,
throttling waited out, paging, Graph's errors as the ports' and a missing permission named,
and a write whose answer was lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from entra_harness import Pauses, certificate, directory
from servers.graph import FakeGraph, seeded_graph
from waiting import until

from adapters.entra.auth import thumbprint
from adapters.entra.graph import Graph, GraphError, PermissionMissing, Throttled
from adapters.http.tokens import TokenUnavailable
from bot.ports import NotFoundError, OutcomeUnknown


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with seeded_graph() as running:
        yield running


# --- tokens ----------------------------------------------------------------------------------


async def test_a_token_by_secret_is_fetched_once_and_reused(fake: FakeGraph) -> None:
    d = directory(fake)
    ana = await d.person("ana")
    assert ana is not None
    assert (ana.username, ana.manager, ana.factors, ana.groups) == ("ana", "mo", ("push", "sms"),
                                                                    ("staff",))  # fmt: skip
    assert await d.person("ben") is not None
    assert fake.tokens_issued == 1


async def test_a_token_by_certificate_is_proven_with_the_registered_key(
    fake: FakeGraph, tmp_path: Path
) -> None:
    pem, cert = certificate(tmp_path)
    fake.certificate, fake.thumbprint = cert, thumbprint(cert)
    by_cert = directory(fake, entra_client_secret=None, entra_certificate=pem)
    assert (await by_cert.person("ben")) is not None
    (tmp_path / "other").mkdir()
    other, _ = certificate(tmp_path / "other")  # another key, whose x5t is not registered
    with pytest.raises(TokenUnavailable, match="invalid_client") as caught:
        await directory(fake, entra_client_secret=None, entra_certificate=other).person("ben")
    assert "BEGIN" not in str(caught.value)


async def test_a_refused_token_is_dropped_and_the_call_tried_once_more(fake: FakeGraph) -> None:
    d = directory(fake)
    assert await d.person("ana") is not None
    fake.revoke_tokens()
    assert await d.person("ana") is not None
    assert fake.tokens_issued == 2


async def test_a_slow_token_endpoint_does_not_stall_the_event_loop(fake: FakeGraph) -> None:
    fake.hold_tokens()
    reading = asyncio.create_task(directory(fake).person("ana"))

    async def held() -> bool:
        return fake.tokens_waiting == 1

    await until(held)  # the read waits on the token endpoint...
    assert not reading.done()
    beat = asyncio.Event()
    asyncio.get_running_loop().call_soon(beat.set)
    await asyncio.wait_for(beat.wait(), 1)  # ...and the loop goes on meanwhile
    fake.release_tokens()
    assert (await reading) is not None


async def test_a_failing_token_endpoint_is_said_without_the_secret(fake: FakeGraph) -> None:
    d = directory(fake)
    fake.token_failures = 1
    with pytest.raises(TokenUnavailable, match="HTTP 500") as caught:
        await d.person("ana")
    assert "fake-graph-secret" not in str(caught.value)
    assert await d.person("ana") is not None  # the next call fetches again


# --- throttling, paging, errors, lost answers ------------------------------------------------


async def test_throttling_is_waited_out_as_retry_after_says(fake: FakeGraph) -> None:
    pauses = Pauses()
    d = directory(fake, sleep=pauses)
    fake.throttled, fake.retry_after = 2, "3"
    assert await d.master_of("ana") == "entra"
    assert pauses.waits == [3.0, 3.0]
    fake.throttled, fake.retry_after = 1, "120"  # longer than a turn waits: not waited
    with pytest.raises(Throttled):
        await d.master_of("ana")
    assert pauses.waits == [3.0, 3.0]


async def test_collections_are_read_page_after_page(fake: FakeGraph) -> None:
    fake.page_size = 1
    people = await directory(fake).people()
    assert [p.username for p in people] == ["ana", "ben", "ida", "mo"]
    assert [p.groups for p in people if p.username == "mo"] == [
        ("staff", "reports", "hr-team", "security-team")]  # fmt: skip
    assert any("$skiptoken" in e.query for e in fake.exchanges if e.path == "/v1.0/users")


async def test_graph_errors_map_to_the_ports_errors(fake: FakeGraph) -> None:
    d = directory(fake)
    with pytest.raises(NotFoundError):
        await d.add_member("ana", "no-such-group")
    fake.permissions.discard("GroupMember.ReadWrite.All")
    fake.permissions.add("GroupMember.Read.All")  # it may read the group, not change it
    fake.revoke_tokens()  # the next token carries the permissions as they are now
    with pytest.raises(PermissionMissing, match=r"GroupMember\.ReadWrite\.All") as caught:
        await d.add_member("ana", "reports")
    assert caught.value.code == "Authorization_RequestDenied"
    graph = Graph(fake.url, _Token(), sleep=Pauses())
    with pytest.raises(GraphError, match="InvalidAuthenticationToken"):
        await graph.get("/users/ana@contract.test")


class _Token:
    async def token(self) -> str:
        return "not-a-token"

    def forget(self) -> None:
        pass


async def test_a_missing_password_permission_names_the_one_to_grant(fake: FakeGraph) -> None:
    fake.permissions = {"User.Read.All", "User.EnableDisableAccount.All"}
    d = directory(fake)
    await d.set_disabled("ben", True)  # this one it has
    with pytest.raises(PermissionMissing, match=r"User-PasswordProfile\.ReadWrite\.All"):
        await d.set_password("ben", "long enough now", must_change=False)


async def test_a_lost_answer_to_a_write_is_outcome_unknown_and_reads_back(
    fake: FakeGraph,
) -> None:
    d = directory(fake)
    fake.lose_next = "PATCH"
    with pytest.raises(OutcomeUnknown):
        await d.set_disabled("ben", True)
    ben = await d.person("ben")
    assert ben is not None
    assert ben.disabled  # it was made: the desk reads it back


async def test_a_gateway_timeout_on_a_write_is_unknown_and_a_refusal_is_plain(
    fake: FakeGraph,
) -> None:
    d = directory(fake)
    fake.answer_next = ("POST", 504)
    with pytest.raises(OutcomeUnknown):
        await d.revoke_sessions("ben")
    fake.answer_next = ("POST", 400)
    with pytest.raises(GraphError) as refused:
        await d.revoke_sessions("ben")
    assert not isinstance(refused.value, OutcomeUnknown)
    fake.answer_next = ("GET", 504)  # a read is only tried again later
    with pytest.raises(GraphError):
        await d.person("ben")
