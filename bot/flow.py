"""From a first message to a plan: understand it, answer what needs no case, ask one
clarifying question when a slot is missing, and turn the rest into a plan or a handoff."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import texts
from bot.cases import Case, CaseStatus
from bot.context import TurnContext
from bot.models import Button, Card, CardField, Device, Person
from bot.onboarding import looks_like_name, read_joiner, username_for
from bot.plans import Plan, PlanStep
from bot.understanding import UNKNOWN_PERSON, Understanding

if TYPE_CHECKING:
    from bot.desk import Desk

KNOWLEDGE_INTENTS = frozenset(
    {"vpn_issue", "wifi_issue", "email_issue", "printer_issue", "software_issue"}
)
HANDOFF_INTENTS = frozenset({"hardware_issue", "other"})
MENU_ITEMS = (
    ("I'm locked out", "account_unlock"),
    ("Reset my password", "password_reset"),
    ("Access to a group", "access_request"),
    ("Install software", "software_install"),
    ("Something's broken", "other"),
)


@dataclass
class Question:
    """One clarifying question: the slot it fills and the candidates offered as buttons."""

    slot: str
    text: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, value)


@dataclass
class Handoff:
    """A case for a human: the queue and priority, what the desk found, and the roles to
    tell at once (security hears of every security incident, acted on or not)."""

    queue: str
    priority: str = "normal"
    note: str = ""
    notify_roles: list[str] = field(default_factory=list)


class Planner:
    """Builds a plan for a case from its intent and slots, or says what is missing."""

    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    async def plan(
        self, person: Person, intent: str, queue: str, slots: dict[str, Any], text: str
    ) -> Plan | Question | Handoff:
        d = self._desk
        subject = str(slots.get("target_user") or person.username)
        if (
            intent != "onboarding"  # a joiner is not in the directory yet
            and subject != person.username
            and (subject.startswith(UNKNOWN_PERSON) or await d.directory.person(subject) is None)
        ):
            return _about_someone_unknown(intent, queue, subject)
        base = {"intent": intent, "queue": queue, "subject": subject, "summary": text[:300]}
        if intent in {"account_unlock", "password_reset", "mfa_reset"}:
            skill = {
                "account_unlock": "unlock_account",
                "password_reset": "reset_password",
                "mfa_reset": "reset_mfa",
            }[intent]
            roles = ["security"] if intent == "mfa_reset" else []
            return Plan(
                **base,
                action=skill,
                resource_kind="person",
                resource_id=subject,
                steps=[PlanStep(skill=skill, params={"user": subject})],
                notify_roles=roles,
            )
        if intent in {"access_request", "access_removal"}:
            group_id = slots.get("group")
            if not group_id:
                options = [g for g in str(slots.get("group_candidates") or "").split(",") if g]
                groups = [await d.directory.group(g) for g in options]
                labelled = [(g.name, g.id) for g in groups if g is not None]
                return Question("group", texts.asked_group([v for _, v in labelled]), labelled)
            group = await d.directory.group(str(group_id))
            if group is None:
                return Handoff("access", note="group not found in the directory")
            skill = "add_to_group" if intent == "access_request" else "remove_from_group"
            params: dict[str, Any] = {"user": subject, "group": group.id}
            if skill == "add_to_group":
                days = _days(slots.get("duration"), group.max_days)
                if days is not None:
                    params["days"] = days
            return Plan(
                **base,
                action=skill,
                resource_kind="group",
                resource_id=group.id,
                steps=[PlanStep(skill=skill, params=params)],
            )
        if intent == "software_install":
            return await self._software(person, base, slots)
        if intent == "device_lost":
            devices = _of_kind(await d.devices.devices_of(subject), slots)
            device_id = _pick_device(slots.get("device"), [x.id for x in devices])
            if device_id is None:
                if not devices:
                    return Handoff(
                        "security",
                        "urgent",
                        note="no registered device of that kind to lock",
                        notify_roles=["security"],
                    )
                return Question("device", texts.ASK_DEVICE_LOST, [(x.id, x.id) for x in devices])
            return Plan(
                **base,
                action="lock_device",
                resource_kind="device",
                resource_id=device_id,
                then="escalate",
                escalate_priority="urgent",
                notify_roles=["security"],
                steps=[
                    PlanStep(skill="lock_device", params={"device": device_id, "user": subject})
                ],
            )
        if intent == "security_incident" and slots.get("credentials_exposed"):
            return Plan(
                **base,
                action="revoke_sessions",
                resource_kind="person",
                resource_id=subject,
                then="escalate",
                escalate_priority="urgent",
                notify_roles=["security"],
                credentials_exposed=True,
                steps=[PlanStep(skill="revoke_sessions", params={"user": subject})],
            )
        if intent == "offboarding":
            target = slots.get("target_user")
            if not target:
                return Question("target_user", texts.ASK_PERSON)
            return Plan(
                **base,
                action="disable_account",
                resource_kind="person",
                resource_id=str(target),
                steps=[
                    PlanStep(skill="disable_account", params={"user": target}),
                    PlanStep(skill="revoke_sessions", params={"user": target}),
                ],
            )
        if intent == "onboarding":
            return await self._onboarding(person, base, slots, text)
        if intent == "security_incident":
            return Handoff("security", "urgent", notify_roles=["security"])
        return Handoff(queue)

    async def _onboarding(
        self, person: Person, base: dict[str, Any], slots: dict[str, Any], text: str
    ) -> Plan | Question:
        """A new joiner's account: HR (or the future manager) asks; the other approves."""
        people = await self._desk.directory.people()
        joiner = read_joiner(text, people, person)
        named = str(slots.get("target_user") or "")
        unknown = named.removeprefix("unknown:") if named.startswith("unknown:") else ""
        if not looks_like_name(unknown):
            unknown = ""
        name = str(slots.get("joiner_name") or joiner.name or unknown)
        if not name:
            return Question("joiner_name", texts.ASK_JOINER_NAME)
        manager = slots.get("manager") or joiner.manager
        if not manager and not person.has_role("hr"):
            # A manager asking for their own new hire. Someone who manages nobody is neither
            # HR nor a manager: the plan names no manager, and policy turns it down.
            manages = bool(await self._desk.directory.reports_of(person.username))
            manager = person.username if manages else ""
        elif not manager:
            return Question("manager", texts.ask_joiner_manager(name))
        username = username_for(name, {p.username for p in people})
        domain = person.email.rpartition("@")[2]
        params = {"username": username, "name": name, "email": f"{username}@{domain}",
                  "manager": str(manager), "department": joiner.department or "",
                  "title": joiner.title or ""}  # fmt: skip
        base = {**base, "subject": username}
        return Plan(**base, action="create_account", resource_kind="person",
                    resource_id=username, new_person=params,
                    steps=[PlanStep(skill="create_account", params=params)])  # fmt: skip

    async def _software(
        self, person: Person, base: dict[str, Any], slots: dict[str, Any]
    ) -> Plan | Question | Handoff:
        d = self._desk
        subject = base["subject"]
        software_id = slots.get("software")
        if not software_id:
            options = str(slots.get("software_candidates") or "").split(",")
            offered = [await d.devices.software(o) for o in options if o]
            labelled = [(item.name, item.id) for item in offered if item is not None]
            if labelled:
                return Question("software", texts.ASK_WHICH_SOFTWARE, labelled)
            name = slots.get("software_name")
            if name:  # named, but not in the catalogue: policy decides (a human, by default)
                return Plan(
                    **base,
                    action="install_software",
                    resource_kind="software",
                    resource_id=str(name),
                    catalogued=False,
                    steps=[
                        PlanStep(
                            skill="install_software",
                            params={"software": str(name), "device": "", "user": subject},
                        )
                    ],
                )
            return Question("software", texts.ASK_SOFTWARE)
        if await d.devices.software(str(software_id)) is None:
            return Handoff("software", note=f"{software_id} is not in the catalogue")
        devices = [x.id for x in _of_kind(await d.devices.devices_of(subject), slots)]
        device_id = _pick_device(slots.get("device"), devices)
        if device_id is None:
            if not devices:
                return Handoff("software", note="no managed device of that kind to install on")
            return Question("device", texts.ASK_DEVICE, [(x, x) for x in devices])
        return Plan(
            **base,
            action="install_software",
            resource_kind="software",
            resource_id=str(software_id),
            steps=[
                PlanStep(
                    skill="install_software",
                    params={"software": software_id, "device": device_id, "user": subject},
                )
            ],
        )


def _about_someone_unknown(intent: str, queue: str, subject: str) -> Question | Handoff:
    """A request about someone the directory does not know ("add dan to...", "reset her
    password"): never acted on, and never turned into a request for the requester.

    A leaver is asked about (which person?); a lost device or a security incident goes to
    security at once, as the desk's own incidents do; anything else is another person's
    account, which the desk does not change (policy refuse.someone-elses-account): a human
    tells the requester that each employee asks for themselves, and sees who was named.
    """
    if intent == "offboarding":
        return Question("target_user", texts.ASK_PERSON)
    named = subject.removeprefix(UNKNOWN_PERSON)
    note = f"asked about someone else ({named}), not found in the directory"
    if intent in {"device_lost", "security_incident"}:
        return Handoff("security", "urgent", note=note, notify_roles=["security"])
    return Handoff(queue, note=f"{note}: not acted on, each employee must ask for themselves")


_MOBILE_OS = frozenset({"ios", "ipados", "android"})


def _of_kind(devices: list[Device], slots: dict[str, Any]) -> list[Device]:
    """The devices that can be what the message speaks of: a phone is never the laptop,
    even when the laptop is the only device the directory has. A device named by its id
    is taken as named."""
    kind = slots.get("device_kind")
    if slots.get("device") or kind not in {"mobile", "computer"}:
        return devices
    return [x for x in devices if (x.os.lower() in _MOBILE_OS) == (kind == "mobile")]


def _pick_device(named: object, devices: list[str]) -> str | None:
    if named:
        wanted = str(named).upper()
        for device in devices:
            if device.upper() == wanted:
                return device
        return None
    return devices[0] if len(devices) == 1 else None


def _days(duration: object, max_days: int | None) -> int | None:
    asked: int | None = None
    if duration is not None:
        try:
            asked = max(1, int(str(duration)))
        except ValueError:
            asked = None
    if max_days is None:
        return asked
    return min(asked, max_days) if asked else max_days


class Conversation:
    """What the desk says before a case has a plan: not-IT replies, the menu, ticket status,
    clarifying questions and their answers."""

    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    async def menu(self, ctx: TurnContext) -> None:
        buttons = []
        for label, intent in MENU_ITEMS:
            ref = await self._desk.refs.mint(
                "menu", allowed=[ctx.person.username], data={"intent": intent, "text": label}
            )
            buttons.append(Button(label=label, action="menu", ref=ref))
        ctx.say(
            texts.MENU,
            Card(
                kind="menu", title="How can I help?", text=texts.WHAT_I_DO, buttons=tuple(buttons)
            ),
        )

    async def ticket_status(self, ctx: TurnContext) -> None:
        cases = await self._desk.cases.of_requester(ctx.person.username)
        recent = [c for c in cases if c.open][-5:] or cases[-3:]
        if not recent:
            ctx.say(texts.NO_OPEN_CASES)
            return
        fields = tuple(
            CardField(
                label=c.ticket_id or f"Asked {c.opened_at:%a %d %b %H:%M}",
                value=f"{_describe(c)}: {_status_label(c)}",
            )
            for c in reversed(recent)
        )
        ctx.say(
            "Here's where your requests stand:",
            Card(kind="info", title="Your requests", fields=fields),
        )

    async def ask(self, ctx: TurnContext, case: Case, question: Question) -> Case:
        buttons = []
        for label, value in question.options[:10]:
            ref = await self._desk.refs.mint(
                "choose",
                case_id=case.id,
                allowed=[case.requester],
                data={"slot": question.slot, "value": value},
            )
            buttons.append(Button(label=label, action="choose", ref=ref))
        case = await ctx.record(
            case,
            "asked",
            data={
                "slot": question.slot,
                "options": [v for _, v in question.options],
                "labels": [label for label, _ in question.options],
            },
        )
        card = (
            Card(
                kind="choice",
                title=question.text,
                buttons=tuple(buttons),
                case_id=case.id,
                about=case.requester,
            )
            if buttons
            else None
        )
        ctx.say(question.text, card)
        return case


def open_question(case: Case) -> dict[str, Any] | None:
    """The clarifying question a case is waiting on, if its newest plan-shaping event is one."""
    if case.status != CaseStatus.NEW:
        return None
    for event in reversed(case.events):
        if event.type == "asked":
            return dict(event.data)
        if event.type in {"answered_question", "planned"}:
            return None
    return None


def understood_of(case: Case) -> Understanding | None:
    for event in reversed(case.events):
        if event.type == "understood":
            return Understanding.model_validate(event.data)
    return None


def _describe(case: Case) -> str:
    return (case.intent or "request").replace("_", " ")


def _status_label(case: Case) -> str:
    return case.status.value.replace("_", " ")
