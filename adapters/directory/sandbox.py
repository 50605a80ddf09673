"""The sandbox directory: people, groups, sign-in factors and account state from an org file,
held in Redis so that what the desk changes stays changed (across restarts, across workers).

Besides the `Directory` port it keeps what a real identity provider would show an admin:
active sessions per person, how often they were revoked, MFA resets, and a log of every
change the port made (`changes`). Lookups by e-mail, role and manager are Redis indexes kept
in the same transaction as the person they index, so a turn never reads the whole
directory. Out-of-band addresses and links are `adapters.directory.sandbox_links`;
passwords, kept as salted hashes, `adapters.directory.sandbox_passwords`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import get_args

from redis.asyncio.client import Pipeline

from adapters.capabilities import Capabilities
from adapters.changelog import RedisChangeLog
from adapters.directory.sandbox_links import Contact, SandboxLinks
from adapters.directory.sandbox_lockouts import SandboxLockouts
from adapters.directory.sandbox_passwords import SandboxPasswords
from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.models import FactorKind, Group, Person, Role
from bot.org import Org, default_phone
from bot.ports import (
    DIRECTORY_CAPABILITIES,
    BackendChange,
    ChangeOp,
    ConflictError,
    LinkSent,
    Outbox,
)
from bot.store import Store

ROLES: frozenset[str] = frozenset(get_args(Role))


class SandboxDirectory:
    """The `Directory` port over Redis, seeded from an org file by `SandboxWorld`.

    `unsupported` names capabilities (`bot.ports.DIRECTORY_CAPABILITIES`) it acts as if it
    lacked, raising `Unsupported` as a real directory without them would."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        outbox: Outbox,
        *,
        domain: str = "sandbox.test",
        unsupported: Iterable[str] = (),
    ) -> None:
        self.capabilities = Capabilities(unsupported, DIRECTORY_CAPABILITIES, "directory")
        self._store = store.child("directory")
        self._clock = clock
        self._outbox = outbox
        self._domain = domain
        self._people = JsonRecords(self._store, "person", Person)
        self._groups = JsonRecords(self._store, "group", Group)
        self._contacts = JsonRecords(self._store, "contact", Contact)
        self.changelog = self.change_log(store, clock)
        self._links = SandboxLinks(
            self._store, clock, outbox, domain, self._people, self._contacts, self.changelog
        )
        self.passwords = SandboxPasswords(self._store, clock, self._people, self.changelog)
        self.lockouts = SandboxLockouts(self._store, clock)  # the lockout feed of this directory

    @staticmethod
    def change_log(store: Store, clock: Clock) -> RedisChangeLog:
        """The log of what the directory in `store` changed (read without its org)."""
        return RedisChangeLog(store.child("directory"), "directory", clock)

    def stage_seed(self, pipe: Pipeline, org: Org) -> None:
        """Queue the org's people and groups on the seeding transaction, a few commands per
        kind of record rather than several per person."""
        people = org.people()
        if people:
            self._people.stage_many(pipe, {p.username: p for p in people})
            self._contacts.stage_many(
                pipe,
                {
                    p.username: Contact(
                        phone=org.phone_of(p.username),
                        recovery_email=org.users[p.username].recovery_email,
                    )
                    for p in people
                },
            )
            emails = {p.email.lower(): p.username for p in people}
            pipe.hset(self._store.key("emails"), mapping=emails)  # type: ignore[arg-type]
            # one session per device plus the browser; a disabled account has none
            sessions = {p.username: 0 if p.disabled else len(p.devices) + 1 for p in people}
            pipe.hset(self._store.key("sessions"), mapping=sessions)  # type: ignore[arg-type]
            self.stage_indexes(pipe, *people)
        self._groups.stage_many(pipe, {group.id: group for group in org.group_list()})

    def stage_indexes(self, pipe: Pipeline, *people: Person) -> None:
        """Queue the people's entries in the role and manager indexes, one command per role
        and per manager (adding is idempotent, so a world kept from before the indexes
        existed is brought up to date with it)."""
        members: dict[str, list[str]] = {}
        for person in people:
            for role in person.roles:
                members.setdefault(self._role_key(role), []).append(person.username)
            if person.manager is not None:
                members.setdefault(self._reports_key(person.manager), []).append(person.username)
        for key, usernames in members.items():
            pipe.sadd(key, *usernames)

    def _move_indexes(self, pipe: Pipeline, before: Person, after: Person) -> None:
        for role in set(before.roles) - set(after.roles):
            pipe.srem(self._role_key(role), after.username)
        if before.manager is not None and before.manager != after.manager:
            pipe.srem(self._reports_key(before.manager), after.username)
        self.stage_indexes(pipe, after)

    def _role_key(self, role: str) -> str:
        return self._store.key("role", role)

    def _reports_key(self, manager: str) -> str:
        return self._store.key("reports", manager)

    async def _update(
        self,
        username: str,
        change: Callable[[Person], Person],
        op: ChangeOp | None = None,
        **target: str | bool,
    ) -> Person:
        """Change a person and, in the same transaction, the indexes the change moves and
        the change log's entry (none when the change left the person as they were). Only
        the port's writes (the desk's) are logged: the sandbox-only ones stand for people
        in the admin console or enrolling themselves, whom a real log names apart."""

        def also(pipe: Pipeline, before: Person, after: Person) -> None:
            self._move_indexes(pipe, before, after)
            if op is not None and after != before:
                self.changelog.stage(pipe, op, user=username, **target)

        return await self._people.update(username, change, also=also)

    async def _indexed(self, key: str) -> list[Person]:
        usernames = sorted(text(member) for member in await self._store.redis.smembers(key))
        return await self._people.many(usernames)

    # --- reading --------------------------------------------------------------------------

    async def person(self, username: str) -> Person | None:
        return await self._people.get(username)

    async def person_by_email(self, email: str) -> Person | None:
        username = await self._store.redis.hget(self._store.key("emails"), email.strip().lower())
        return None if username is None else await self.person(text(username))

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        return None  # an org file names no cloud identities: people are found by e-mail

    async def people_with_role(self, role: str) -> list[Person]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; the roles are {', '.join(sorted(ROLES))}")
        return await self._indexed(self._role_key(role))

    async def reports_of(self, manager: str) -> list[Person]:
        return await self._indexed(self._reports_key(manager))

    async def people(self) -> list[Person]:
        return await self._people.all()

    async def group(self, group_id: str) -> Group | None:
        return await self._groups.get(group_id)

    async def groups(self) -> list[Group]:
        return await self._groups.all()

    async def contact(self, username: str) -> Contact | None:
        return await self._contacts.get(username)

    async def changes(self, since: datetime, until: datetime) -> list[BackendChange]:
        return await self.changelog.changes(since, until)

    # --- account state ----------------------------------------------------------------------

    async def set_locked(self, username: str, locked: bool) -> None:
        self.capabilities.require("lock" if locked else "unlock")
        await self._update(
            username, lambda p: p.model_copy(update={"locked": locked}), "set_locked", value=locked
        )

    async def lock_out(self, username: str, *, reason: str = "failed sign-ins") -> None:
        """Sandbox only: the account locks itself after failed sign-ins, as a directory's
        lockout policy does, and the lockout is recorded for the feed (`lockouts`). Not the
        desk's write, so not in the change log."""

        def also(pipe: Pipeline, before: Person, after: Person) -> None:
            self._move_indexes(pipe, before, after)
            if not before.locked:
                self.lockouts.stage(pipe, username, reason)

        await self._people.update(
            username, lambda p: p.model_copy(update={"locked": True}), also=also
        )

    async def set_disabled(self, username: str, disabled: bool) -> None:
        self.capabilities.require("disable" if disabled else "enable")
        await self._update(
            username,
            lambda p: p.model_copy(update={"disabled": disabled}),
            "set_disabled",
            value=disabled,
        )

    async def add_member(self, username: str, group_id: str) -> None:
        self.capabilities.require("group_membership")
        await self._groups.require(group_id)
        await self._update(
            username,
            lambda p: p if group_id in p.groups else p.model_copy(
                update={"groups": (*p.groups, group_id)}
            ),
            "add_member",
            group=group_id,
        )  # fmt: skip

    async def remove_member(self, username: str, group_id: str) -> None:
        self.capabilities.require("group_membership")
        await self._groups.require(group_id)
        await self._update(
            username,
            lambda p: p.model_copy(update={"groups": tuple(g for g in p.groups if g != group_id)}),
            "remove_member",
            group=group_id,
        )

    async def revoke_sessions(self, username: str) -> int | None:
        """End every active session; returns how many there were (None when built without
        `session_count`, as a directory that cannot count them)."""
        self.capabilities.require("revoke_sessions")
        await self._people.require(username)
        entry, score = self.changelog.entry("revoke_sessions", user=username)
        ended = await self._store.redis.eval(
            _REVOKE, 3, self._store.key("sessions"), self._store.key("revocations"),
            self.changelog.key, username, entry, score,
        )  # fmt: skip
        return int(ended or 0) if self.capabilities.has("session_count") else None

    async def sessions(self, username: str) -> int:
        """Active sessions now (what an admin console would show)."""
        self.capabilities.require("session_count")
        await self._people.require(username)
        return int(await self._store.redis.hget(self._store.key("sessions"), username) or 0)

    async def revocations(self, username: str) -> int:
        """How many times the person's sessions were revoked (sandbox only)."""
        return int(await self._store.redis.hget(self._store.key("revocations"), username) or 0)

    async def reset_factors(self, username: str) -> None:
        """Forget every registered sign-in factor: the person enrols again from a link."""
        self.capabilities.require("reset_factors")
        await self._update(username, lambda p: p.model_copy(update={"factors": ()}),
                           "reset_factors")  # fmt: skip
        await self._store.redis.hincrby(self._store.key("factor-resets"), username, 1)

    async def factor_resets(self, username: str) -> int:
        """How many times the person's factors were reset (sandbox only)."""
        return int(await self._store.redis.hget(self._store.key("factor-resets"), username) or 0)

    async def set_factors(self, username: str, factors: tuple[FactorKind, ...]) -> None:
        """Register exactly these factors (sandbox only, for tests)."""
        await self._update(username, lambda p: p.model_copy(update={"factors": factors}))

    async def enrol_factor(self, username: str, factor: FactorKind) -> None:
        """Register a factor, as the person does from an enrolment link (sandbox only)."""
        await self._update(
            username,
            lambda p: p if factor in p.factors else p.model_copy(
                update={"factors": (*p.factors, factor)}
            ),
        )  # fmt: skip

    async def set_roles(self, username: str, roles: tuple[Role, ...]) -> None:
        """Give the person exactly these roles, as an admin does in the console (sandbox only)."""
        unknown = sorted(set(roles) - ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}; the roles are {', '.join(sorted(ROLES))}")
        wanted = tuple(dict.fromkeys(roles))
        await self._update(username, lambda p: p.model_copy(update={"roles": wanted}))

    async def set_manager(self, username: str, manager: str | None) -> None:
        """Change whom the person reports to, as HR does (sandbox only)."""
        if manager == username:
            raise ValueError(f"{username!r} cannot be their own manager")
        if manager is not None:
            await self._people.require(manager)
        await self._update(username, lambda p: p.model_copy(update={"manager": manager}))

    async def create_person(self, person: Person) -> None:
        """Add a new account. Creating the same person again is a no-op; a different person
        under a taken username or e-mail is a `ConflictError`."""
        self.capabilities.require("create_person")
        existing = await self.person(person.username)
        if existing is not None:
            if existing == person:  # a retry, perhaps after a crash before the indexes
                if await self.contact(person.username) is None:
                    await self._finish_creating(person)
                else:
                    await self._index(person)
                return
            raise ConflictError(f"username {person.username!r} is taken")
        await self._check_references(person)
        email = person.email.lower()
        if not await self._store.redis.hsetnx(self._store.key("emails"), email, person.username):
            owner = await self._store.redis.hget(self._store.key("emails"), email)
            if owner is None or text(owner) != person.username:
                raise ConflictError(f"e-mail {person.email!r} is taken")
        if not await self._people.add(person.username, person):
            raise ConflictError(f"username {person.username!r} is taken")
        await self._finish_creating(person)

    async def _finish_creating(self, person: Person) -> None:
        """A new account's indexes, contact and change log entry, in one transaction."""
        async with self._store.redis.pipeline(transaction=True) as pipe:
            self.stage_indexes(pipe, person)
            contact = Contact(phone=default_phone(person.username))
            self._contacts.stage(pipe, person.username, contact)
            self.changelog.stage(pipe, "create_person", user=person.username)
            await pipe.execute()

    async def _index(self, person: Person) -> None:
        async with self._store.redis.pipeline(transaction=True) as pipe:
            self.stage_indexes(pipe, person)
            await pipe.execute()

    async def _check_references(self, person: Person) -> None:
        if person.manager is not None:
            await self._people.require(person.manager)
        for group_id in person.groups:
            await self._groups.require(group_id)
        if person.devices:
            raise ValueError("a new account gets devices through device management")

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        """Set the password the sandbox's policy allows (`sandbox_passwords`); read it back
        with `passwords.matches`."""
        self.capabilities.require("set_password")
        await self.passwords.set(username, password, must_change=must_change)

    # --- out-of-band addresses and links (`adapters.directory.sandbox_links`) --------------

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        return await self._links.factor_address(username, factor)

    async def recovery_address(self, username: str) -> str | None:
        return await self._links.recovery_address(username)

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        self.capabilities.require("reset_link")
        return await self._links.send(username, "reset_link", key)

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        self.capabilities.require("enrolment_link")
        return await self._links.send(username, "enrolment_link", key)


# KEYS: sessions, revocations, change log. ARGV: username, the change log entry, its score.
# The sessions end, and the revocation is logged when there were any to end.
_REVOKE = """
local ended = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
redis.call('HSET', KEYS[1], ARGV[1], 0)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if ended > 0 then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2]) end
return ended
"""
