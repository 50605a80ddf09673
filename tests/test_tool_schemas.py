"""The tool schemas a language model sees, pinned in a snapshot so a reviewer sees every
change. After an intended change, regenerate it:

    UPDATE_SNAPSHOTS=1 pytest tests/test_tool_schemas.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from skills import default_skills
from skills.schema import tool_schemas

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "tool_schemas.json"


def test_tool_schemas_match_the_snapshot() -> None:
    current = json.dumps(tool_schemas(default_skills()), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    pinned = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            pinned.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{SNAPSHOT.name} (pinned)",
            tofile=f"{SNAPSHOT.name} (generated)",
        )
    )
    assert not diff, f"tool schemas changed (UPDATE_SNAPSHOTS=1 to accept):\n{diff}"


def test_every_tool_is_strict_and_described() -> None:
    for tool in tool_schemas(default_skills()):
        assert tool["description"], tool["name"]
        assert tool["input_schema"]["type"] == "object"
        # a model's proposal cannot smuggle in keys the skill does not take
        assert tool["input_schema"]["additionalProperties"] is False
