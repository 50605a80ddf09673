"""Wiring: the desk built from its ports, its repositories and its settings, each service
given only what it uses. Nothing else builds the desk; nothing in the desk builds a part."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import texts
from bot.access import AccessDeps, TimeBoundAccess
from bot.acting import Acting, ActingDeps
from bot.actions import ActionDeps, ActionRunner
from bot.admin import Admin, AdminDeps
from bot.answers import AnswerDeps, Answers
from bot.approvals import ApprovalDeps, Approvals
from bot.approving import ApprovalGate, ApprovalGateDeps
from bot.audit import AuditKey
from bot.backends import Backends
from bot.catalogue import CatalogueRefresh, CatalogueSource
from bot.clicks import ClickDeps, Clicks
from bot.clock import Clock
from bot.context import CaseLog
from bot.conversation import Conversation, ConversationDeps
from bot.desk import Desk, DeskParts
from bot.gates import GateDeps, Gates
from bot.handoff import Handoff, HandoffDeps
from bot.intake import Intake, IntakeDeps
from bot.knowledge import KnowledgeBase, Runbooks
from bot.models import Effect, Person, Turn
from bot.notices import NoticeDeps, Notices
from bot.observability import Metrics
from bot.oncall import OnCall, OnCallDeps
from bot.outages import OutageConfig, OutageDeps, Outages
from bot.outbound import Outbound
from bot.outreach import Outreach, OutreachDeps
from bot.outreach_answers import OutreachAnswerDeps, OutreachAnswers
from bot.outreach_optout import OptOut
from bot.planner import Planner, PlannerDeps
from bot.policy import PolicyEngine
from bot.ports import Directory
from bot.push_watch import PushWatch, PushWatchDeps
from bot.reads import RememberingDevices, RememberingDirectory
from bot.recovery import Recovery, RecoveryDeps
from bot.reset_links import DeskResetLinks, desk_reset_links
from bot.resources import PlanResources
from bot.results import ActingResults, ResultDeps
from bot.routing import Routing
from bot.scheduler import Scheduler
from bot.settings import ACCESS_OVERDUE_MINUTES, Settings
from bot.settings_cloud import LOCKOUT_POLL_SECONDS
from bot.settings_tickets import TICKET_POLL_SECONDS
from bot.state.actions import ActionRepository
from bot.state.approvals import ApprovalRepository
from bot.state.audit import AuditLog
from bot.state.cases import CaseRepository
from bot.state.catalog import CatalogCache
from bot.state.control import DeskControl
from bot.state.conversations import ConversationLocks, UnclearMessages
from bot.state.deliveries import Deduplicator
from bot.state.grants import GrantRepository
from bot.state.incidents import IncidentRepository
from bot.state.outreach import OutreachRecords
from bot.state.receipts import ReceiptBook
from bot.state.refs import ButtonRefs
from bot.store import Store
from bot.summaries import Summaries
from bot.systemturns import SystemTurnDeps, SystemTurns
from bot.ticket_sync import TicketSync, TicketSyncDeps
from bot.understanding import (
    Catalog,
    CatalogFeed,
    IntentCatalog,
    OfflineUnderstanding,
    Understander,
)
from bot.understanding.model_cache import ModelCache
from bot.verifying import PolicyCheckLimits, StepUpGate, StepUpGateDeps
from skills import default_skills
from skills.registry import SkillRegistry
from verification.stepup import StepUp

if TYPE_CHECKING:
    from bot.world import SandboxWorld


@dataclass
class WiredDesk:
    """A desk as wired: the turn handler the chat adapters get, and what the runtime, the
    scenario runner and tests look at (its records, its scheduler, its on-call rule, its
    time-bound grants)."""

    desk: Desk
    store: Store
    clock: Clock
    directory: Directory
    scheduler: Scheduler
    stepup: StepUp
    understanding: Understander
    cases: CaseRepository
    audit: AuditLog
    control: DeskControl
    actions: ActionRunner
    recovery: Recovery
    handoff: Handoff
    oncall: OnCall
    policy: PolicyEngine
    metrics: Metrics
    oncall_channel: str
    catalogue: CatalogueRefresh
    access: TimeBoundAccess
    outbound: Outbound | None = field(default=None)
    # the desk's own reset links, for a directory that sends none (`bot.reset_links`)
    reset_links: DeskResetLinks | None = field(default=None)
    # writing first to people the directory locked out (None: no lockout feed, or turned off)
    outreach: Outreach | None = field(default=None)
    # following the IT team's ticket system (changes by webhook always; polled with a feed)
    ticket_sync: TicketSync | None = field(default=None)

    async def handle(self, turn: Turn) -> list[Effect]:
        return await self.desk.handle(turn)

    async def attempt(self, turn: Turn) -> list[Effect] | None:
        return await self.desk.attempt(turn)

    async def commit(self, turn: Turn) -> None:
        await self.desk.commit(turn)

    async def sees_oncall(self, person: Person) -> bool:
        return await self.desk.sees_oncall(person)

    async def on_call(self, person: Person) -> bool:
        """Whether policy lets a person pick up escalations."""
        return await self.oncall.picks_up(person)

    async def warm_up(self) -> None:
        """Load what the first turn would otherwise wait for (the trained understanding),
        and make sure the catalogue of names is refreshed from the ports from time to time."""
        await self.catalogue.start()
        if self.outreach is not None:
            await self.outreach.start()
        if self.ticket_sync is not None and self.ticket_sync.polls:
            await self.ticket_sync.start()
        warm = getattr(self.understanding, "warm_up", None)
        if warm is not None:
            await warm()

    async def close(self) -> None:
        """Release what the understanding holds open (Claude's HTTP client)."""
        close = getattr(self.understanding, "aclose", None)
        if close is not None:
            await close()


def build_desk(
    store: Store,
    backends: Backends,
    clock: Clock,
    *,
    knowledge: Runbooks,
    metrics: Metrics | None = None,
    oncall_channel: str = "oncall",
    outbound: Outbound | None = None,
    threshold: float = 0.55,
    policy: PolicyEngine | None = None,
    settings: Settings | None = None,
    skills: SkillRegistry | None = None,
    understanding: Understander | None = None,
    outage: OutageConfig | None = None,
    audit: AuditLog | None = None,
) -> WiredDesk:
    """The desk over `backends`. The understanding is Claude's when `settings` carry an
    Anthropic key, else offline (or the one given: a scripted one in tests), over the org's
    names as the ports give them (`bot.catalogue`). Its audit trail is `audit` (the runtime's
    is keyed and checkpointed as the settings say), else one with a throwaway key."""
    metrics = metrics or Metrics()
    skills = skills or default_skills()
    wording = texts.DESK.merged(skills.texts())  # every sentence, the skills' included
    intents = IntentCatalog.of(skills.intents())
    policy = policy or PolicyEngine(skills=skills)
    reset_links = desk_reset_links(backends, store, clock, settings)
    directory = RememberingDirectory(reset_links or backends.directory)
    devices = RememberingDevices(backends.devices)
    catalogue = CatalogueSource(directory, devices, CatalogCache(store))
    understanding = understanding or build_understanding(
        Catalog(), threshold=threshold, metrics=metrics, settings=settings, skills=skills,
        feed=catalogue,
    )  # fmt: skip
    audit = audit or AuditLog(store, AuditKey.ephemeral())
    cases = CaseRepository(store, audit, clock)
    refs = ButtonRefs(store)
    locks = ConversationLocks(store)
    control = DeskControl(store)
    scheduler = Scheduler(store, clock)
    log = CaseLog(cases, metrics)
    system = SystemTurns(SystemTurnDeps(log, directory, locks, outbound))
    stepup = StepUp(store, clock, directory, backends.checks, PolicyCheckLimits(policy))
    oncall = OnCall(OnCallDeps(policy, control, directory))
    routing = Routing(policy)
    resources = PlanResources(directory, devices)
    handoff = Handoff(
        HandoffDeps(
            directory=directory,
            tickets=backends.tickets,
            refs=refs,
            summaries=Summaries(getattr(understanding, "claude", None), intents=intents),
            oncall=oncall,
            oncall_channel=oncall_channel,
        )
    )
    notices = Notices(NoticeDeps(directory))
    outage = outage or (
        OutageConfig(timedelta(minutes=settings.outage_window_minutes), settings.outage_threshold)
        if settings is not None
        else OutageConfig()
    )
    outages = Outages(
        OutageDeps(IncidentRepository(store), backends.tickets, clock, oncall_channel, outage)
    )
    approvals = Approvals(
        ApprovalDeps(ApprovalRepository(store), refs, scheduler, directory, system, clock)
    )
    runner = ActionRunner(
        ActionDeps(
            skills=skills,
            actions=ActionRepository(store),
            directory=directory,
            devices=devices,
            receipts=ReceiptBook(store),
            tickets=backends.tickets,
            clock=clock,
            metrics=metrics,
            scheduler=scheduler,
        )
    )
    overdue = settings.access_overdue_minutes if settings else ACCESS_OVERDUE_MINUTES
    access = TimeBoundAccess(
        AccessDeps(GrantRepository(store), scheduler, runner, directory, system, clock,
                   oncall_channel=oncall_channel, overdue=timedelta(minutes=overdue))
    )  # fmt: skip
    results = ActingResults(
        ResultDeps(refs, routing, resources, directory, backends.outbox, notices, stepup, skills,
                   clock)
    )  # fmt: skip
    acting = Acting(
        ActingDeps(
            actions=runner,
            access=access,
            results=results,
            routing=routing,
            directory=directory,
            handoff=handoff,
            notices=notices,
            skills=skills,
            clock=clock,
        )
    )
    # a push from a provider that cannot signal its answer (ITDESK_CHECKS) is watched there
    watch_pushes = settings is not None and bool(settings.check_providers)
    gates = Gates(
        GateDeps(
            policy=policy,
            directory=directory,
            resources=resources,
            control=control,
            stepup=StepUpGate(
                StepUpGateDeps(
                    stepup, directory, handoff, notices, scheduler if watch_pushes else None
                )
            ),
            approval=ApprovalGate(
                ApprovalGateDeps(
                    approvals, policy, directory, resources, oncall, handoff, skills, clock, audit
                )
            ),
            acting=acting,
            handoff=handoff,
            skills=skills,
        )
    )
    answers = Answers(AnswerDeps(knowledge, refs, handoff))
    intake = Intake(
        IntakeDeps(
            understanding=understanding,
            intents=intents,
            cases=cases,
            locks=locks,
            unclear=UnclearMessages(store),
            stepup=stepup,
            policy=policy,
            control=control,
            directory=directory,
            planner=Planner(PlannerDeps(skills, directory, devices, catalogue)),
            conversation=Conversation(ConversationDeps(refs, cases, wording)),
            gates=gates,
            handoff=handoff,
            answers=answers,
            notices=notices,
            routing=routing,
            outages=outages,
            names=catalogue,
            texts=wording,
            threshold=threshold,
        )
    )
    if watch_pushes:
        PushWatch(PushWatchDeps(scheduler, stepup, system, gates))
    clicks = Clicks(
        ClickDeps(
            refs=refs,
            policy=policy,
            oncall=oncall,
            cases=cases,
            locks=locks,
            audit=audit,
            stepup=stepup,
            gates=gates,
            handoff=handoff,
            answers=answers,
            intake=intake,
            clock=clock,
        )
    )
    poll = settings.lockout_poll_seconds if settings else LOCKOUT_POLL_SECONDS
    outreach = None
    if backends.lockouts is not None and poll > 0:  # writing first to people locked out
        kept = OutreachRecords(store)
        outreach = Outreach(
            OutreachDeps(backends.lockouts, kept, directory, OptOut(policy), refs, outbound,
                         backends.outbox, audit, scheduler, clock, timedelta(seconds=poll))
        )  # fmt: skip
        outreach.register_jobs()
        clicks.add(OutreachAnswers(
            OutreachAnswerDeps(kept, intake, handoff, notices, cases, audit, clock)
        ).handlers())  # fmt: skip
    every = timedelta(seconds=settings.ticket_poll_seconds if settings else TICKET_POLL_SECONDS)
    ticket_sync = TicketSync(
        TicketSyncDeps(backends.tickets, backends.ticket_feed, backends.ticket_webhooks,
                       directory, system, answers, scheduler, store, clock, oncall_channel,
                       every)
    )  # fmt: skip
    if backends.ticket_feed is not None and every > timedelta(0):
        ticket_sync.register_jobs()
    admin = Admin(
        AdminDeps(
            control=control,
            cases=cases,
            approvals=ApprovalRepository(store),
            audit=audit,
            actions=runner,
            access=access,
            oncall=oncall,
            policy=policy,
            directory=directory,
            locks=locks,
            outages=outages,
            understanding=understanding,
            clock=clock,
        )
    )
    refresh = CatalogueRefresh(catalogue, scheduler, clock)
    recovery = Recovery(RecoveryDeps(runner, acting, system, scheduler, clock))
    recovery.register_jobs()
    access.register_jobs()
    approvals.register_jobs()
    refresh.register_jobs()
    desk = Desk(
        DeskParts(
            log=log,
            dedupe=Deduplicator(store),
            locks=locks,
            directory=directory,
            metrics=metrics,
            intake=intake,
            clicks=clicks,
            admin=admin,
            handoff=handoff,
            oncall=oncall,
        )
    )
    return WiredDesk(
        desk=desk,
        store=store,
        clock=clock,
        directory=directory,
        scheduler=scheduler,
        stepup=stepup,
        understanding=understanding,
        cases=cases,
        audit=audit,
        control=control,
        actions=runner,
        recovery=recovery,
        handoff=handoff,
        oncall=oncall,
        policy=policy,
        metrics=metrics,
        oncall_channel=oncall_channel,
        catalogue=refresh,
        access=access,
        outbound=outbound,
        reset_links=reset_links,
        outreach=outreach,
        ticket_sync=ticket_sync,
    )


def sandbox_desk(
    store: Store,
    world: SandboxWorld,
    clock: Clock,
    *,
    metrics: Metrics | None = None,
    oncall_channel: str = "oncall",
    outbound: Outbound | None = None,
    threshold: float = 0.55,
    policy: PolicyEngine | None = None,
    settings: Settings | None = None,
    skills: SkillRegistry | None = None,
    understanding: Understander | None = None,
    outage: OutageConfig | None = None,
    audit: AuditLog | None = None,
) -> WiredDesk:
    """A desk over a sandbox world (the demo, `serve` with an org file, scenarios, tests):
    its ports, its org's catalogue and its runbooks."""
    return build_desk(
        store,
        world.backends(),
        clock,
        knowledge=KnowledgeBase.load(world.knowledge),
        metrics=metrics,
        oncall_channel=oncall_channel,
        outbound=outbound,
        threshold=threshold,
        policy=policy,
        settings=settings,
        skills=skills,
        understanding=understanding,
        outage=outage,
        audit=audit,
    )


def build_understanding(
    catalog: Catalog,
    *,
    threshold: float,
    metrics: Metrics,
    settings: Settings | None = None,
    skills: SkillRegistry | None = None,
    feed: CatalogFeed | None = None,
) -> Understander:
    """The offline understanding, behind Claude when an Anthropic key is configured; with
    `settings`, its fitted model is kept on disk between starts."""
    skills = skills or default_skills()
    intents = IntentCatalog.of(skills.intents())
    offline = OfflineUnderstanding(
        catalog,
        intents=intents,
        threshold=threshold,
        feed=feed,
        model_cache=ModelCache(settings.cache_directory) if settings else None,
    )
    if settings is None or settings.anthropic_api_key is None:
        return offline
    from bot.understanding.claude import ClaudeUnderstanding  # the only anthropic import

    return ClaudeUnderstanding.from_settings(
        settings,
        catalog,
        fallback=offline,
        skills=skills,
        metrics=metrics,
        threshold=threshold,
        feed=feed,
    )
