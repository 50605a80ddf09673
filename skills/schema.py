"""Tool definitions for a language model, generated from the skills' `Params` models so the
schema the model sees can never drift from what a skill accepts."""

from __future__ import annotations

import inspect
from typing import Any

from skills.base import AnySkill
from skills.registry import SkillRegistry


def tool_schema(skill: AnySkill) -> dict[str, Any]:
    """One tool: the skill's name, the first paragraph of its docstring (later paragraphs are
    notes for developers), and the JSON schema of its parameters."""
    doc = inspect.getdoc(type(skill)) or skill.name
    return {
        "name": skill.name,
        "description": doc.split("\n\n", 1)[0].replace("\n", " "),
        "input_schema": skill.Params.model_json_schema(),
    }


def tool_schemas(registry: SkillRegistry) -> list[dict[str, Any]]:
    """Every registered skill as a tool, in registration order."""
    return [tool_schema(skill) for skill in registry.all()]
