"""People, groups, sign-in factors and account state, and where people are reached out of
band: the `Directory` and `Contacts` ports."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from bot.models import FactorKind, Group, Person


class ContactPoints(BaseModel):
    """Where a person can be reached out of band, as the directory records it (never an
    address typed in chat): the primary mailbox (often behind the very account that is
    locked), a secondary address, a mobile number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str
    secondary_email: str | None = None
    mobile: str | None = None


@runtime_checkable
class Contacts(Protocol):
    """The addresses on record of each person, for the providers that deliver codes, links
    and change notices."""

    async def contact_points(self, username: str) -> ContactPoints | None:
        """The person's addresses on record; None for a person the directory does not have."""
        ...


class LinkSent(BaseModel):
    """A reset or enrolment link the directory sent: where it went, masked for chat. The
    link itself (its token) never leaves the directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str


# Which kind of directory masters an account: where its password, lock and enabled state are
# changed. A cloud directory answers its own kind, or the on-premises one it syncs from.
Master = Literal["okta", "entra", "ad", "ldap", "sandbox"]


@runtime_checkable
class Mastered(Protocol):
    """A directory that can say which directory masters each person (Okta's
    `credentials.provider`, Entra's `onPremisesSyncEnabled`), so that with several
    directories (ITDESK_DIRECTORY=okta,ad) each person's writes go to the right one."""

    async def master_of(self, username: str) -> Master | None:
        """None for a person this directory does not have."""
        ...


class Directory(Protocol):
    """People, groups, factors and account state.

    The desk's turns use the lookups (`person`, `person_by_email`, `people_with_role`,
    `reports_of`, `group`); `people` and `groups` read the whole directory and are for
    catalogue refreshes only (the understanding's vocabulary, the web chat's picker)."""

    async def person(self, username: str) -> Person | None: ...
    async def person_by_email(self, email: str) -> Person | None:
        """The person with this e-mail address (case and surrounding blanks ignored)."""
        ...

    async def person_by_cloud_id(self, object_id: str) -> Person | None:
        """The person whose cloud identity the directory records: the Entra object id Teams
        gives as `aadObjectId` (AD synced by Entra Connect keeps it, written back, in
        `msDS-ExternalDirectoryObjectId`). None where the directory records none: then the
        person is found by their UPN or e-mail."""
        ...

    async def people_with_role(self, role: str) -> list[Person]:
        """Everyone holding one of the desk's roles (`bot.models.Role`), disabled accounts
        included, ordered by username. An unknown role name is a `ValueError`."""
        ...

    async def reports_of(self, manager: str) -> list[Person]:
        """The people whose manager is `manager`, ordered by username; nobody for an
        unknown username."""
        ...

    async def people(self) -> list[Person]:
        """Everyone, ordered by username: a full read, for catalogue refreshes only."""
        ...

    async def group(self, group_id: str) -> Group | None: ...
    async def groups(self) -> list[Group]:
        """Every group, ordered by id: a full read, for catalogue refreshes only."""
        ...

    # Every write below raises `NotFoundError` for a person (or group) the directory does
    # not have, and `Unsupported` with the capability named when the backend cannot do it.

    async def set_locked(self, username: str, locked: bool) -> None:
        """Lock or unlock the account. `Unsupported("unlock")` / `Unsupported("lock")`."""
        ...

    async def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable or enable the account. `Unsupported("disable")` / `Unsupported("enable")`."""
        ...

    async def add_member(self, username: str, group_id: str) -> None:
        """Add to the group (a member already stays as they are). `Unsupported(
        "group_membership")` for a group the backend cannot change (synced from elsewhere)."""
        ...

    async def remove_member(self, username: str, group_id: str) -> None:
        """Remove from the group (nothing changes for a non-member); as `add_member`."""
        ...

    async def revoke_sessions(self, username: str) -> int | None:
        """End every open sign-in session: how many there were, or None when the backend
        cannot count them (it lacks `session_count`). `Unsupported("revoke_sessions")`."""
        ...

    async def sessions(self, username: str) -> int:
        """How many sign-in sessions the person has open now. `Unsupported("session_count")`."""
        ...

    async def reset_factors(self, username: str) -> None:
        """Forget every registered sign-in factor. `Unsupported("reset_factors")`."""
        ...

    async def create_person(self, person: Person) -> None:
        """Create the account. The same person again is a no-op; another person under a taken
        username or e-mail is a `ConflictError`; an unknown manager or group `NotFoundError`.
        `Unsupported("create_person")` where accounts come from an HR system."""
        ...

    async def factor_address(self, username: str, factor: FactorKind) -> str | None:
        """Where a check on this factor goes, masked for chat ("+44 •••• ••12")."""
        ...

    async def recovery_address(self, username: str) -> str | None:
        """Where a reset or enrolment link goes, masked for chat."""
        ...

    async def send_reset_link(self, username: str, *, key: str | None = None) -> LinkSent:
        """Mint a password reset token and send the link to the recovery address. `key` names
        the request: a backend that can de-duplicate sends one link per key (a retry after a
        lost answer gets the first link's `LinkSent`), one that cannot sends another.
        `NotFoundError` for an unknown person, `Unsupported("reset_link")`."""
        ...

    async def send_enrolment_link(self, username: str, *, key: str | None = None) -> LinkSent:
        """Send a link to register a new sign-in factor (after an MFA reset) to the recovery
        e-mail; `key` as above. `Unsupported("enrolment_link")`."""
        ...

    async def set_password(self, username: str, password: str, *, must_change: bool) -> None:
        """Set the person's password, as they chose it on a reset page (the desk's own, for a
        directory that cannot send reset links: `bot.reset_links`); with `must_change` it must
        be changed at the next sign-in. A password the directory's policy refuses (too short,
        too like the old one) is a `ValueError` whose message is the server's plain reason,
        shown to the person as it is, so it never holds the password.
        `Unsupported("set_password")` where the desk may not set passwords."""
        ...
