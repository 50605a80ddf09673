"""The sandbox directory: people, groups, sign-in factors and account state from an org file,
held in Redis so that what the desk changes stays changed (across restarts, across workers).

Besides the `Directory` port it keeps what a real identity provider would show an admin:
active sessions per person, how often they were revoked, and MFA resets. Lookups by e-mail,
role and manager are Redis indexes kept in the same transaction as the person they index,
so a turn never reads the whole directory."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict
from redis.asyncio.client import Pipeline

from adapters.capabilities import Capabilities
from adapters.notify.sandbox import new_outbox_item
from adapters.records import JsonRecords, text
from bot.clock import Clock
from bot.masking import mask_email, mask_phone
from bot.models import FactorKind, Group, Person, Role
from bot.org import Org, default_phone
from bot.ports import (
    DIRECTORY_CAPABILITIES,
    ConflictError,
    LinkSent,
    NotFoundError,
    Outbox,
)
from bot.store import Store

RESET_LINK_TTL = timedelta(hours=1)
ENROLMENT_LINK_TTL = timedelta(hours=24)
LINK_KEYS_KEPT = timedelta(days=30)  # as long as the desk keeps a request's idempotency key
ROLES: frozenset[str] = frozenset(get_args(Role))


class Contact(BaseModel):
    """Where out-of-band messages reach a person. `recovery_email` is set only when the org
    names one; links then go there rather than to the phone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: str
    recovery_email: str | None = None


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

    async def _update(self, username: str, change: Callable[[Person], Person]) -> Person:
        """Change a person and, in the same transaction, the indexes the change moves."""
        return await self._people.update(username, change, also=self._move_indexes)

    async def _indexed(self, key: str) -> list[Person]:
        usernames = sorted(text(member) for member in await self._store.redis.smembers(key))
        return await self._people.many(usernames)

    # --- reading --------------------------------------------------------------------------

    async def person(self, username: str) -> Person | None:
        return await self._people.get(username)

    async def person_by_email(self, email: str) -> Person | None:
        username = await self._store.redis.hget(self._store.key("emails"), email.strip().lower())
        return None if username is None else await self.person(text(username))

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

    # --- account state ----------------------------------------------------------------------

    async def set_locked(self, username: str, locked: bool) -> None:
        self.capabilities.require("lock" if locked else "unlock")
        await self._update(username, lambda p: p.model_copy(update={"locked": locked}))

    async def set_disabled(self, username: str, disabled: bool) -> None:
        self.capabilities.require("disable" if disabled else "enable")
        await self._update(username, lambda p: p.model_copy(update={"disabled": disabled}))

    async def add_member(self, username: str, group_id: str) -> None:
        self.capabilities.require("group_membership")
        await self._groups.require(group_id)
        await self._update(
            username,
            lambda p: p if group_id in p.groups else p.model_copy(
                update={"groups": (*p.groups, group_id)}
            ),
        )  # fmt: skip

    async def remove_member(self, username: str, group_id: str) -> None:
        self.capabilities.require("group_membership")
        await self._groups.require(group_id)
        await self._update(
            username,
            lambda p: p.model_copy(update={"groups": tuple(g for g in p.groups if g != group_id)}),
        )

    async def revoke_sessions(self, username: str) -> int | None:
        """End every active session; returns how many there were (None when built without
        `session_count`, as a directory that cannot count them)."""
        self.capabilities.require("revoke_sessions")
        await self._people.require(username)
        async with self._store.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._store.key("sessions"), username)
            pipe.hset(self._store.key("sessions"), username, 0)
            pipe.hincrby(self._store.key("revocations"), username, 1)
            ended, _, _ = await pipe.execute()
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
        await self._update(username, lambda p: p.model_copy(update={"factors": ()}))
        await self._store.redis.hincrby(self._store.key("factor-resets"), username, 1)

    async def factor_resets(self, username: str) -> int:
        """How many times the person's factors were reset (sandbox only)."""
        return int(await self._store.redis.hget(self._store.key("factor-resets"), username) or 0)

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
            if existing == person:
                await self._index(person)  # a retry after a crash between record and index
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
        await self._index(person)
        await self._contacts.put(person.username, Contact(phone=default_phone(person.username)))

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

    # --- out-of-band addresses and links ----------------------------------------------------

    async def _person_and_contact(self, username: str) -> tuple[Person | None, Contact | None]:
        """Both records in one round trip (every address the desk shows needs both)."""
        raw_person, raw_contact = await self._store.redis.mget(
            [self._people.key(username), self._contacts.key(username)]
        )
        person = None if raw_person is None else Person.model_validate_json(raw_person)
        contact = None if raw_contact is None else Contact.model_validate_json(raw_contact)
        return person, contact

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        person, contact = await self._person_and_contact(username)
        if person is None or contact is None or factor not in person.factors:
            return None
        if factor == "email":
            return mask_email(contact.recovery_email or person.email)
        if factor == "totp":
            return "your authenticator app"
        return mask_phone(contact.phone)  # sms, and push to the app on that phone

    async def recovery_address(self, username: str) -> str | None:
        route = await self._recovery_route(username)
        return None if route is None else route[2]

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        self.capabilities.require("reset_link")
        return await self._send_link(
            username,
            "reset_link",
            "Reset your password here: https://login.{domain}/reset#{token} "
            "(valid for 1 hour; ignore this if you did not ask).",
            RESET_LINK_TTL,
            key,
        )

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        self.capabilities.require("enrolment_link")
        return await self._send_link(
            username,
            "enrolment_link",
            "Set up sign-in verification here: https://login.{domain}/enrol#{token} "
            "(valid for 24 hours).",
            ENROLMENT_LINK_TTL,
            key,
            email_only=True,
        )

    async def _send_link(
        self,
        username: str,
        kind: Literal["reset_link", "enrolment_link"],
        template: str,
        ttl: timedelta,
        key: str | None,
        *,
        email_only: bool = False,
    ) -> LinkSent:
        # one link per request key, as an identity provider with idempotency keys does: the
        # desk's retry after a lost answer must not mint a second token
        sent_key = self._store.key("links", kind, username, key) if key else None
        if sent_key is not None and (sent := await self._store.redis.get(sent_key)) is not None:
            return LinkSent.model_validate_json(sent)
        route = await self._recovery_route(username, email_only=email_only)
        if route is None:
            raise NotFoundError("person", username)
        channel, _, masked = route
        token = secrets.token_urlsafe(24)
        item = new_outbox_item(
            self._clock,
            to=username,
            channel=channel,
            address=masked,
            kind=kind,
            text=template.format(domain=self._domain, token=token),
            secret=token,
            ttl=ttl,
        )
        await self._outbox.deliver(item)
        link = LinkSent(address=masked)
        if sent_key is not None:
            await self._store.redis.set(sent_key, link.model_dump_json(), ex=LINK_KEYS_KEPT)
        return link

    async def _recovery_route(
        self, username: str, *, email_only: bool = False
    ) -> tuple[Literal["sms", "email"], str, str] | None:
        """(channel, address, masked address) for links: an explicit recovery e-mail, else
        the phone when SMS is registered, else the work e-mail. Enrolment links after an MFA
        reset always go by e-mail: the phone may be the very factor that was lost."""
        person, contact = await self._person_and_contact(username)
        if person is None or contact is None:
            return None
        if not email_only and contact.recovery_email is None and "sms" in person.factors:
            return "sms", contact.phone, mask_phone(contact.phone)
        address = contact.recovery_email or person.email
        return "email", address, mask_email(address)
