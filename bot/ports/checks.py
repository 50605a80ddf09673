"""Out-of-band sign-in checks: a push to approve, a code the provider sends and checks, or a
code the desk minted that the provider delivers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.models import FactorKind

# The factors from strongest to weakest: the order a provider lists a person's reach in.
FACTOR_STRENGTH: tuple[FactorKind, ...] = ("push", "totp", "sms", "email")
CheckStatus = Literal["pending", "approved", "denied", "expired", "withdrawn"]
Verifier = Literal["desk", "provider"]


class CheckRequest(BaseModel):
    """A check the desk asks a provider to issue on one of the person's registered factors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)  # the desk's id for it: the same key again is the same check
    username: str
    factor: FactorKind
    # What the person is shown, where the provider lets the desk word it (Okta Verify and
    # Twilio Verify templates use their own); "{code}" marks where a code goes, and a code
    # check's message without it is a `ValueError`.
    message: str
    # A one-time code the desk minted, for a provider that delivers the desk's code (SMS or
    # e-mail it sends as it is told); the desk then checks the answer against the salted
    # digest it keeps. A provider that mints and checks its own codes (Twilio Verify, an
    # authenticator app) leaves it unused and says so in `IssuedCheck.verifier`. None for a
    # push, or to ask the provider for its own code.
    code: str | None = None
    expires_at: datetime


class IssuedCheck(BaseModel):
    """A check as the provider issued it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str  # the provider's id (an Okta transaction, a Duo txid, a Twilio verification)
    kind: Literal["push", "code"]
    # Who judges the answer: the provider (a push, or a code it minted: `Checks.verify_code`)
    # or the desk (the code it offered in the request).
    verifier: Verifier
    address: str  # where it went, masked for chat
    expires_at: datetime  # the provider's own limit when it is sooner than the request's
    # A push with number matching (Okta Verify's number challenge): the number the person
    # must pick on the phone, shown to them in chat. Not a secret: without the phone it is
    # worth nothing, and it is what stops an approval given by reflex.
    number: str | None = None


class Reach(BaseModel):
    """A factor a provider can reach for one person, and where it goes, masked for chat."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factor: FactorKind
    address: str


class CheckState(BaseModel):
    """What the provider knows of a check now. A push is `pending` until answered
    (`approved` / `denied`), `expired` or `withdrawn`; a code the provider checks becomes
    `approved` on the right code and may become `denied` after too many wrong ones; a code
    the desk checks stays `pending` at the provider (it only delivered it) until it expires
    or is withdrawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: CheckStatus
    at: datetime | None = None  # when it left `pending`


class Checks(Protocol):
    """Out-of-band checks on registered factors: a push to approve (Okta Verify, Duo), a code
    the provider sends and checks (Twilio Verify, an authenticator app), or a code the desk
    minted that the provider delivers (SMS, e-mail). The desk learns a push's answer by
    reading `result`, never from what a chat turn claims. Every method but `issue` raises
    `NotFoundError` for a check id the provider does not know."""

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        """The person's factors this provider can send a check to, strongest first (push,
        authenticator code, SMS, e-mail), each with its masked address: what the directory
        has registered that the provider reaches (a push app the provider knows, a mobile on
        record). Nothing for a person it does not know or cannot reach; never an address
        typed in chat."""
        ...

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        """Send the check. `Unsupported(<factor>)` when the provider cannot reach that kind of
        factor (no push), `NotFoundError` when the person has no such factor registered."""
        ...

    async def result(self, check_id: str) -> CheckState: ...

    async def verify_code(self, check_id: str, code: str) -> bool:
        """Check a code the person typed, for a check whose `verifier` is the provider: True
        for the right code while the check is open (it becomes `approved`). A `ValueError`
        for a check the desk verifies itself."""
        ...

    async def withdraw(self, check_id: str) -> None:
        """The desk takes no answer to it any more (superseded, failed, the case moved on);
        a closed check stays as it is. `Unsupported("withdraw")` where a provider cannot."""
        ...
