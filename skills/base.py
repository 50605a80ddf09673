"""What a skill is: a small class with a pydantic `Params` model and async `preconditions`,
`execute`, `verify`, and `undo` where an inverse exists. A skill also declares itself: the
intents it serves and how a request's slots become its parameters (`plan`), the kind of
resource policy sees, and its label.

A skill never parses platform payloads and never checks who may call it: policy and
verification wrap it. It is idempotent: `execute` reads the backend's real state before it
writes, so a retry after a partial failure finishes the job instead of doing it twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from bot.clock import Clock
from bot.intents import IntentSpec
from bot.models import Person
from bot.ports import Devices, Directory, Tickets, Unsupported
from bot.texts import Text

if TYPE_CHECKING:
    from bot.plans import Question, Referral
    from skills.planning import Ask, Lookups, Proposal

ResourceKind = Literal["person", "group", "software", "device"]
SHIPPED_TEXTS = Path(__file__).with_name("texts") / "en.toml"  # the shipped skills' sentences


def asking(key: str, /, **values: Any) -> Text:
    """A question the skills share (`[ask]` in the skills' texts)."""
    return Text(f"skill.ask.{key}", values)


def noting(key: str, /, **values: Any) -> Text:
    """A note for the technician a skill hands a request to (`[note]` in the skills' texts)."""
    return Text(f"skill.note.{key}", values)


def outcome(key: str, /, **values: Any) -> Text:
    """What the desk says of a step's outcome in its own words, not the skill's (`[outcome]`
    in the skills' texts): a step found done after an interruption."""
    return Text(f"skill.outcome.{key}", values)


class SkillParams(BaseModel):
    """Base for every skill's parameters: strict, so a model's proposal cannot smuggle keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=SkillParams)


class PreconditionFailed(Exception):
    """The action cannot be done as asked. `text_key` names a sentence in bot.texts for the
    person; `detail` is for the technician (never shown to the requester)."""

    def __init__(self, text_key: str, detail: str = "") -> None:
        super().__init__(detail or text_key)
        self.text_key = text_key
        self.detail = detail


class SkillFailed(Exception):
    """The backend refused or the result did not verify (the desk escalates)."""


class CapabilityMissing(Exception):
    """The backend cannot do what the action needs at all (it raised `bot.ports.Unsupported`).
    Not the person's fault and not worth a retry: the desk hands the case to a technician,
    naming `capability`, and tells the person why with `bot.texts.unsupported(capability)`."""

    def __init__(self, capability: str, detail: str = "") -> None:
        super().__init__(detail or f"the backend does not support {capability}")
        self.capability = capability
        self.detail = detail

    @classmethod
    def of(cls, exc: Unsupported) -> CapabilityMissing:
        return cls(exc.capability, str(exc))


def missing_capability(exc: BaseException) -> str | None:
    """The capability a failed action lacked: a skill's `CapabilityMissing`, or a port's
    `Unsupported` that a skill let through; None for any other failure."""
    if isinstance(exc, CapabilityMissing | Unsupported):
        return exc.capability
    return None


class Receipts(Protocol):
    """What this action already did where the backend cannot show it afterwards (a link sent,
    sessions revoked without a count): written before `execute` returns, read on a retry of
    the same action. Values are plain JSON data and never hold a secret."""

    async def get(self, name: str) -> dict[str, Any] | None: ...
    async def put(self, name: str, value: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class SkillContext:
    """What a skill may use: the backends, the clock, this action's receipts, and who the
    request is for."""

    directory: Directory
    devices: Devices
    receipts: Receipts
    tickets: Tickets
    clock: Clock
    requester: Person
    case_id: str
    idempotency_key: str


@dataclass(frozen=True)
class SkillResult:
    """What happened. `changed` is False when the backend was already in the wanted state
    (a retry, or nothing to do). `summary` is what to tell the person, as a key of the
    skill's texts and its values (never a secret)."""

    changed: bool
    summary: Text
    details: dict[str, Any] = field(default_factory=dict)


class Skill(Generic[P]):
    """Base class. Subclasses set `name`, `Params` and, when an inverse exists, `inverse`
    (the name of the skill that undoes this one) with `undo_params`. A skill that serves
    requests lists its `intents` and implements `plan`; `resource` is the kind of thing
    policy sees it act on. What it says (its `title`, the `step` label cards show, its
    results) is the `[<name>]` table of its `texts` file."""

    name: ClassVar[str]
    texts: ClassVar[Path] = SHIPPED_TEXTS
    Params: ClassVar[type[SkillParams]]
    inverse: ClassVar[str | None] = None
    intents: ClassVar[tuple[IntentSpec, ...]] = ()
    resource: ClassVar[ResourceKind] = "person"
    creates_subject: ClassVar[bool] = False  # whose account it is does not exist yet
    # What `verify` reads: "backend" is the backend's real state, so after a write whose
    # answer was lost the desk can tell whether it took effect; "receipt" is only what the
    # desk noted itself (a link sent), so such a write is left for a human to check.
    readback: ClassVar[Literal["backend", "receipt"]] = "backend"

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question | Referral:
        """This skill's parameters for a request of one of its intents, the one question
        that is missing, or a referral to a human."""
        raise NotImplementedError(f"{self.name} serves no intent")

    async def preconditions(self, ctx: SkillContext, params: P) -> None:
        """Raise PreconditionFailed when the action cannot be done as asked."""

    async def execute(self, ctx: SkillContext, params: P) -> SkillResult:
        raise NotImplementedError

    async def verify(self, ctx: SkillContext, params: P) -> bool:
        """Read the backend again: is the wanted state really there?"""
        raise NotImplementedError

    def undo_params(self, params: P) -> SkillParams | None:
        """The inverse skill's parameters, when `inverse` is set."""
        return None

    def said(self, key: str, /, **values: Any) -> Text:
        """One of this skill's sentences (`[<name>] <key>` in its texts)."""
        return Text(f"skill.{self.name}.{key}", values)

    def said_of(self, ctx: SkillContext, person: Person, key: str, /, **values: Any) -> Text:
        """`key` about the requester's own account, or `<key>_other` with `{name}` when the
        account is someone else's."""
        if person.username != ctx.requester.username:
            return self.said(f"{key}_other", name=person.name, **values)
        return self.said(key, **values)

    def args(self, params: P) -> dict[str, Any]:
        """The action's arguments as recorded in the audit trail."""
        return params.model_dump(mode="json", exclude_none=True)


AnySkill = Skill[Any]
