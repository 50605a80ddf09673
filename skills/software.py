"""Skills on the software of a person's managed device, limited to the catalogue."""

from __future__ import annotations

from bot.intents import intent
from bot.models import Device, SoftwareItem
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
from skills.planning import Ask, Lookups, Proposal, of_kind, pick_device
from skills.targets import (
    EXAMPLES,
    DeviceId,
    SoftwareId,
    Username,
    require_catalogue_item,
    require_owned_device,
    require_person,
)


class SoftwareParams(SkillParams):
    software: SoftwareId
    device: DeviceId
    user: Username


async def _targets(ctx: SkillContext, params: SoftwareParams) -> tuple[SoftwareItem, Device]:
    """The catalogue item and the person's own device, or a refusal."""
    await require_person(ctx, params.user)
    item = await require_catalogue_item(ctx, params.software)
    device = await require_owned_device(ctx, params.device, params.user)
    return item, device


class InstallSoftware(Skill[SoftwareParams]):
    """Install an application from the software catalogue on the person's own device."""

    name = "install_software"
    Params = SoftwareParams
    inverse = "uninstall_software"
    resource = "software"
    intents = (
        intent(
            EXAMPLES,
            "software_install",
            "software",
            "an application installed, or a licence for one",
            "software",
        ),
    )

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question | Referral:
        """A catalogue item on the person's one device of the kind they speak of; an app
        outside the catalogue is planned too, for policy to hand to a human."""
        software_id = ask.slots.get("software")
        if not software_id:
            options = str(ask.slots.get("software_candidates") or "").split(",")
            offered = [await find.devices.software(o) for o in options if o]
            labelled = [(item.name, item.id) for item in offered if item is not None]
            if labelled:
                return Question("software", asking("which_software"), labelled)
            name = ask.slots.get("software_name")
            if name:
                return Proposal(
                    params={"software": str(name), "device": "", "user": ask.subject},
                    resource_id=str(name),
                    catalogued=False,
                )
            return Question("software", asking("software"))
        if await find.devices.software(str(software_id)) is None:
            return Referral(noting("not_in_catalogue", software=software_id))
        owned = await find.devices.devices_of(ask.subject)
        devices = [x.id for x in of_kind(owned, ask.slots)]
        device_id = pick_device(ask.slots.get("device"), devices)
        if device_id is None:
            if not devices:
                return Referral(noting("no_device_to_install"))
            return Question("device", asking("device"), [(x, x) for x in devices])
        params = SoftwareParams(software=software_id, device=device_id, user=ask.subject)
        return Proposal(params=params.model_dump(), resource_id=str(software_id))

    async def preconditions(self, ctx: SkillContext, params: SoftwareParams) -> None:
        _, device = await _targets(ctx, params)
        if device.locked:
            raise PreconditionFailed("device_locked", f"{device.id} is locked")

    async def execute(self, ctx: SkillContext, params: SoftwareParams) -> SkillResult:
        item, device = await _targets(ctx, params)
        if item.id in device.installed:
            said = self.said("already", software=item.name, device=device.id)
            return SkillResult(changed=False, summary=said)
        await ctx.devices.install(device.id, item.id)
        return SkillResult(True, self.said("done", software=item.name, device=device.id))

    async def verify(self, ctx: SkillContext, params: SoftwareParams) -> bool:
        device = await ctx.devices.device(params.device)
        return device is not None and params.software in device.installed

    def undo_params(self, params: SoftwareParams) -> SkillParams:
        return params


class UninstallSoftware(Skill[SoftwareParams]):
    """Remove a catalogue application from the person's own device."""

    name = "uninstall_software"
    Params = SoftwareParams
    inverse = "install_software"
    resource = "software"

    async def preconditions(self, ctx: SkillContext, params: SoftwareParams) -> None:
        await _targets(ctx, params)

    async def execute(self, ctx: SkillContext, params: SoftwareParams) -> SkillResult:
        item, device = await _targets(ctx, params)
        if item.id not in device.installed:
            said = self.said("already", software=item.name, device=device.id)
            return SkillResult(changed=False, summary=said)
        await ctx.devices.uninstall(device.id, item.id)
        return SkillResult(True, self.said("done", software=item.name, device=device.id))

    async def verify(self, ctx: SkillContext, params: SoftwareParams) -> bool:
        device = await ctx.devices.device(params.device)
        return device is not None and params.software not in device.installed

    def undo_params(self, params: SoftwareParams) -> SkillParams:
        return params
