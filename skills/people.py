"""Skills on someone's account as a whole: onboarding (create) and offboarding (disable), and
their inverses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bot.intents import UNKNOWN_PERSON, intent
from bot.models import Person
from bot.plans import PlanStep, Question
from bot.ports import ConflictError
from skills.base import PreconditionFailed, Skill, SkillContext, SkillParams, SkillResult, asking
from skills.joiners import looks_like_name, read_joiner, username_for
from skills.planning import Ask, Lookups, Proposal
from skills.targets import EXAMPLES, Username, require_person


class AccountParams(SkillParams):
    user: Username


class DisableAccount(Skill[AccountParams]):
    """Disable a directory account so it can no longer sign in (offboarding).

    Sessions that are already open stay open: revoke them with `revoke_sessions`."""

    name = "disable_account"
    Params = AccountParams
    inverse = "enable_account"
    intents = (
        intent(
            EXAMPLES,
            "offboarding",
            "accounts",
            "a leaver: disable an account, remove access",
            about_others=True,
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question:
        """The leaver's account disabled, then every session of it ended."""
        target = ask.slots.get("target_user")
        if not target:
            return Question("target_user", asking("person"))
        return Proposal(
            params={"user": target},
            resource_id=target,
            then=(PlanStep(skill="revoke_sessions", params={"user": target}),),
        )

    async def preconditions(self, ctx: SkillContext, params: AccountParams) -> None:
        await require_person(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: AccountParams) -> SkillResult:
        person = await require_person(ctx, params.user)
        if person.disabled:
            return SkillResult(changed=False, summary=self.said_of(ctx, person, "already"))
        await ctx.directory.set_disabled(params.user, True)
        return SkillResult(changed=True, summary=self.said_of(ctx, person, "done"))

    async def verify(self, ctx: SkillContext, params: AccountParams) -> bool:
        person = await ctx.directory.person(params.user)
        return person is not None and person.disabled

    def undo_params(self, params: AccountParams) -> SkillParams:
        return params


class EnableAccount(Skill[AccountParams]):
    """Enable a disabled directory account again, so the person can sign in."""

    name = "enable_account"
    Params = AccountParams
    inverse = "disable_account"

    async def preconditions(self, ctx: SkillContext, params: AccountParams) -> None:
        await require_person(ctx, params.user)

    async def execute(self, ctx: SkillContext, params: AccountParams) -> SkillResult:
        person = await require_person(ctx, params.user)
        if not person.disabled:
            return SkillResult(changed=False, summary=self.said_of(ctx, person, "already"))
        await ctx.directory.set_disabled(params.user, False)
        return SkillResult(changed=True, summary=self.said_of(ctx, person, "done"))

    async def verify(self, ctx: SkillContext, params: AccountParams) -> bool:
        person = await ctx.directory.person(params.user)
        return person is not None and not person.disabled

    def undo_params(self, params: AccountParams) -> SkillParams:
        return params


class NewAccountParams(SkillParams):
    username: Username = Field(description="Directory username for the new account.")
    name: Annotated[str, Field(min_length=1, max_length=200, description="Full name.")]
    email: Annotated[
        str,
        Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254, description="Work e-mail address."),
    ]
    manager: Username = Field(description="Directory username of the new joiner's manager.")
    department: Annotated[str, Field(max_length=200, description="Department they join.")] = ""
    title: Annotated[str, Field(max_length=200, description="Job title.")] = ""

    def person(self) -> Person:
        return Person(
            username=self.username,
            name=self.name,
            email=self.email,
            manager=self.manager,
            department=self.department,
            title=self.title,
        )


async def _free_username(name: str, taken: set[str], find: Lookups) -> str:
    """A username for `name` that the cached names do not hold and the directory, asked
    now, does not either (the cache may be minutes old)."""
    while True:
        username = username_for(name, taken)
        if await find.directory.person(username) is None:
            return username
        taken.add(username)


def _is_same(existing: Person, params: NewAccountParams) -> bool:
    """Whether `existing` is the account these parameters describe (created by an earlier
    attempt of the same request), whatever has happened to it since (groups, factors)."""
    wanted = params.person()
    return (
        existing.username == wanted.username
        and existing.email.lower() == wanted.email.lower()
        and (existing.name, existing.manager, existing.department, existing.title)
        == (wanted.name, wanted.manager, wanted.department, wanted.title)
    )


class CreateAccount(Skill[NewAccountParams]):
    """Create a directory account for a new joiner (onboarding).

    The username and e-mail must be free; the same account created by an earlier attempt
    counts as done."""

    name = "create_account"
    Params = NewAccountParams
    creates_subject = True
    intents = (
        intent(EXAMPLES, "onboarding", "accounts", "set up a new joiner", "group",
               about_others=True, new_person=True),
    )  # fmt: skip

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question:
        """A new joiner's account: HR (or the future manager) asks; the other approves."""
        person, slots = ask.requester, ask.slots
        people = list((await find.names.current()).people)
        joiner = read_joiner(ask.text, people, person)
        named = str(slots.get("target_user") or "")
        unknown = named.removeprefix(UNKNOWN_PERSON) if named.startswith(UNKNOWN_PERSON) else ""
        if not looks_like_name(unknown):
            unknown = ""
        name = str(slots.get("joiner_name") or joiner.name or unknown)
        if not name:
            return Question("joiner_name", asking("joiner_name"))
        manager = slots.get("manager") or joiner.manager
        if not manager and not person.has_role("hr"):
            # A manager asking for their own new hire. Someone who manages nobody is neither
            # HR nor a manager: the plan names no manager, and policy turns it down.
            manages = bool(await find.directory.reports_of(person.username))
            manager = person.username if manages else ""
        elif not manager:
            return Question("manager", asking("joiner_manager", name=name))
        username = await _free_username(name, {p.username for p in people}, find)
        domain = person.email.rpartition("@")[2]
        params = {"username": username, "name": name, "email": f"{username}@{domain}",
                  "manager": str(manager), "department": joiner.department or "",
                  "title": joiner.title or ""}  # fmt: skip
        return Proposal(params=params, resource_id=username, subject=username, new_person=params)

    async def preconditions(self, ctx: SkillContext, params: NewAccountParams) -> None:
        existing = await ctx.directory.person(params.username)
        if existing is not None and not _is_same(existing, params):
            raise PreconditionFailed("username_taken", f"{params.username} exists")
        holder = await ctx.directory.person_by_email(params.email)
        if holder is not None and holder.username != params.username:
            raise PreconditionFailed("email_taken", f"{params.email} is {holder.username}'s")
        manager = await ctx.directory.person(params.manager)
        if manager is None or manager.disabled:
            raise PreconditionFailed("unknown_manager", f"no active manager {params.manager}")

    async def execute(self, ctx: SkillContext, params: NewAccountParams) -> SkillResult:
        summary = self.said("done", username=params.username, name=params.name)
        existing = await ctx.directory.person(params.username)
        if existing is not None:
            if not _is_same(existing, params):
                raise PreconditionFailed("username_taken", f"{params.username} exists")
            return SkillResult(changed=False, summary=summary)
        try:
            await ctx.directory.create_person(params.person())
        except ConflictError as exc:  # taken since the preconditions ran
            raise PreconditionFailed("account_taken", str(exc)) from exc
        return SkillResult(changed=True, summary=summary)

    async def verify(self, ctx: SkillContext, params: NewAccountParams) -> bool:
        existing = await ctx.directory.person(params.username)
        return existing is not None and _is_same(existing, params)
