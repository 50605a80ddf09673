"""Skills on group membership: access to shared drives, reports, distribution lists."""

from __future__ import annotations

from pydantic import Field

from bot.intents import intent
from bot.models import Group
from bot.plans import Question, Referral
from skills.base import (
    PreconditionFailed,
    Skill,
    SkillContext,
    SkillParams,
    SkillResult,
    asking,
    noting,
)
from skills.planning import Ask, Lookups, Proposal, days_asked
from skills.targets import (
    EXAMPLES,
    GroupId,
    Username,
    require_active_person,
    require_group,
    require_person,
)


class MembershipParams(SkillParams):
    user: Username
    group: GroupId


class GrantParams(MembershipParams):
    days: int | None = Field(
        default=None,
        ge=1,
        description="How many days the access is needed for; omit when the person did not say.",
    )


async def _group_named(ask: Ask, find: Lookups) -> Group | Question | Referral:
    """The group the request names; which one, when the name fits several or none."""
    group_id = ask.slots.get("group")
    if not group_id:
        options = [g for g in str(ask.slots.get("group_candidates") or "").split(",") if g]
        groups = [await find.directory.group(g) for g in options]
        labelled = [(g.name, g.id) for g in groups if g is not None]
        return Question("group", asking("group" if labelled else "group_named"), labelled)
    group = await find.directory.group(str(group_id))
    if group is None:
        return Referral(noting("group_not_found"))
    return group


class AddToGroup(Skill[GrantParams]):
    """Add a person to a directory group, optionally for a limited number of days.

    The skill only grants; the desk schedules the removal when the grant is time-bound. A
    person who is already a member is left as they are."""

    name = "add_to_group"
    Params = GrantParams
    inverse = "remove_from_group"
    resource = "group"
    intents = (
        intent(
            EXAMPLES,
            "access_request",
            "access",
            "to be added to a group, list, shared folder or drive, or access to an app",
            "group",
            "duration",
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question | Referral:
        group = await _group_named(ask, find)
        if not isinstance(group, Group):
            return group
        params = GrantParams(
            user=ask.subject, group=group.id, days=days_asked(ask.slots.get("duration"),
                                                              group.max_days),
        )  # fmt: skip
        return Proposal(params=params.model_dump(exclude_none=True), resource_id=group.id)

    async def preconditions(self, ctx: SkillContext, params: GrantParams) -> None:
        await require_active_person(ctx, params.user)
        group = await require_group(ctx, params.group)
        if params.days is not None and group.max_days is not None and params.days > group.max_days:
            raise PreconditionFailed(
                "access_too_long", f"{group.id} allows at most {group.max_days} days"
            )

    async def execute(self, ctx: SkillContext, params: GrantParams) -> SkillResult:
        person = await require_person(ctx, params.user)
        group = await require_group(ctx, params.group)
        if group.id in person.groups:
            return SkillResult(False, self.said_of(ctx, person, "already", group=group.name))
        await ctx.directory.add_member(params.user, params.group)
        days = {"count": params.days} if params.days else {}
        done = self.said_of(ctx, person, "done_for" if days else "done", group=group.name, **days)
        return SkillResult(
            changed=True,
            summary=done,
            details={"days": params.days} if params.days else {},
        )

    async def verify(self, ctx: SkillContext, params: GrantParams) -> bool:
        person = await ctx.directory.person(params.user)
        return person is not None and params.group in person.groups

    def undo_params(self, params: GrantParams) -> SkillParams:
        return MembershipParams(user=params.user, group=params.group)


class RemoveFromGroup(Skill[MembershipParams]):
    """Remove a person from a directory group. Nothing changes when they are not a member."""

    name = "remove_from_group"
    Params = MembershipParams
    inverse = "add_to_group"
    resource = "group"
    intents = (
        intent(
            EXAMPLES,
            "access_removal",
            "access",
            "to be removed from a group or list, or an access taken away",
            "group",
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question | Referral:
        group = await _group_named(ask, find)
        if not isinstance(group, Group):
            return group
        params = MembershipParams(user=ask.subject, group=group.id)
        return Proposal(params=params.model_dump(), resource_id=group.id)

    async def preconditions(self, ctx: SkillContext, params: MembershipParams) -> None:
        # a disabled account may still lose access (offboarding, expiring grants)
        await require_person(ctx, params.user)
        await require_group(ctx, params.group)

    async def execute(self, ctx: SkillContext, params: MembershipParams) -> SkillResult:
        person = await require_person(ctx, params.user)
        group = await require_group(ctx, params.group)
        if group.id not in person.groups:
            return SkillResult(False, self.said_of(ctx, person, "already", group=group.name))
        await ctx.directory.remove_member(params.user, params.group)
        return SkillResult(True, self.said_of(ctx, person, "done", group=group.name))

    async def verify(self, ctx: SkillContext, params: MembershipParams) -> bool:
        person = await ctx.directory.person(params.user)
        return person is not None and params.group not in person.groups

    def undo_params(self, params: MembershipParams) -> SkillParams:
        return GrantParams(user=params.user, group=params.group)
