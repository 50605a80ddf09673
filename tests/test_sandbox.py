"""The sandbox world: each port's operations against real Redis, seeding, and snapshots."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio.client import Pipeline

from adapters.devices.sandbox import SandboxDevices
from adapters.notify.sandbox import SandboxOutbox, new_outbox_item
from adapters.tickets.builtin import BuiltinTickets
from bot.clock import ManualClock
from bot.masking import mask_email, mask_phone
from bot.models import Person
from bot.org import Org, default_phone, load_org, parse_org
from bot.ports import ConflictError, LinkSent, NewTicket, NotFoundError, Unsupported
from bot.store import Store
from bot.world import SandboxWorld

SHARED = Path(__file__).resolve().parents[2] / "shared"
GLOBEX = load_org(SHARED / "scenarios" / "orgs" / "globex.yaml")
ACME = load_org(Path(__file__).resolve().parents[1] / "examples" / "acme.yaml")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def world(store: Store, clock: ManualClock) -> SandboxWorld:
    return await SandboxWorld.create(store.child("world"), GLOBEX, clock)


# --- directory ----------------------------------------------------------------------------


async def test_people_and_groups_are_served_from_the_org(world: SandboxWorld) -> None:
    d = world.directory
    alice = await d.person("alice")
    assert alice is not None
    assert alice == {p.username: p for p in GLOBEX.people()}["alice"]
    assert await d.person_by_email("  Alice@Globex.TEST ") == alice
    assert await d.person_by_email("nobody@globex.test") is None
    assert await d.person("nobody") is None
    assert [p.username for p in await d.people()] == sorted(GLOBEX.users)
    group = await d.group("payroll-admin")
    assert group is not None
    assert group.sensitive
    assert group.owner == "grace"
    assert len(await d.groups()) == len(GLOBEX.groups)


async def test_account_state_changes_persist(world: SandboxWorld) -> None:
    d = world.directory
    await d.set_locked("alice", False)
    await d.set_disabled("bob", True)
    alice, bob = await d.person("alice"), await d.person("bob")
    assert alice is not None
    assert not alice.locked
    assert bob is not None
    assert bob.disabled
    with pytest.raises(NotFoundError):
        await d.set_locked("nobody", True)


async def test_membership_changes_keep_the_person_consistent(world: SandboxWorld) -> None:
    d = world.directory
    await d.add_member("alice", "finance-reports")
    await d.add_member("alice", "finance-reports")  # already a member: no change
    alice = await d.person("alice")
    assert alice is not None
    assert alice.groups == ("all-staff", "finance", "finance-reports")
    await d.remove_member("alice", "finance")
    await d.remove_member("alice", "finance")
    alice = await d.person("alice")
    assert alice is not None
    assert alice.groups == ("all-staff", "finance-reports")
    with pytest.raises(NotFoundError) as caught:
        await d.add_member("alice", "no-such-group")
    assert (caught.value.kind, caught.value.key) == ("group", "no-such-group")
    with pytest.raises(NotFoundError):
        await d.add_member("nobody", "finance")


async def test_concurrent_membership_changes_are_not_lost(world: SandboxWorld) -> None:
    groups = ["finance-reports", "finance-archive", "marketing-news", "it", "people"]
    await asyncio.gather(*(world.directory.add_member("alice", g) for g in groups))
    alice = await world.directory.person("alice")
    assert alice is not None
    assert set(alice.groups) == {"all-staff", "finance", *groups}


async def test_revoking_sessions_counts_them_and_is_recorded(world: SandboxWorld) -> None:
    d = world.directory
    assert await d.sessions("bob") == 3  # two devices and a browser
    assert await d.revoke_sessions("bob") == 3
    assert await d.sessions("bob") == 0
    assert await d.revoke_sessions("bob") == 0
    assert await d.revocations("bob") == 2
    assert await d.revocations("alice") == 0
    assert await d.sessions("ivan") == 0  # disabled
    with pytest.raises(NotFoundError):
        await d.revoke_sessions("nobody")


async def test_people_are_found_by_role_and_by_manager(world: SandboxWorld) -> None:
    d = world.directory
    for role in ("oncall", "admin", "hr", "security"):
        expected = sorted(p.username for p in GLOBEX.people() if role in p.roles)
        assert [p.username for p in await d.people_with_role(role)] == expected
    managers = {p.manager for p in GLOBEX.people() if p.manager}
    for manager in managers:
        expected = sorted(p.username for p in GLOBEX.people() if p.manager == manager)
        assert [p.username for p in await d.reports_of(manager)] == expected
    assert await d.reports_of("alice") == []  # manages nobody
    assert await d.reports_of("nobody") == []
    with pytest.raises(ValueError, match="unknown role 'wizard'"):
        await d.people_with_role("wizard")


async def test_role_and_manager_changes_move_the_indexes(world: SandboxWorld) -> None:
    d = world.directory
    await d.set_roles("alice", ("security", "oncall"))
    await d.set_manager("alice", "grace")
    assert "alice" in [p.username for p in await d.people_with_role("security")]
    assert "alice" in [p.username for p in await d.people_with_role("oncall")]
    assert "alice" in [p.username for p in await d.reports_of("grace")]
    assert "alice" not in [p.username for p in await d.reports_of("carol")]
    await d.set_roles("alice", ())
    await d.set_manager("alice", None)
    assert "alice" not in [p.username for p in await d.people_with_role("security")]
    assert "alice" not in [p.username for p in await d.reports_of("grace")]
    await d.set_locked("alice", False)  # an unrelated change leaves the indexes alone
    assert [p.username for p in await d.reports_of("grace")] == sorted(
        p.username for p in GLOBEX.people() if p.manager == "grace"
    )
    alice = await d.person("alice")
    assert alice is not None
    assert (alice.roles, alice.manager) == ((), None)


async def test_bad_role_and_manager_changes_are_refused_and_change_nothing(
    world: SandboxWorld,
) -> None:
    d = world.directory
    before = await d.person("alice")
    with pytest.raises(ValueError, match="unknown roles"):
        await d.set_roles("alice", ("wizard",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="own manager"):
        await d.set_manager("alice", "alice")
    with pytest.raises(NotFoundError):
        await d.set_manager("alice", "ghost")
    with pytest.raises(NotFoundError):
        await d.set_roles("nobody", ("hr",))
    assert await d.person("alice") == before
    assert "nobody" not in [p.username for p in await d.people_with_role("hr")]


async def test_a_new_account_is_found_by_its_manager_and_roles(world: SandboxWorld) -> None:
    d = world.directory
    new = Person(username="zoe", name="Zoe Park", email="zoe@globex.test", manager="carol",
                 roles=("hr",))  # fmt: skip
    await d.create_person(new)
    assert new in await d.reports_of("carol")
    assert new in await d.people_with_role("hr")


async def test_a_world_kept_from_before_the_indexes_is_indexed_on_start(
    store: Store, clock: ManualClock
) -> None:
    world = await SandboxWorld.create(store, GLOBEX, clock)
    old_indexes = [
        key
        async for key in store.redis.scan_iter(match=f"{store.key('*')}")
        if any(f":{part}:" in key for part in ("role", "reports", "owner"))
    ]
    assert old_indexes
    await store.redis.delete(*old_indexes, world.index_marker)  # as an older desk left it
    assert await world.directory.people_with_role("security") == []

    again = await SandboxWorld.create(store, GLOBEX, clock)

    assert not again.seeded
    security = sorted(p.username for p in GLOBEX.people() if "security" in p.roles)
    assert [p.username for p in await again.directory.people_with_role("security")] == security
    assert [d.id for d in await again.devices.devices_of("bob")] == ["DT-2003", "LT-2002"]


async def test_reset_factors_clears_them_until_enrolment(world: SandboxWorld) -> None:
    d = world.directory
    await d.reset_factors("alice")
    alice = await d.person("alice")
    assert alice is not None
    assert alice.factors == ()
    assert await d.factor_resets("alice") == 1
    assert await d.factor_address("alice", "sms") is None
    await d.enrol_factor("alice", "push")
    await d.enrol_factor("alice", "push")
    alice = await d.person("alice")
    assert alice is not None
    assert alice.factors == ("push",)


async def test_create_person_is_idempotent_and_refuses_conflicts(world: SandboxWorld) -> None:
    d = world.directory
    new = Person(
        username="zoe",
        name="Zoe Park",
        email="zoe@globex.test",
        manager="carol",
        groups=("all-staff",),
        factors=("sms",),
    )
    await d.create_person(new)
    await d.create_person(new)  # a retry
    assert await d.person_by_email("zoe@globex.test") == new
    assert await d.factor_address("zoe", "sms") == mask_phone(default_phone("zoe"))
    with pytest.raises(ConflictError):
        await d.create_person(new.model_copy(update={"name": "Zoe Other"}))
    with pytest.raises(ConflictError):
        await d.create_person(new.model_copy(update={"username": "zoe2"}))  # same e-mail
    with pytest.raises(NotFoundError):
        await d.create_person(Person(username="x", name="X", email="x@g.test", manager="ghost"))
    assert await d.person("zoe2") is None
    assert await d.person("x") is None


async def test_factor_and_recovery_addresses_are_masked(world: SandboxWorld) -> None:
    d = world.directory
    phone = GLOBEX.phone_of("alice")
    assert await d.factor_address("alice", "sms") == mask_phone(phone)
    assert await d.factor_address("alice", "push") == mask_phone(phone)
    assert await d.factor_address("alice", "email") is None  # not registered
    assert await d.factor_address("erin", "totp") == "your authenticator app"
    assert await d.recovery_address("alice") == mask_phone(phone)  # sms registered
    assert await d.recovery_address("carol") == "c\u2022\u2022\u2022@globex.test"
    assert await d.recovery_address("nobody") is None


async def test_reset_link_goes_out_of_band_with_a_fresh_secret(
    world: SandboxWorld, clock: ManualClock
) -> None:
    sent = await world.directory.send_reset_link("bob")
    (item,) = await world.outbox.items("bob")
    assert sent == LinkSent(address=item.address)
    assert (item.to, item.kind, item.channel) == ("bob", "reset_link", "sms")
    assert item.address == mask_phone(GLOBEX.phone_of("bob"))
    assert GLOBEX.phone_of("bob") not in item.address
    assert item.secret
    assert len(item.secret) >= 24
    assert item.secret in item.text
    assert item.secret not in sent.model_dump_json()
    assert item.expires_at == T0 + timedelta(hours=1)
    await world.directory.send_reset_link("bob")
    again = (await world.outbox.items("bob"))[-1]
    assert again.secret != item.secret
    assert await world.outbox.secrets() == [item.secret, again.secret]
    clock.advance(timedelta(hours=2))
    stored = await world.outbox.item(item.id)
    assert stored is not None
    assert stored.status == "expired"
    with pytest.raises(NotFoundError):
        await world.directory.send_reset_link("nobody")


async def test_one_link_goes_out_per_request_key(world: SandboxWorld) -> None:
    d = world.directory
    first = await d.send_reset_link("bob", key="case-1:0:reset_link")
    again = await d.send_reset_link("bob", key="case-1:0:reset_link")  # a lost answer, retried
    other = await d.send_reset_link("bob", key="case-2:0:reset_link")
    enrol = await d.send_enrolment_link("bob", key="case-1:0:reset_link")  # another kind
    assert first == again == other
    assert enrol.address != first.address
    kinds = [i.kind for i in await world.outbox.items("bob")]
    assert kinds == ["reset_link", "reset_link", "enrolment_link"]


async def test_links_go_to_an_explicit_recovery_email(store: Store, clock: ManualClock) -> None:
    world = await SandboxWorld.create(store, ACME, clock)
    sent = await world.directory.send_enrolment_link("hana", key="case-7")
    (item,) = await world.outbox.items("hana")
    assert sent.address == "h\u2022\u2022\u2022@mail.example"
    assert (item.kind, item.channel, item.address) == ("enrolment_link", "email", sent.address)
    assert "acme.test" in item.text
    assert item.secret in await world.outbox.secrets()


async def test_a_password_is_kept_as_a_salted_hash_and_its_change_logged(
    world: SandboxWorld, clock: ManualClock, store: Store
) -> None:
    d = world.directory
    await d.set_password("alice", "correct horse battery", must_change=True)
    assert await d.passwords.matches("alice", "correct horse battery")
    assert not await d.passwords.matches("alice", "correct horse batter")
    kept = await d.passwords.record("alice")
    assert kept is not None
    assert kept.must_change
    assert (await d.passwords.record("bob")) is None
    await d.set_password("bob", "correct horse battery", must_change=False)
    other = await d.passwords.record("bob")
    assert other is not None
    assert other.salt != kept.salt  # the same password, another hash
    assert other.digest != kept.digest
    for key in await store.redis.keys("*"):
        if await store.redis.type(key) == "string":
            assert "correct horse" not in (await store.redis.get(key) or "")
    changes = await d.changes(T0, clock.now())
    assert sorted((c.op, c.user) for c in changes) == [
        ("set_password", "alice"),
        ("set_password", "bob"),
    ]


@pytest.mark.parametrize(
    ("password", "reason"),
    [("2Short!", "at least 8"), (" Alice ", "8"), ("ALICEsmith", None),
     ("correct horse battery", "previous")],
)  # fmt: skip
async def test_the_password_policy_gives_its_reason_and_changes_nothing(
    world: SandboxWorld, clock: ManualClock, password: str, reason: str | None
) -> None:
    d = world.directory
    await d.set_password("alice", "correct horse battery", must_change=False)
    if reason is None:  # containing the username is not the username
        await d.set_password("alice", password, must_change=False)
        return
    with pytest.raises(ValueError, match=reason) as caught:
        await d.set_password("alice", password, must_change=True)
    assert password.strip() not in str(caught.value)
    assert await d.passwords.matches("alice", "correct horse battery")
    assert len(await d.changes(T0, clock.now())) == 1


async def test_the_username_is_no_password(world: SandboxWorld) -> None:
    await world.directory.create_person(
        Person(username="maximilian", name="Max", email="max@globex.test")
    )
    with pytest.raises(ValueError, match="username"):
        await world.directory.set_password("maximilian", "Maximilian", must_change=False)
    with pytest.raises(NotFoundError):
        await world.directory.set_password("nobody", "correct horse battery", must_change=False)


async def test_a_directory_built_without_capabilities_says_so_and_changes_nothing(
    store: Store, clock: ManualClock
) -> None:
    world = await SandboxWorld.create(
        store, GLOBEX, clock, unsupported={"unlock", "session_count", "reset_link", "set_password"}
    )
    d = world.directory
    before = await world.snapshot()
    with pytest.raises(Unsupported) as caught:
        await d.set_locked("alice", False)
    assert caught.value.capability == "unlock"
    for call, capability in (
        (d.sessions("bob"), "session_count"),
        (d.send_reset_link("bob"), "reset_link"),
        (d.set_password("bob", "correct horse battery", must_change=False), "set_password"),
    ):
        with pytest.raises(Unsupported) as caught:
            await call
        assert caught.value.capability == capability
    assert await world.snapshot() == before
    assert await world.outbox.items("bob") == []
    await d.set_locked("alice", True)  # what it has still works
    assert await d.revoke_sessions("bob") is None  # revoked, but it cannot say how many


async def test_an_unknown_capability_name_is_refused_at_construction(
    store: Store, clock: ManualClock
) -> None:
    with pytest.raises(ValueError, match="no capabilities named unlcok"):
        await SandboxWorld.create(store, GLOBEX, clock, unsupported={"unlcok"})
    with pytest.raises(ValueError, match="unlcok"):
        SandboxDevices(store, clock, unsupported={"unlcok"})
    assert not await store.redis.exists(SandboxWorld(store, GLOBEX, clock).seed_marker)


async def test_sessions_of_an_unknown_person_is_not_found(world: SandboxWorld) -> None:
    with pytest.raises(NotFoundError):
        await world.directory.sessions("nobody")


# --- devices ------------------------------------------------------------------------------


async def test_devices_and_their_owners(world: SandboxWorld) -> None:
    devices = world.devices
    assert [d.id for d in await devices.devices_of("bob")] == ["DT-2003", "LT-2002"]
    assert await devices.devices_of("ivan") == []
    laptop = await devices.device("LT-2001")
    assert laptop is not None
    assert laptop.owner == "alice"
    assert not laptop.locked
    assert await devices.device("XX-0000") is None


async def test_install_keeps_order_without_duplicates(world: SandboxWorld) -> None:
    devices = world.devices
    await devices.install("LT-2001", "zoom")
    await devices.install("LT-2001", "zoom")
    await devices.install("LT-2001", "tableau")
    laptop = await devices.device("LT-2001")
    assert laptop is not None
    assert laptop.installed == ("slack", "chrome", "zoom", "tableau")
    await devices.uninstall("LT-2001", "chrome")
    await devices.uninstall("LT-2001", "chrome")
    laptop = await devices.device("LT-2001")
    assert laptop is not None
    assert laptop.installed == ("slack", "zoom", "tableau")
    with pytest.raises(NotFoundError):
        await devices.install("XX-0000", "zoom")
    with pytest.raises(NotFoundError) as caught:
        await devices.install("LT-2001", "photoshop")  # not in the catalogue
    assert (caught.value.kind, caught.value.key) == ("software", "photoshop")
    laptop = await devices.device("LT-2001")
    assert laptop is not None
    assert "photoshop" not in laptop.installed


async def test_lock_device_and_catalogue(world: SandboxWorld) -> None:
    await world.devices.lock("LT-2001")
    laptop = await world.devices.device("LT-2001")
    assert laptop is not None
    assert laptop.locked
    catalogue = {item.id: item.approval for item in await world.devices.catalogue()}
    assert catalogue == {sid: s.approval for sid, s in GLOBEX.software.items()}


async def test_one_catalogue_item_is_looked_up_by_id(world: SandboxWorld) -> None:
    for item in await world.devices.catalogue():
        assert await world.devices.software(item.id) == item
    assert await world.devices.software("photoshop") is None


# --- tickets ------------------------------------------------------------------------------


async def test_tickets_are_numbered_and_indexed(store: Store, clock: ManualClock) -> None:
    tickets = BuiltinTickets(store, clock)
    first = await tickets.open(
        NewTicket(
            requester="alice",
            queue="security",
            priority="urgent",
            summary="Lost laptop",
            case_id="c1",
        )
    )
    second = await tickets.open(NewTicket(requester="bob", queue="access", summary="Payroll"))
    third = await tickets.open(NewTicket(requester="alice", queue="access", summary="Archive"))
    assert [first.id, second.id, third.id] == ["INC-0001", "INC-0002", "INC-0003"]
    assert first.created_at == T0
    assert first.status == "open"
    assert first.case_id == "c1"
    assert await tickets.get("INC-0001") == first
    assert await tickets.get("INC-9999") is None
    assert [t.id for t in await tickets.of_requester("alice")] == ["INC-0001", "INC-0003"]
    assert [t.id for t in await tickets.in_queue("access")] == ["INC-0002", "INC-0003"]
    assert await tickets.of_requester("nobody") == []


async def test_ticket_updates_are_kept_as_history(store: Store, clock: ManualClock) -> None:
    tickets = BuiltinTickets(store, clock)
    ticket = await tickets.open(NewTicket(requester="alice", queue="hardware", summary="Screen"))
    clock.advance(timedelta(minutes=5))
    claimed = await tickets.update(
        ticket.id, status="in_progress", assignee="dave", note="on my way"
    )
    assert (claimed.status, claimed.assignee) == ("in_progress", "dave")
    assert claimed.updated_at == T0 + timedelta(minutes=5)
    unchanged = await tickets.update(ticket.id, status="in_progress")  # nothing new
    assert unchanged == claimed
    await tickets.update(ticket.id, priority="high")
    history = await tickets.notes(ticket.id)
    assert [(n.text, n.changes) for n in history] == [
        ("opened", {"status": "open"}),
        ("on my way", {"status": "in_progress", "assignee": "dave"}),
        ("", {"priority": "high"}),
    ]
    assert await tickets.get(ticket.id) == claimed.model_copy(update={"priority": "high"})
    with pytest.raises(NotFoundError):
        await tickets.update("INC-9999", status="closed")
    with pytest.raises(NotFoundError):
        await tickets.notes("INC-9999")


# --- outbox -------------------------------------------------------------------------------


async def test_outbox_delivers_per_person(store: Store, clock: ManualClock) -> None:
    outbox = SandboxOutbox(store, clock)
    push = new_outbox_item(
        clock,
        to="alice",
        channel="push",
        address="+44 \u2022\u2022\u2022\u2022 \u2022\u202212",
        kind="push",
        text="Approve sign-in?",
        ref="chk-1",
        status="pending",
        ttl=timedelta(minutes=5),
    )
    code = new_outbox_item(
        clock,
        to="alice",
        channel="sms",
        address="x",
        kind="code",
        text="Your code is 493817",
        secret="493817",
    )
    note = new_outbox_item(
        clock,
        to="carol",
        channel="email",
        address="y",
        kind="notification",
        text="Alice asked for access",
    )
    for item in (push, code, note, code):  # the second `code` is a retried delivery
        await outbox.deliver(item)
    assert [i.id for i in await outbox.items("alice")] == [push.id, code.id]
    assert await outbox.item(note.id) == note
    assert await outbox.item("ob-missing") is None
    await outbox.set_status(push.id, "approved")
    stored = await outbox.item(push.id)
    assert stored is not None
    assert stored.status == "approved"
    assert await outbox.secrets() == ["493817"]
    with pytest.raises(NotFoundError):
        await outbox.set_status("ob-missing", "used")


async def test_unanswered_items_expire_with_the_clock(store: Store, clock: ManualClock) -> None:
    outbox = SandboxOutbox(store, clock)
    push = await outbox.deliver(
        new_outbox_item(
            clock,
            to="bob",
            channel="push",
            address="a",
            kind="push",
            text="?",
            status="pending",
            ttl=timedelta(minutes=5),
        )
    )
    clock.advance(timedelta(minutes=4))
    assert (await outbox.items("bob"))[0].status == "pending"
    clock.advance(timedelta(minutes=1))
    assert (await outbox.items("bob"))[0].status == "expired"
    await outbox.set_status(push.id, "approved")  # an answer on record stays as it was
    assert (await outbox.items("bob"))[0].status == "approved"


def test_masking_keeps_only_what_identifies_the_destination() -> None:
    assert mask_phone("+44 7700 900123") == "+44 \u2022\u2022\u2022\u2022 \u2022\u202223"
    assert mask_phone("+447700900123") == "\u2022\u2022\u2022\u2022 \u2022\u202223"
    assert mask_phone("+1 (555) 010-4477") == "+1 \u2022\u2022\u2022\u2022 \u2022\u202277"
    assert "12" not in mask_phone("12")  # too short to show any of it
    assert mask_email("alice@globex.test") == "a\u2022\u2022\u2022@globex.test"
    assert mask_email("a@b.test") == "a\u2022\u2022\u2022@b.test"  # length not revealed
    assert mask_email("not-an-address") == "\u2022\u2022\u2022"


# --- the world ----------------------------------------------------------------------------


async def test_seeding_is_idempotent_unless_reset(store: Store, clock: ManualClock) -> None:
    first = await SandboxWorld.create(store, GLOBEX, clock)
    assert first.seeded
    assert not first.org_changed
    await first.directory.set_locked("alice", False)
    await first.tickets.open(NewTicket(requester="alice", queue="other", summary="x"))
    again = await SandboxWorld.create(store, GLOBEX, clock)  # the demo after a restart
    assert not again.seeded
    assert not again.org_changed
    alice = await again.directory.person("alice")
    assert alice is not None
    assert not alice.locked
    assert len(await again.tickets.of_requester("alice")) == 1
    fresh = await SandboxWorld.create(store, GLOBEX, clock, reset=True)
    assert fresh.seeded
    alice = await fresh.directory.person("alice")
    assert alice is not None
    assert alice.locked
    assert await fresh.tickets.of_requester("alice") == []


async def test_reset_leaves_the_rest_of_the_namespace_alone(
    store: Store, clock: ManualClock
) -> None:
    await SandboxWorld.create(store, GLOBEX, clock)
    await store.set_json({"status": "new"}, "case", "c1")
    await SandboxWorld.create(store, GLOBEX, clock, reset=True)
    assert await store.get_json("case", "c1") == {"status": "new"}


async def test_a_changed_org_is_noticed_but_state_kept(store: Store, clock: ManualClock) -> None:
    await SandboxWorld.create(store, GLOBEX, clock)
    edited = GLOBEX.model_copy(update={"name": "Globex (edited)"})
    world = await SandboxWorld.create(store, edited, clock)
    assert not world.seeded
    assert world.org_changed


async def test_workers_starting_together_seed_once(store: Store, clock: ManualClock) -> None:
    worlds = await asyncio.gather(*(SandboxWorld.create(store, GLOBEX, clock) for _ in range(5)))
    assert [w.seeded for w in worlds].count(True) == 1
    assert len(await worlds[0].directory.people()) == len(GLOBEX.users)


async def test_a_world_seeded_meanwhile_elsewhere_is_not_overwritten(
    store: Store, clock: ManualClock, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_worker = SyncRedis.from_url(redis_url, decode_responses=True)
    marker = SandboxWorld(store, GLOBEX, clock).seed_marker
    staged = SandboxDevices.stage_seed

    def seeded_by_another_worker_meanwhile(self: SandboxDevices, pipe: Any, org: Org) -> None:
        other_worker.set(marker, "{}")  # lands between our WATCH and our EXEC
        other_worker.set(store.key("directory", "person", "alice"), "kept")
        staged(self, pipe, org)

    monkeypatch.setattr(SandboxDevices, "stage_seed", seeded_by_another_worker_meanwhile)
    try:
        world = await SandboxWorld.create(store, GLOBEX, clock)
    finally:
        other_worker.close()
    assert not world.seeded
    assert await store.redis.get(store.key("directory", "person", "alice")) == "kept"


def _big_org(people: int) -> Org:
    """`people` employees in teams of eight, each with a laptop (as `bench/bigorg.py`)."""
    users = {
        f"u{i:05d}": {
            "name": f"Person {i}",
            "email": f"u{i:05d}@big.test",
            "manager": f"u{(i - 1) // 8:05d}" if i else None,
            "factors": ["push"],
            "groups": ["staff"],
            "devices": [f"NB-{i}"],
            "roles": ["oncall"] if i % 50 == 0 else [],
        }
        for i in range(people)
    }
    devices = {f"NB-{i}": {"owner": f"u{i:05d}", "os": "macos"} for i in range(people)}
    document = {
        "name": "Big", "domain": "big.test", "users": users, "devices": devices,
        "groups": {"staff": {"name": "Staff"}}, "software": {"slack": {"name": "Slack"}},
    }  # fmt: skip
    return parse_org(document, "big")


async def test_a_large_org_is_seeded_in_a_few_commands_per_kind(
    store: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    execute = Pipeline.execute

    async def counted(self: Pipeline, raise_on_error: bool = True) -> Any:
        queued.append(len(self.command_stack))
        return await execute(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", counted)
    org = _big_org(400)
    world = await SandboxWorld.create(store.child("world"), org, clock)
    assert world.seeded
    people, devices = len(org.users), len(org.devices)
    owners = {d.owner for d in org.devices.values() if d.owner}
    managers = {u.manager for u in org.users.values() if u.manager}
    # one command per owner's and per manager's index set, a few for everything else
    assert sum(queued) <= len(owners) + len(managers) + 30
    assert sum(queued) < people + devices  # before: several per person and per device
    assert len(await world.directory.people()) == people
    assert [d.id for d in await world.devices.devices_of("u00007")] == ["NB-7"]
    assert len(await world.directory.reports_of("u00000")) == 8
    assert len(await world.directory.people_with_role("oncall")) == 8


async def test_worlds_in_different_namespaces_are_isolated(
    store: Store, clock: ManualClock
) -> None:
    one = await SandboxWorld.create(store.child("s1"), GLOBEX, clock)
    two = await SandboxWorld.create(store.child("s2"), GLOBEX, clock)
    await one.directory.set_locked("alice", False)
    await one.directory.send_reset_link("alice")
    alice = await two.directory.person("alice")
    assert alice is not None
    assert alice.locked
    assert await two.outbox.secrets() == []
    assert (
        (await one.tickets.open(NewTicket(requester="a", queue="other", summary="s"))).id
        == (await two.tickets.open(NewTicket(requester="a", queue="other", summary="s"))).id
        == "INC-0001"
    )


async def test_snapshot_is_an_org_document_of_the_current_state(world: SandboxWorld) -> None:
    await world.directory.add_member("alice", "finance-reports")
    await world.devices.install("LT-2001", "zoom")
    await world.devices.lock("LT-2001")
    snap = await world.snapshot()
    assert set(snap) >= {"users", "groups", "devices"}
    alice = snap["users"]["alice"]
    assert set(alice) >= {
        "name",
        "email",
        "manager",
        "department",
        "title",
        "factors",
        "locked",
        "disabled",
        "privileged",
        "roles",
        "groups",
        "devices",
    }
    assert alice["groups"] == ["all-staff", "finance", "finance-reports"]
    assert alice["locked"] is True
    assert alice["devices"] == ["LT-2001"]
    assert snap["devices"]["LT-2001"] == {
        "owner": "alice",
        "os": "macos",
        "compliant": True,
        "installed": ["slack", "chrome", "zoom"],
        "locked": True,
    }
    assert snap["groups"]["finance-reports"]["owner"] == "carol"
    assert snap["now"] == T0.isoformat()


async def test_snapshot_loads_back_as_the_same_org(store: Store, clock: ManualClock) -> None:
    world = await SandboxWorld.create(store, ACME, clock)
    reloaded: Org = parse_org(await world.snapshot(), "snapshot")

    def by_id(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: getattr(item, "username", None) or item.id)

    assert by_id(reloaded.people()) == by_id(ACME.people())
    assert by_id(reloaded.device_list()) == by_id(ACME.device_list())
    assert by_id(reloaded.group_list()) == by_id(ACME.group_list())
    assert by_id(reloaded.catalogue()) == by_id(ACME.catalogue())
    assert reloaded.recovery_email_of("hana") == ACME.recovery_email_of("hana")
    assert reloaded.phone_of("lena") == "+44 7700 900456"
    assert world.knowledge == ACME.knowledge
    assert world.org is ACME


async def test_enrolment_links_go_by_email_even_with_sms_registered(
    store: Store, clock: ManualClock
) -> None:
    world = await SandboxWorld.create(store, GLOBEX, clock)
    person = await world.directory.person("bob")
    assert person is not None
    assert "sms" in person.factors  # a reset link would go by SMS ...
    await world.directory.send_reset_link("bob")
    sent = await world.directory.send_enrolment_link("bob")  # ... the enrolment link never
    reset, enrol = await world.outbox.items("bob")
    assert reset.channel == "sms"
    assert (enrol.channel, enrol.address) == ("email", "b\u2022\u2022\u2022@globex.test")
    assert sent.address == enrol.address
