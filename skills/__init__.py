"""The fixes the desk can make, one module per family; `default_skills` lists them all."""

from __future__ import annotations

from skills.access import AddToGroup, RemoveFromGroup
from skills.accounts import ResetMfa, ResetPassword, RevokeSessions, UnlockAccount
from skills.base import AnySkill
from skills.devices import LockDevice
from skills.people import CreateAccount, DisableAccount, EnableAccount
from skills.registry import SkillRegistry
from skills.software import InstallSoftware, UninstallSoftware


def default_skills() -> SkillRegistry:
    """A registry holding every skill the project ships, checked at start-up."""
    skills: list[AnySkill] = [
        UnlockAccount(),
        ResetPassword(),
        ResetMfa(),
        RevokeSessions(),
        AddToGroup(),
        RemoveFromGroup(),
        InstallSoftware(),
        UninstallSoftware(),
        LockDevice(),
        DisableAccount(),
        EnableAccount(),
        CreateAccount(),
    ]
    registry = SkillRegistry()
    for skill in skills:
        registry.register(skill)
    registry.check_inverses()
    return registry
