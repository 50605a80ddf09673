"""Entra ID through Microsoft Graph, over the fake Graph: tokens by secret and certificate,
a 401 retried with a fresh token, throttling, paging, Graph's errors, the honest answers to
what Graph cannot do, password resets by e-mail (SSPR link or temporary password) through a
real SMTP server, accounts synced from AD, and a lost answer."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from servers.graph import FakeGraph, entra_settings, seeded_graph
from servers.smtp import SmtpTestServer, smtp_server
from waiting import until

from adapters.entra.auth import thumbprint
from adapters.entra.directory import EntraDirectory
from adapters.entra.graph import Graph, GraphError, PermissionMissing, Throttled
from adapters.entra.passwords import temporary_password
from adapters.http.tokens import TokenUnavailable
from adapters.mail.smtp import SmtpMailer, SmtpServer
from bot.clock import ManualClock
from bot.directory_files import CatalogueOverlay, load_roles
from bot.org import load_org
from bot.ports import NotFoundError, OutcomeUnknown, Unsupported
from bot.store import Store

CONTRACTS = Path(__file__).parent / "contracts"
ORG = load_org(CONTRACTS / "org.yaml")
assert ORG.now is not None
NOW = ORG.now
ROLES = load_roles(CONTRACTS / "entra-roles.yaml")
CATALOGUE = CatalogueOverlay.model_validate({"groups": {g: o.model_dump() for g, o in
                                                         ORG.groups.items()}})  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with seeded_graph() as running:
        yield running


class Pauses:
    """The `sleep` the client is given: it records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def directory(fake: FakeGraph, *, store: Store | None = None, mailer: Any = None,
              clock: ManualClock | None = None, sleep: Any = None, **settings: Any
              ) -> EntraDirectory:  # fmt: skip
    return EntraDirectory.from_settings(
        entra_settings(fake, **settings), roles=ROLES, catalogue=CATALOGUE, mailer=mailer,
        store=store, clock=clock or ManualClock(NOW), sleep=sleep or Pauses(),
    )  # fmt: skip


def certificate(tmp_path: Path) -> tuple[Path, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "itdesk")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1))
            .sign(key, hashes.SHA256()))  # fmt: skip
    pem = tmp_path / "entra.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))  # fmt: skip
    return pem, cert


# --- tokens -------------------------------------------------------------------------------------


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


# --- throttling, paging, errors -----------------------------------------------------------------


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


# --- what Graph cannot do -----------------------------------------------------------------------


async def test_unlock_says_honestly_that_the_lockout_clears_by_itself(fake: FakeGraph) -> None:
    clock = ManualClock(NOW)
    d = directory(fake, clock=clock)
    with pytest.raises(Unsupported) as caught:
        await d.set_locked("ana", False)
    assert caught.value.capability == "unlock"
    assert "by itself" in caught.value.detail
    assert "password reset" in caught.value.detail
    with pytest.raises(Unsupported, match="lock"):
        await d.set_locked("ben", True)
    assert (await d.person("ana")).locked  # type: ignore[union-attr]
    clock.advance(dt.timedelta(minutes=10))  # the lockout window has passed
    assert not (await d.person("ana")).locked  # type: ignore[union-attr]


async def test_a_synced_person_is_mastered_by_ad_and_its_writes_are_refused(
    fake: FakeGraph,
) -> None:
    d = directory(fake)
    fake.tenant.sync("ben", sam_account_name="bokafor")
    assert await d.master_of("ana") == "entra"
    assert await d.master_of("bokafor") == "ad"
    assert await d.person("ben") is None  # a synced person goes by their AD username
    assert await d.master_of("nobody") is None
    for call, capability in [(d.set_disabled("bokafor", True), "disable"),
                             (d.set_password("bokafor", "Long-enough-1", must_change=False),
                              "set_password")]:  # fmt: skip
        with pytest.raises(Unsupported) as caught:
            await call
        assert (caught.value.capability, "on-premises" in caught.value.detail) == (capability, True)
    fake.tenant.sync_group("reports")
    with pytest.raises(Unsupported) as refused:
        await d.add_member("ana", "reports")
    assert refused.value.capability == "group_membership"


async def test_a_person_is_found_by_their_cloud_object_id(fake: FakeGraph) -> None:
    d = directory(fake)
    ana = fake.tenant.user("ana")
    assert (await d.person_by_cloud_id(ana["id"])) == await d.person("ana")
    assert await d.person_by_cloud_id("00000000-0000-0000-0000-000000000000") is None
    assert await d.person_by_cloud_id("../groups") is None


# --- password resets by e-mail ------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    with smtp_server() as server:
        yield server


def mailer(smtp: SmtpTestServer) -> SmtpMailer:
    return SmtpMailer(SmtpServer.from_url(smtp.url), "desk@contract.test", ManualClock(NOW))


async def test_sspr_mails_the_portal_once_per_key(
    fake: FakeGraph, smtp: SmtpTestServer, store: Store
) -> None:
    d = directory(fake, store=store, mailer=mailer(smtp), entra_sspr_url="https://sspr.test/")
    fake.tenant.methods[fake.tenant.user("ben")["id"]][-1]["emailAddress"] = "ben@home.test"
    sent = await d.send_reset_link("ben", key="case-1:0")
    assert await d.send_reset_link("ben", key="case-1:0") == sent
    assert sent.address == "b•••@home.test"
    [mail] = smtp.boxes.all()
    assert mail.recipients == ("ben@home.test",)
    assert "https://sspr.test/" in mail.body
    assert fake.tenant.passwords == {}  # nothing was changed in the account


async def test_a_temporary_password_goes_only_by_mail_and_once_per_key(
    fake: FakeGraph, smtp: SmtpTestServer, store: Store
) -> None:
    d = directory(fake, store=store, mailer=mailer(smtp), entra_password_reset="temporary")
    sent = await d.send_reset_link("ana", key="case-2:0")
    again = await d.send_reset_link("ana", key="case-2:0")
    profile = fake.tenant.passwords[fake.tenant.user("ana")["id"]]
    [mail] = smtp.boxes.all()
    assert mail.recipients == ("ana@contract.test",)  # her secondary address on record
    assert profile["forceChangePasswordNextSignIn"] is True
    assert profile["password"] in mail.body
    assert profile["password"] not in repr(sent) + repr(again) + repr(d)
    assert again == sent


def test_temporary_passwords_are_strong_and_different() -> None:
    made = {temporary_password() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        assert len(password) >= 16
        assert any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)


async def test_a_password_the_policy_refuses_is_a_value_error_with_the_reason(
    fake: FakeGraph,
) -> None:
    d = directory(fake)
    with pytest.raises(ValueError, match="complexity") as caught:
        await d.set_password("ben", "short", must_change=False)
    assert "short" not in str(caught.value)
    await d.set_password("ben", "a much longer one", must_change=True)
    profile = fake.tenant.passwords[fake.tenant.user("ben")["id"]]
    assert profile == {"password": "a much longer one", "forceChangePasswordNextSignIn": True}


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


async def test_a_failing_token_endpoint_is_said_without_the_secret(fake: FakeGraph) -> None:
    d = directory(fake)
    fake.token_failures = 1
    with pytest.raises(TokenUnavailable, match="HTTP 500") as caught:
        await d.person("ana")
    assert "fake-graph-secret" not in str(caught.value)
    assert await d.person("ana") is not None  # the next call fetches again


async def test_a_person_is_found_by_their_upn_too(fake: FakeGraph) -> None:
    d = directory(fake)
    assert await d.person("ana@contract.test") == await d.person("ana")
    assert await d.person("nobody@contract.test") is None


async def test_unreadable_sign_in_logs_leave_people_readable(fake: FakeGraph) -> None:
    fake.permissions.discard("AuditLog.Read.All")
    ana = await directory(fake).person("ana")
    assert ana is not None
    assert not ana.locked  # unknown, and said in the log, not a failed read


async def test_a_missing_password_permission_names_the_one_to_grant(fake: FakeGraph) -> None:
    fake.permissions = {"User.Read.All", "User.EnableDisableAccount.All"}
    d = directory(fake)
    await d.set_disabled("ben", True)  # this one it has
    with pytest.raises(PermissionMissing, match=r"User-PasswordProfile\.ReadWrite\.All"):
        await d.set_password("ben", "long enough now", must_change=False)


async def test_each_temporary_password_is_a_message_of_its_own(
    fake: FakeGraph, smtp: SmtpTestServer, store: Store
) -> None:
    d = directory(fake, store=store, mailer=mailer(smtp), entra_password_reset="temporary")
    with structlog.testing.capture_logs() as logs:
        await d.send_reset_link("ana")
        await d.send_reset_link("ana")  # no key: another request, another password
    first, second = smtp.boxes.all()
    assert first.message["Message-ID"] != second.message["Message-ID"]
    current = fake.tenant.passwords[fake.tenant.user("ana")["id"]]["password"]
    assert current in second.body
    assert current not in first.body
    assert current not in repr(logs)
