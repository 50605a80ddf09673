"""Skills on a person's own account: unlock, password reset, MFA reset, session revocation."""

from __future__ import annotations

from bot.ports import OutboxItem, OutboxKind, Unsupported
from skills.base import (
    CapabilityMissing,
    PreconditionFailed,
    Skill,
    SkillContext,
    SkillParams,
    SkillResult,
)
from skills.targets import Username, require_active_person, require_person, whose


class UserParams(SkillParams):
    user: Username


class UnlockAccount(Skill[UserParams]):
    """Unlock a locked-out directory account.

    The canonical skill: copy its shape."""

    name = "unlock_account"
    title = "Unlock account"
    Params = UserParams

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        person = await ctx.directory.person(params.user)
        if person is None:
            raise PreconditionFailed("unknown_user", f"no directory user {params.user}")
        if person.disabled:
            raise PreconditionFailed("account_disabled")

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        person = await ctx.directory.person(params.user)
        if person is not None and not person.locked:
            return SkillResult(changed=False, summary="Your account is unlocked.")
        try:
            await ctx.directory.set_locked(params.user, False)
        except Unsupported as exc:  # a technician unlocks it where the lock-out lives
            raise CapabilityMissing.of(exc) from exc
        return SkillResult(changed=True, summary="Your account is unlocked. You can sign in now.")

    async def verify(self, ctx: SkillContext, params: UserParams) -> bool:
        person = await ctx.directory.person(params.user)
        return person is not None and not person.locked


async def _link_sent(ctx: SkillContext, user: str, kind: OutboxKind) -> OutboxItem | None:
    """The link this request already sent, if any: a retry must not mint a second one."""
    item = await ctx.outbox.item_by_ref(_link_ref(ctx, kind))
    return item if item is not None and item.kind == kind and item.to == user else None


def _link_ref(ctx: SkillContext, kind: OutboxKind) -> str:
    return f"{ctx.idempotency_key}:{kind}"


async def _require_recovery_address(ctx: SkillContext, user: str) -> None:
    if await ctx.directory.recovery_address(user) is None:
        raise PreconditionFailed("no_recovery_address", f"{user} has nowhere to send a link")


class ResetPassword(Skill[UserParams]):
    """Send the person a password reset link at their registered recovery address.

    The password never passes through chat: the directory mints the token and delivers the
    link out of band; the summary names only the masked address it went to."""

    name = "reset_password"
    title = "Reset password"
    Params = UserParams

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        await require_active_person(ctx, params.user)
        await _require_recovery_address(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        item = await _link_sent(ctx, params.user, "reset_link")
        changed = item is None
        if item is None:
            ref = _link_ref(ctx, "reset_link")
            item = await ctx.directory.send_reset_link(params.user, ref=ref)
        return SkillResult(
            changed=changed,
            summary=f"I've sent a reset link to {item.address}. Open it to choose a new password.",
            details={"sent_to": item.address},
        )

    async def verify(self, ctx: SkillContext, params: UserParams) -> bool:
        return await _link_sent(ctx, params.user, "reset_link") is not None


class ResetMfa(Skill[UserParams]):
    """Reset the person's sign-in verification (MFA) and send them a link to set it up again.

    Every registered factor is forgotten; the enrolment link goes to the recovery e-mail. On a
    retry the factors are reset only if the link has not gone out yet, so a person who has
    already enrolled again is not reset twice."""

    name = "reset_mfa"
    title = "Reset sign-in verification"
    Params = UserParams

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        await require_active_person(ctx, params.user)
        await _require_recovery_address(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        item = await _link_sent(ctx, params.user, "enrolment_link")
        changed = item is None
        if item is None:
            person = await require_person(ctx, params.user)
            if person.factors:
                await ctx.directory.reset_factors(params.user)
            ref = _link_ref(ctx, "enrolment_link")
            item = await ctx.directory.send_enrolment_link(params.user, ref=ref)
        return SkillResult(
            changed=changed,
            summary=(
                "I've reset your sign-in verification and sent a link to set it up again "
                f"to {item.address}."
            ),
            details={"sent_to": item.address},
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
    title = "Sign out everywhere"
    Params = UserParams

    async def preconditions(self, ctx: SkillContext, params: UserParams) -> None:
        await require_person(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: UserParams) -> SkillResult:
        person = await require_person(ctx, params.user)
        account = whose(ctx, person)
        open_now = await _open_sessions(ctx, params.user)
        if open_now == 0:
            return SkillResult(
                changed=False, summary=f"There are no open sessions on {account} account."
            )
        try:
            ended = await ctx.directory.revoke_sessions(params.user)
        except Unsupported as exc:
            raise CapabilityMissing.of(exc) from exc
        if ended is None or open_now is None:
            return SkillResult(
                changed=True,
                summary=(
                    f"I've signed {account} account out everywhere. The directory doesn't "
                    "report sign-in sessions, so I can't say how many were open."
                ),
            )
        return SkillResult(
            changed=True,
            summary=f"I've signed {account} account out everywhere.",
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
