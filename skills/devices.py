"""Skills on a person's managed devices as a whole (software has its own module)."""

from __future__ import annotations

from bot.intents import intent
from bot.plans import Question, Referral
from skills.base import Skill, SkillContext, SkillParams, SkillResult, asking, noting
from skills.planning import Ask, Lookups, Proposal, of_kind, pick_device
from skills.targets import EXAMPLES, DeviceId, Username, require_owned_device, require_person


class DeviceParams(SkillParams):
    device: DeviceId
    user: Username


class LockDevice(Skill[DeviceParams]):
    """Lock a lost or stolen device remotely so nobody can use it or read its data.

    There is no inverse: unlocking a device that may be in a stranger's hands is for a
    technician who has it back."""

    name = "lock_device"
    Params = DeviceParams
    resource = "device"
    intents = (intent(EXAMPLES, "device_lost", "security", "a device is lost or stolen"),)

    async def plan(self, ask: Ask, find: Lookups) -> Proposal | Question | Referral:
        """The named (or only) device of the kind spoken of, locked at once; security takes
        the case from there."""
        devices = of_kind(await find.devices.devices_of(ask.subject), ask.slots)
        device_id = pick_device(ask.slots.get("device"), [x.id for x in devices])
        if device_id is None:
            if not devices:
                return Referral(noting("no_device_to_lock"))
            return Question("device", asking("device_lost"), [(x.id, x.id) for x in devices])
        return Proposal(
            params=DeviceParams(device=device_id, user=ask.subject).model_dump(),
            resource_id=device_id,
        )

    async def preconditions(self, ctx: SkillContext, params: DeviceParams) -> None:
        await require_person(ctx, params.user)
        await require_owned_device(ctx, params.device, params.user)

    async def execute(self, ctx: SkillContext, params: DeviceParams) -> SkillResult:
        device = await require_owned_device(ctx, params.device, params.user)
        if device.locked:
            return SkillResult(changed=False, summary=self.said("already", device=device.id))
        await ctx.devices.lock(device.id)
        return SkillResult(changed=True, summary=self.said("done", device=device.id))

    async def verify(self, ctx: SkillContext, params: DeviceParams) -> bool:
        device = await ctx.devices.device(params.device)
        return device is not None and device.locked
