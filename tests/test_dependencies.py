"""The runtime dependencies in pyproject.toml match what the desk's code imports, and retries
pause through the one retry library.

A package that is only installed because a dev tool pulls it in works in every checkout and
breaks in the image, which installs the runtime dependencies alone."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

from adapters.chat.teams_auth import ALGORITHMS

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("bot", "adapters", "skills", "verification")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(specs: list[str]) -> dict[str, set[str]]:
    """Distribution name -> the extras asked for, of each PEP 508 requirement."""
    found: dict[str, set[str]] = {}
    for spec in specs:
        match = _REQUIREMENT.match(spec)
        assert match, f"cannot read the requirement {spec!r}"
        extras = {e.strip() for e in (match[2] or "").split(",") if e.strip()}
        found[normalised(match[1])] = extras
    return found


@cache
def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def runtime_requirements() -> dict[str, set[str]]:
    specs = project()["dependencies"]
    assert isinstance(specs, list)
    return requirements(specs)


def dev_requirements() -> dict[str, set[str]]:
    extras = project()["optional-dependencies"]
    assert isinstance(extras, dict)
    return requirements(extras["dev"])


def third_party_imports() -> dict[str, set[str]]:
    """Every module the runtime packages import from outside the project and the standard
    library (also inside functions and TYPE_CHECKING blocks), with the files importing it."""
    found: dict[str, set[str]] = {}
    for folder in RUNTIME:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.partition(".")[0]
                    if top not in sys.stdlib_module_names and top not in RUNTIME:
                        found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    return found


@cache
def _top_level_owners() -> dict[str, list[str]]:
    return packages_distributions()


@cache
def _files_of(name: str) -> tuple[str, ...]:
    return tuple(str(f) for f in distribution(name).files or [])


def distribution_of(module: str) -> str | None:
    """The installed distribution that ships `module`, None when none does."""
    candidates = _top_level_owners().get(module.partition(".")[0], [])
    if len(candidates) <= 1:
        return normalised(candidates[0]) if candidates else None
    # A namespace package (`botbuilder.*`) is shared: the owner ships the module's own files.
    path = module.replace(".", "/")
    owners = {
        normalised(name)
        for name in candidates
        if any(f == f"{path}.py" or f.startswith(f"{path}/") for f in _files_of(name))
    }
    assert len(owners) == 1, f"{module} is shipped by {sorted(owners) or 'no distribution'}"
    return owners.pop()


@cache
def imported_distributions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for module, files in third_party_imports().items():
        name = distribution_of(module)
        assert name is not None, f"{module} (imported by {sorted(files)}) is not installed"
        found.setdefault(name, set()).update(files)
    return found


def test_every_runtime_import_is_a_declared_runtime_dependency() -> None:
    declared = runtime_requirements()
    missing = {
        name: sorted(files)
        for name, files in imported_distributions().items()
        if name not in declared
    }
    assert not missing, f"imported at run time but not in [project].dependencies: {missing}"


def test_every_runtime_dependency_is_imported_by_the_runtime_code() -> None:
    unused = set(runtime_requirements()) - set(imported_distributions())
    assert not unused, f"in [project].dependencies but never imported: {sorted(unused)}"


def test_the_dev_extra_holds_only_what_the_runtime_does_not_need() -> None:
    both = set(runtime_requirements()) & set(dev_requirements())
    assert not both, f"declared as runtime and as dev dependency: {sorted(both)}"


def test_pyjwt_comes_with_the_crypto_extra_the_teams_signatures_need() -> None:
    # RS*, PS* and ES* signatures are verified by `cryptography`, which PyJWT pulls in only
    # through its `crypto` extra; without it every Teams token is refused.
    assert all(alg[:2] in {"RS", "PS", "ES"} for alg in ALGORITHMS)
    assert "crypto" in runtime_requirements()["pyjwt"]


def test_no_runtime_code_pauses_by_hand() -> None:
    # A retry loop with its own asyncio.sleep is how backoff bugs come back: pauses go through
    # tenacity (handing it asyncio.sleep, or a test's fake, as `sleep=` is fine).
    calls = sorted(
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for folder in RUNTIME
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "sleep"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"asyncio", "time"}
    )
    assert not calls, f"sleeps outside tenacity: {calls}"
