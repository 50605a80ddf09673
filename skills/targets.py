"""What skills act on: the typed parameter fields they share, and the lookups that turn a
parameter into the backend's record or refuse with a `PreconditionFailed` the person can read.

Text keys raised here: `unknown_user`, `account_disabled`, `unknown_group`, `unknown_device`,
`not_your_device`, `device_locked`, `not_in_catalogue`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from bot.models import Device, Group, Person, SoftwareItem
from skills.base import PreconditionFailed, SkillContext

EXAMPLES = Path(__file__).resolve().parent / "examples"  # the skills' example phrasings

# Field descriptions end up in the generated tool schemas, so they speak to the model.
Username = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$",
        description="Directory username of the person the action is for.",
    ),
]
GroupId = Annotated[
    str, Field(min_length=1, max_length=128, description="Id of the directory group.")
]
DeviceId = Annotated[
    str, Field(min_length=1, max_length=64, description="Id of the managed device.")
]
SoftwareId = Annotated[
    str, Field(min_length=1, max_length=64, description="Id of the software catalogue item.")
]


async def require_person(ctx: SkillContext, username: str) -> Person:
    person = await ctx.directory.person(username)
    if person is None:
        raise PreconditionFailed("unknown_user", f"no directory user {username}")
    return person


async def require_active_person(ctx: SkillContext, username: str) -> Person:
    """The person, refusing a disabled account: it gets nothing done."""
    person = await require_person(ctx, username)
    if person.disabled:
        raise PreconditionFailed("account_disabled", f"{username} is disabled")
    return person


async def require_group(ctx: SkillContext, group_id: str) -> Group:
    group = await ctx.directory.group(group_id)
    if group is None:
        raise PreconditionFailed("unknown_group", f"no directory group {group_id}")
    return group


async def require_owned_device(ctx: SkillContext, device_id: str, username: str) -> Device:
    """The device, refusing one that belongs to somebody else (or to nobody)."""
    device = await ctx.devices.device(device_id)
    if device is None:
        raise PreconditionFailed("unknown_device", f"no managed device {device_id}")
    if device.owner != username:
        raise PreconditionFailed(
            "not_your_device", f"{device_id} is owned by {device.owner}, not {username}"
        )
    return device


async def require_catalogue_item(ctx: SkillContext, software_id: str) -> SoftwareItem:
    item = await ctx.devices.software(software_id)
    if item is None:
        raise PreconditionFailed("not_in_catalogue", f"{software_id} is not in the catalogue")
    return item
