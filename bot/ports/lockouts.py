"""New lockouts, as a directory records them, for the desk to reach out first: the
`LockoutFeed` port, read by polling with a cursor the feed itself defines."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class Lockout(BaseModel):
    """One account found locked (or flagged at risk) by its directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The feed's own id for the event: the same lockout read twice has the same id, so the
    # desk reaches out once (an Okta log event's uuid; "<username>@<lockoutTime>" for AD).
    id: str = Field(min_length=1)
    username: str  # the desk's username for the person, as `Directory.person` finds them
    at: datetime  # when the account was locked, as the directory says
    kind: Literal["locked", "risk"] = "locked"  # risk: Entra flagged the sign-in risky
    source: str  # which directory said so: okta, entra, ad, ldap, sandbox
    # What the directory gave as the cause, in plain words ("failed sign-ins"), never a
    # password, an address or the source IP of the attempts.
    reason: str = ""


class LockoutPage(BaseModel):
    """What one poll found, and where the next poll starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lockouts: tuple[Lockout, ...] = ()
    cursor: str  # opaque to the desk; kept in Redis between polls


class LockoutFeed(Protocol):
    """New lockouts since a cursor. A first poll (`cursor` None) starts now: it returns no
    history, only the cursor to go on from, so a new desk does not DM everyone ever locked.
    A lockout may come again in a later page (the desk de-duplicates by `Lockout.id`); one
    must never be skipped. A directory that cannot be read raises, and the desk polls again
    from the same cursor."""

    async def lockouts_since(self, cursor: str | None) -> LockoutPage: ...
