"""Skills on a person's managed devices as a whole (software has its own module)."""

from __future__ import annotations

from skills.base import Skill, SkillContext, SkillParams, SkillResult
from skills.targets import DeviceId, Username, require_owned_device, require_person


class DeviceParams(SkillParams):
    device: DeviceId
    user: Username


class LockDevice(Skill[DeviceParams]):
    """Lock a lost or stolen device remotely so nobody can use it or read its data.

    There is no inverse: unlocking a device that may be in a stranger's hands is for a
    technician who has it back."""

    name = "lock_device"
    title = "Lock device"
    Params = DeviceParams

    async def preconditions(self, ctx: SkillContext, params: DeviceParams) -> None:
        await require_person(ctx, params.user)
        await require_owned_device(ctx, params.device, params.user)

    async def execute(self, ctx: SkillContext, params: DeviceParams) -> SkillResult:
        device = await require_owned_device(ctx, params.device, params.user)
        if device.locked:
            return SkillResult(changed=False, summary=f"{device.id} is locked.")
        await ctx.devices.lock(device.id)
        return SkillResult(
            changed=True, summary=f"I've locked {device.id}, so nobody can use it now."
        )

    async def verify(self, ctx: SkillContext, params: DeviceParams) -> bool:
        device = await ctx.devices.device(params.device)
        return device is not None and device.locked
