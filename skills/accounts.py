"""Skills on a person's own account: unlock, password reset, MFA reset, session revocation."""

from __future__ import annotations

from typing import Literal

from bot.intents import intent
from bot.plans import Referral
from bot.ports import ClearsByItself, Unsupported
from skills.base import (
    CapabilityMissing,
    PreconditionFailed,
    Skill,
    SkillContext,
    SkillParams,
    SkillResult,
)
from skills.planning import Ask, Lookups, Proposal
from skills.targets import EXAMPLES, Username, require_active_person, require_person


class UserParams(SkillParams):
    user: Username


def _own_account(ask: Ask) -> Proposal:
    return Proposal(params={"user": ask.subject}, resource_id=ask.subject)


class UnlockAccount(Skill[UserParams]):
    """Unlock a locked-out directory account.

    The canonical skill: copy its shape."""

    name = "unlock_account"
    Params = UserParams
    intents = (intent(EXAMPLES, "account_unlock", "accounts", "their own account is locked out"),)

    async def plan(self, ask: Ask, find: Lookups) -> Proposal:
        return _own_account(ask)

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        person = await ctx.directory.person(params.user)
        if person is None:
            raise PreconditionFailed("unknown_user", f"no directory user {params.user}")
        if person.disabled:
            raise PreconditionFailed("account_disabled")

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        person = await ctx.directory.person(params.user)
        if person is not None and not person.locked:
            return SkillResult(changed=False, summary=self.said("already"))
        try:
            await ctx.directory.set_locked(params.user, False)
        except ClearsByItself as exc:  # nothing to do but wait, or reset the password
            await ctx.receipts.put("clears_by_itself", {"user": params.user})
            return SkillResult(changed=False, summary=self.said("clears", count=exc.minutes))
        except Unsupported as exc:  # a technician unlocks it where the lock-out lives
            raise CapabilityMissing.of(exc) from exc
        return SkillResult(changed=True, summary=self.said("done"))

    async def verify(self, ctx: SkillContext, params: UserParams) -> bool:
        """Unlocked, or a lock that lifts itself (the person was told when)."""
        person = await ctx.directory.person(params.user)
        if person is None:
            return False
        return not person.locked or await ctx.receipts.get("clears_by_itself") is not None


LinkKind = Literal["reset_link", "enrolment_link"]


async def _link_sent(ctx: SkillContext, user: str, kind: LinkKind) -> str | None:
    """Where this request's link already went, if it sent one: a retry must not send a
    second link (the directory cannot show what it sent, so the desk's receipt says)."""
    receipt = await ctx.receipts.get(kind)
    if receipt is None or receipt.get("user") != user:
        return None
    return str(receipt["address"])


async def _send_link(ctx: SkillContext, user: str, kind: LinkKind) -> str:
    """Have the directory send the link, and record where it went before saying so."""
    send = (
        ctx.directory.send_reset_link if kind == "reset_link" else ctx.directory.send_enrolment_link
    )
    try:
        # the same key on a retry: a directory that de-duplicates sends the link once even
        # when its first answer was lost before the receipt was written
        sent = await send(user, key=f"{ctx.idempotency_key}:{kind}")
    except Unsupported as exc:
        raise CapabilityMissing.of(exc) from exc
    await ctx.receipts.put(kind, {"user": user, "address": sent.address})
    return sent.address


async def _require_recovery_address(ctx: SkillContext, user: str) -> None:
    if await ctx.directory.recovery_address(user) is None:
        raise PreconditionFailed("no_recovery_address", f"{user} has nowhere to send a link")


class ResetPassword(Skill[UserParams]):
    """Send the person a password reset link at their registered recovery address.

    The password never passes through chat: the directory mints the token and delivers the
    link out of band; the summary names only the masked address it went to."""

    name = "reset_password"
    Params = UserParams
    readback = "receipt"
    intents = (
        intent(
            EXAMPLES,
            "password_reset",
            "accounts",
            "forgot, expired or wants to change their password",
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal:
        return _own_account(ask)

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        await require_active_person(ctx, params.user)
        await _require_recovery_address(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        address = await _link_sent(ctx, params.user, "reset_link")
        changed = address is None
        if address is None:
            address = await _send_link(ctx, params.user, "reset_link")
        return SkillResult(
            changed=changed,
            summary=self.said("done", address=address),
            details={"sent_to": address},
        )

    async def verify(self, ctx: SkillContext, params: UserParams) -> bool:
        # a sent link cannot be read back from a directory; the receipt is what is known
        return await _link_sent(ctx, params.user, "reset_link") is not None


class ResetMfa(Skill[UserParams]):
    """Reset the person's sign-in verification (MFA) and send them a link to set it up again.

    Every registered factor is forgotten; the enrolment link goes to the recovery e-mail. On a
    retry the factors are reset only if the link has not gone out yet, so a person who has
    already enrolled again is not reset twice."""

    name = "reset_mfa"
    Params = UserParams
    readback = "receipt"
    intents = (
        intent(
            EXAMPLES,
            "mfa_reset",
            "accounts",
            "new or lost phone, authenticator/MFA prompts broken, re-enrol a factor",
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal:
        return _own_account(ask)

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        await require_active_person(ctx, params.user)
        await _require_recovery_address(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        address = await _link_sent(ctx, params.user, "enrolment_link")
        changed = address is None
        if address is None:
            person = await require_person(ctx, params.user)
            if person.factors:
                try:
                    await ctx.directory.reset_factors(params.user)
                except Unsupported as exc:
                    raise CapabilityMissing.of(exc) from exc
            address = await _send_link(ctx, params.user, "enrolment_link")
        return SkillResult(
            changed=changed,
            summary=self.said("done", address=address),
            details={"sent_to": address},
        )

    async def verify(self, ctx: SkillContext, params: UserParams) -> bool:
        # right after execute: the old factors are gone and the enrolment link is out
        person = await ctx.directory.person(params.user)
        sent = await _link_sent(ctx, params.user, "enrolment_link")
        return person is not None and not person.factors and sent is not None


class RevokeSessions(Skill[UserParams]):
    """Sign the person out everywhere by ending every open sign-in session.

    Used when credentials may be compromised and when someone leaves the company. Where the
    directory cannot count sessions it still revokes them, and says it cannot tell how many
    there were instead of claiming there were none."""

    name = "revoke_sessions"
    Params = UserParams
    intents = (
        intent(
            EXAMPLES,
            "security_incident",
            "security",
            "phishing, malware, suspicious login or message, compromise, leak",
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Referral:
        """Signed out at once when the person says credentials were entered or the account
        is compromised; any other incident is for security to look at."""
        if not ask.slots.get("credentials_exposed"):
            return Referral()
        return Proposal(
            params={"user": ask.subject},
            resource_id=ask.subject,
            credentials_exposed=True,
        )

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        await require_person(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        person = await require_person(ctx, params.user)
        open_now = await _open_sessions(ctx, params.user)
        if open_now == 0:
            return SkillResult(changed=False, summary=self.said_of(ctx, person, "none_open"))
        uncounted = self.said_of(ctx, person, "done_uncounted")
        if open_now is None and await ctx.receipts.get("revoked") is not None:
            return SkillResult(changed=False, summary=uncounted)  # a retry: done already
        try:
            ended = await ctx.directory.revoke_sessions(params.user)
        except Unsupported as exc:
            raise CapabilityMissing.of(exc) from exc
        if ended is None or open_now is None:
            await ctx.receipts.put("revoked", {"user": params.user})
            return SkillResult(changed=True, summary=uncounted)
        return SkillResult(
            changed=True,
            summary=self.said_of(ctx, person, "done"),
            details={"sessions_ended": ended},
        )

    async def verify(self, ctx: SkillContext, params: UserParams) -> bool:
        open_now = await _open_sessions(ctx, params.user)
        # without session counts there is nothing to read back: the directory accepted the
        # revocation, which is all it can tell
        return open_now is None or open_now == 0


async def _open_sessions(ctx: SkillContext, user: str) -> int | None:
    """Open sessions now, or None when the directory cannot count them."""
    try:
        return await ctx.directory.sessions(user)
    except Unsupported:
        return None
