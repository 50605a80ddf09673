"""What a plan acts on, as policy sees it: the person, group, catalogue item or device its
resource id names, read from the ports."""

from __future__ import annotations

from bot.models import Device, Group, Person, SoftwareItem
from bot.plans import Plan, subject_of
from bot.policy import Resource
from bot.ports import Devices, Directory


class PlanResources:
    def __init__(self, directory: Directory, devices: Devices) -> None:
        self._directory = directory
        self._devices = devices

    async def subject(self, plan: Plan) -> Person | None:
        """Whose account the plan changes (a joiner not in the directory yet, as planned)."""
        return await self._directory.person(plan.subject) or subject_of(plan)

    async def resource(self, plan: Plan, subject: Person | None) -> Resource | None:
        if plan.resource_kind == "person":
            if plan.resource_id == plan.subject:
                return subject
            return await self._directory.person(plan.resource_id)
        if plan.resource_kind == "group":
            group: Group | None = await self._directory.group(plan.resource_id)
            return group
        if plan.resource_kind == "device":
            device: Device | None = await self._devices.device(plan.resource_id)
            return device
        return await self._devices.software(plan.resource_id) or SoftwareItem(
            id=plan.resource_id, name=plan.resource_id
        )
