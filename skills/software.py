"""Skills on the software of a person's managed device, limited to the catalogue."""

from __future__ import annotations

from bot.models import Device, SoftwareItem
from skills.base import PreconditionFailed, Skill, SkillContext, SkillParams, SkillResult
from skills.targets import (
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
    title = "Install software"
    Params = SoftwareParams
    inverse = "uninstall_software"

    async def preconditions(self, ctx: SkillContext, params: SoftwareParams) -> None:
        _, device = await _targets(ctx, params)
        if device.locked:
            raise PreconditionFailed("device_locked", f"{device.id} is locked")

    async def execute(self, ctx: SkillContext, params: SoftwareParams) -> SkillResult:
        item, device = await _targets(ctx, params)
        if item.id in device.installed:
            return SkillResult(
                changed=False, summary=f"{item.name} is already installed on {device.id}."
            )
        await ctx.devices.install(device.id, item.id)
        return SkillResult(changed=True, summary=f"{item.name} is installed on {device.id}.")

    async def verify(self, ctx: SkillContext, params: SoftwareParams) -> bool:
        device = await ctx.devices.device(params.device)
        return device is not None and params.software in device.installed

    def undo_params(self, params: SoftwareParams) -> SkillParams:
        return params


class UninstallSoftware(Skill[SoftwareParams]):
    """Remove a catalogue application from the person's own device."""

    name = "uninstall_software"
    title = "Uninstall software"
    Params = SoftwareParams
    inverse = "install_software"

    async def preconditions(self, ctx: SkillContext, params: SoftwareParams) -> None:
        await _targets(ctx, params)

    async def execute(self, ctx: SkillContext, params: SoftwareParams) -> SkillResult:
        item, device = await _targets(ctx, params)
        if item.id not in device.installed:
            return SkillResult(
                changed=False, summary=f"{item.name} isn't installed on {device.id}."
            )
        await ctx.devices.uninstall(device.id, item.id)
        return SkillResult(changed=True, summary=f"{item.name} is removed from {device.id}.")

    async def verify(self, ctx: SkillContext, params: SoftwareParams) -> bool:
        device = await ctx.devices.device(params.device)
        return device is not None and params.software not in device.installed

    def undo_params(self, params: SoftwareParams) -> SkillParams:
        return params
