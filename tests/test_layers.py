"""The import layers `make lint` checks cover every module: a module left out of them could
import anything from anywhere without the check noticing."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> set[str]:
    found = set()
    for package in ("bot", "adapters", "skills", "verification"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] != "__init__":
                found.add(".".join(parts))
    return found


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return [name.strip() for layer in layers for name in layer.replace("|", ":").split(":")]


def test_every_module_is_in_a_layer() -> None:
    layered = _layers()
    uncovered = [
        module
        for module in sorted(_modules())
        if not any(module == name or module.startswith(name + ".") for name in layered)
    ]
    assert uncovered == []
