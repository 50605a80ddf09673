"""The sandbox directory's out-of-band side: where a person's checks and links go (their
contact, masked for chat), and reset and enrolment links minted and delivered through the
outbox, once per request key, each logged in the directory's change log."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from adapters.changelog import RedisChangeLog
from adapters.notify.sandbox import new_outbox_item
from adapters.records import JsonRecords
from bot.clock import Clock
from bot.masking import mask_email, mask_phone
from bot.models import FactorKind, Person
from bot.ports import ChangeOp, LinkSent, NotFoundError, Outbox
from bot.store import Store

RESET_LINK_TTL = timedelta(hours=1)
ENROLMENT_LINK_TTL = timedelta(hours=24)
LINK_KEYS_KEPT = timedelta(days=30)  # as long as the desk keeps a request's idempotency key
LinkKind = Literal["reset_link", "enrolment_link"]
# what each link says, how long it lasts, whether it goes by e-mail only, how it is logged
_LINKS: dict[LinkKind, tuple[str, timedelta, bool, ChangeOp]] = {
    "reset_link": (
        "Reset your password here: https://login.{domain}/reset#{token} "
        "(valid for 1 hour; ignore this if you did not ask).",
        RESET_LINK_TTL,
        False,
        "send_reset_link",
    ),
    "enrolment_link": (
        "Set up sign-in verification here: https://login.{domain}/enrol#{token} "
        "(valid for 24 hours).",
        ENROLMENT_LINK_TTL,
        True,
        "send_enrolment_link",
    ),
}


class Contact(BaseModel):
    """Where out-of-band messages reach a person. `recovery_email` is set only when the org
    names one; links then go there rather than to the phone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: str
    recovery_email: str | None = None


class SandboxLinks:
    """Addresses and links over the directory's people and contacts."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        outbox: Outbox,
        domain: str,
        people: JsonRecords[Person],
        contacts: JsonRecords[Contact],
        changelog: RedisChangeLog,
    ) -> None:
        self._store = store
        self._clock = clock
        self._outbox = outbox
        self._domain = domain
        self._people = people
        self._contacts = contacts
        self._changelog = changelog

    async def person_and_contact(self, username: str) -> tuple[Person | None, Contact | None]:
        """Both records in one round trip (every address the desk shows needs both)."""
        raw_person, raw_contact = await self._store.redis.mget(
            [self._people.key(username), self._contacts.key(username)]
        )
        person = None if raw_person is None else Person.model_validate_json(raw_person)
        contact = None if raw_contact is None else Contact.model_validate_json(raw_contact)
        return person, contact

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        person, contact = await self.person_and_contact(username)
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

    async def send(self, username: str, kind: LinkKind, key: str | None) -> LinkSent:
        """Mint a link of `kind` and deliver it to the person's recovery route."""
        template, ttl, email_only, op = _LINKS[kind]
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
        async with self._store.redis.pipeline(transaction=True) as pipe:
            if sent_key is not None:
                pipe.set(sent_key, link.model_dump_json(), ex=LINK_KEYS_KEPT)
            self._changelog.stage(pipe, op, user=username)
            await pipe.execute()
        return link

    async def _recovery_route(
        self, username: str, *, email_only: bool = False
    ) -> tuple[Literal["sms", "email"], str, str] | None:
        """(channel, address, masked address) for links: an explicit recovery e-mail, else
        the phone when SMS is registered, else the work e-mail. Enrolment links after an MFA
        reset always go by e-mail: the phone may be the very factor that was lost."""
        person, contact = await self.person_and_contact(username)
        if person is None or contact is None:
            return None
        if not email_only and contact.recovery_email is None and "sms" in person.factors:
            return "sms", contact.phone, mask_phone(contact.phone)
        address = contact.recovery_email or person.email
        return "email", address, mask_email(address)
