"""Password reset links the desk sends itself, for a directory that cannot (OpenLDAP, Active
Directory): `DeskResetLinks` is that directory with `send_reset_link` done by the desk.

The link is `<public_url>/reset/<token>`, a token of `bot.state.reset_tokens` bound to the
person, the case and the address it went to, and the page behind it is the desk's own
(`bot.reset_page`), which sets the password the person chooses through the directory's
`set_password`. Where the organisation has its own reset portal (`password_reset_url`) the
link points there instead, no token is minted and the desk serves no page. Either way the
link goes out of band, through the `Outbox` port, to the address on record: never in chat."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import structlog

from bot import texts
from bot.backends import Backends
from bot.clock import Clock
from bot.models import FactorKind, Group, Person
from bot.ports import Directory, LinkSent, NotFoundError, Outbox, OutboxItem
from bot.settings import Settings
from bot.state.reset_tokens import ResetTokens
from bot.store import Store

log = structlog.get_logger("itdesk.reset_links")
LOCAL_URL = "http://127.0.0.1:8080"  # the desk's own address when it has no public one
# The key a skill sends a link under: "<case id>:<step>:reset_link" (`skills.accounts`).
_CASE_KEY = re.compile(r"^(?P<case>[^:]+):\d+:reset_link$")


@dataclass(frozen=True)
class ResetLinkConfig:
    """Where reset links point: the desk's page at `base_url`, or the org's `portal_url`."""

    base_url: str = LOCAL_URL
    portal_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None) -> ResetLinkConfig:
        if settings is None:
            return cls()
        public = settings.public_url
        base = str(public) if public else f"http://127.0.0.1:{settings.port}"
        return cls(base.rstrip("/"), settings.password_reset_url or None)

    @property
    def serves_page(self) -> bool:
        """Whether the desk serves the page its links open (no portal of the org's)."""
        return self.portal_url is None

    def link(self, token: str) -> str:
        return f"{self.base_url}/reset/{token}"


def case_of(key: str | None) -> str | None:
    """The case a request key belongs to, when a skill sent it (None otherwise)."""
    match = _CASE_KEY.match(key or "")
    return match["case"] if match else None


@runtime_checkable
class SomeSendLinks(Protocol):
    """A directory of several (`adapters.directory.routed`) where some people's directory
    sends reset links itself (Okta) and others' does not (AD): the desk sends links only
    for the others."""

    async def sends_reset_link(self, username: str) -> bool: ...


def sends_own_reset_links(directory: Directory) -> bool:
    """Whether the directory sends reset links itself. A cloud directory says so with a
    `sends_reset_links` attribute (Okta mails its own, Entra the org's SSPR link); the
    sandbox says what it lacks through `capabilities.has(name)`
    (`adapters.capabilities.Capabilities`); one that says nothing is taken to lack links,
    as a plain LDAP directory does."""
    own = getattr(directory, "sends_reset_links", None)
    if isinstance(own, bool):
        return own
    has = getattr(getattr(directory, "capabilities", None), "has", None)
    return bool(has("reset_link")) if callable(has) else False


def desk_reset_links(
    backends: Backends, store: Store, clock: Clock, settings: Settings | None
) -> DeskResetLinks | None:
    """The backends' directory with the desk's own reset links, or None when it sends its own."""
    if sends_own_reset_links(backends.directory):
        return None
    tokens = ResetTokens(store, clock)
    config = ResetLinkConfig.from_settings(settings)
    return DeskResetLinks(backends.directory, tokens, backends.outbox, clock, config)


class DeskResetLinks:
    """A `Directory` whose reset links the desk mints and sends (once per request key);
    everything else is the inner directory's."""

    def __init__(
        self,
        inner: Directory,
        tokens: ResetTokens,
        outbox: Outbox,
        clock: Clock,
        config: ResetLinkConfig,
    ) -> None:
        self.inner = inner
        self.tokens = tokens
        self.outbox = outbox
        self.config = config
        self._clock = clock

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        if isinstance(self.inner, SomeSendLinks) and await self.inner.sends_reset_link(username):
            return await self.inner.send_reset_link(username, key=key)
        address = await self.inner.recovery_address(username)
        if address is None:
            if await self.inner.person(username) is None:
                raise NotFoundError("person", username)
            raise NotFoundError("recovery address", username)
        if not self.config.serves_page:
            return await self._send_portal_link(username, address, key)
        case_id = case_of(key)
        issued = await self.tokens.issue(username, address=address, case_id=case_id, request=key)
        if issued.token is None:  # this request's link went out already
            return LinkSent(address=issued.grant.address)
        minutes = int(self.tokens.ttl.total_seconds() // 60)
        text = texts.say("reset.link", link=self.config.link(issued.token), count=minutes)
        item = self._item(username, address, text, issued.token, issued.grant.expires_at)
        try:
            await self.outbox.deliver(item)
        except Exception:
            await self.tokens.revoke(issued.token)  # never delivered: a retry mints anew
            raise
        log.info("reset_link.sent", user=username, case=case_id)
        return LinkSent(address=address)

    async def _send_portal_link(self, username: str, address: str, key: str | None) -> LinkSent:
        if key is None or await self.tokens.first_request(key):
            text = texts.say("reset.portal_link", link=self.config.portal_url)
            await self.outbox.deliver(self._item(username, address, text))
            log.info("reset_link.portal_sent", user=username, case=case_of(key))
        return LinkSent(address=address)

    def _item(
        self,
        username: str,
        address: str,
        text: str,
        secret: str | None = None,
        expires_at: datetime | None = None,
    ) -> OutboxItem:
        return OutboxItem(
            id=f"ob-{secrets.token_hex(6)}",
            to=username,
            channel="email" if "@" in address else "sms",
            address=address,
            kind="reset_link",
            text=text,
            secret=secret,
            created_at=self._clock.now(),
            expires_at=expires_at,
        )

    # --- the inner directory's -------------------------------------------------------------

    async def person(self, username: str) -> Person | None:
        return await self.inner.person(username)

    async def person_by_email(self, email: str) -> Person | None:
        return await self.inner.person_by_email(email)

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        return await self.inner.person_by_cloud_id(object_id)

    async def people_with_role(self, role: str) -> list[Person]:
        return await self.inner.people_with_role(role)

    async def reports_of(self, manager: str) -> list[Person]:
        return await self.inner.reports_of(manager)

    async def people(self) -> list[Person]:
        return await self.inner.people()

    async def group(self, group_id: str) -> Group | None:
        return await self.inner.group(group_id)

    async def groups(self) -> list[Group]:
        return await self.inner.groups()

    async def set_locked(self, username: str, locked: bool) -> None:
        await self.inner.set_locked(username, locked)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        await self.inner.set_disabled(username, disabled)

    async def add_member(self, username: str, group_id: str) -> None:
        await self.inner.add_member(username, group_id)

    async def remove_member(self, username: str, group_id: str) -> None:
        await self.inner.remove_member(username, group_id)

    async def revoke_sessions(self, username: str) -> int | None:
        return await self.inner.revoke_sessions(username)

    async def sessions(self, username: str) -> int:
        return await self.inner.sessions(username)

    async def reset_factors(self, username: str) -> None:
        await self.inner.reset_factors(username)

    async def create_person(self, person: Person) -> None:
        await self.inner.create_person(person)

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        return await self.inner.factor_address(username, factor)

    async def recovery_address(self, username: str) -> str | None:
        return await self.inner.recovery_address(username)

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        return await self.inner.send_enrolment_link(username, key=key)

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        await self.inner.set_password(username, password, must_change=must_change)
