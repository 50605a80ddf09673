"""One catalogue of sentences: every key the code names exists, every sentence is used, values
match placeholders, and no module writes a sentence of its own into a reply, card or button."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot import texts
from bot.texts import Catalogue, CatalogueError, Text
from skills import default_skills

ROOT = Path(__file__).resolve().parents[1]
CODE = [p for d in ("bot", "adapters", "skills", "verification") for p in (ROOT / d).rglob("*.py")]
# keys the code builds from a reason, an intent, a queue or a capability
DYNAMIC = ("refusal.", "unsupported.", "queue.", "change_notice.", "menu.item.", "approval.risk.",
           "approval.verdict.", "handoff.next_step.", "summary.headline.", "summary.next_step.",
           "admin.stats_", "step_up.code_lead", "outage.service.", "identity.")  # fmt: skip


def _keys_in(arg: ast.AST) -> list[str]:
    """The literal keys an argument names: a constant, or either branch of `a if c else b`."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        return _keys_in(arg.body) + _keys_in(arg.orelse)
    return []


def _named_keys() -> dict[str, set[str]]:
    """Literal keys passed to `say(...)`, `texts.say(...)` or `Text(...)`, by file."""
    found: dict[str, set[str]] = {}
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) in {"say", "texts.say", "Text"}
                and node.args
            ):
                found.setdefault(str(path.relative_to(ROOT)), set()).update(_keys_in(node.args[0]))
    return found


def test_every_key_the_code_names_is_in_the_catalogue() -> None:
    missing = {
        f: sorted(k for k in keys if not texts.DESK.has(k)) for f, keys in _named_keys().items()
    }
    assert {f: k for f, k in missing.items() if k} == {}


def test_every_sentence_in_the_catalogue_is_said_somewhere() -> None:
    named = set().union(*_named_keys().values())
    unused = [k for k in texts.DESK.keys_under() if k not in named and not k.startswith(DYNAMIC)]
    assert unused == []


def test_every_skill_has_a_title_and_names_its_steps() -> None:
    registry = default_skills()
    for name in registry.names():
        assert registry.title(name)
        assert registry.step(name, {"user": "u", "group": "g", "software": "s", "device": "d"})
    assert registry.step("install_software", {"software": "zoom", "device": "LT-1"}) == (
        "install software zoom on LT-1"
    )
    assert registry.step("install_software", {"software": "zoom"}) == "install software zoom"


_SENTENCE_CALLS = {"say", "tell", "ephemeral", "text_reply"}
_SENTENCE_FIELDS = {"label", "title", "context", "confirm", "text"}


def _literal(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value
    ) or (
        isinstance(node, ast.JoinedStr)
        and any(
            isinstance(v, ast.Constant) and any(c.isalpha() for c in str(v.value))
            for v in node.values
        )
    )


def test_no_reply_card_or_button_carries_wording_of_its_own() -> None:
    """Sentences reach people only through the catalogue: no literal text is passed to a reply,
    a card, a field or a button anywhere in the desk, the skills or the adapters."""
    offenders = []
    for path in CODE:
        if "scenarios" in path.parts:
            continue  # the scenario runner's own report, for developers
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            name = func.rsplit(".", 1)[-1]
            by_key = func == name or "texts" in func  # `say(key)`, `texts.say(key)`: a lookup
            if name in _SENTENCE_CALLS and not by_key and any(_literal(a) for a in node.args):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if name in {"Card", "CardField", "Button", "Reply"}:
                for kw in node.keywords:
                    if kw.arg in _SENTENCE_FIELDS and _literal(kw.value):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {kw.arg}=")
    assert offenders == []


def test_rendering_is_strict_about_keys_and_values() -> None:
    catalogue = Catalogue(
        {"a.greet": "Hello {name}.", "a.n": {"one": "{count} day", "other": "{count} days"}}
    )
    assert catalogue.say("a.greet", name="Ana") == "Hello Ana."
    assert catalogue.render(Text("a.n", {"count": 1})) == "1 day"
    assert catalogue.say("a.n", count=3) == "3 days"
    with pytest.raises(CatalogueError, match=r"no sentence 'a\.nope'"):
        catalogue.say("a.nope")
    with pytest.raises(CatalogueError, match=r"missing \['name'\]"):
        catalogue.say("a.greet")
    with pytest.raises(CatalogueError, match=r"unused \['extra'\]"):
        catalogue.say("a.greet", name="Ana", extra=1)
    assert catalogue.placeholders("a.n") == {"count"}


def test_a_bad_catalogue_file_is_refused_with_where_and_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[a]\nn = 3\n")
    with pytest.raises(CatalogueError, match=r"bad\.toml: a\.n must be text"):
        Catalogue.load([bad])
    bad.write_text("a = \n")
    with pytest.raises(CatalogueError, match="cannot read the text catalogue"):
        Catalogue.load([bad])
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.write_text('[a]\nb = "x"\n')
    two.write_text('a.b = "y"\n')
    with pytest.raises(CatalogueError, match=r"a\.b is defined twice"):
        Catalogue.load([one, two])
    with pytest.raises(CatalogueError, match=r"defined twice: a\.b"):
        Catalogue.load([one]).merged(Catalogue.load([two]))


def test_skill_sentences_name_the_values_their_skill_passes() -> None:
    """Each skill sentence renders with the values of its key's placeholders only (a typo in
    a file would surface as a missing or unused value)."""
    said = default_skills().texts()
    for key in said.keys_under("skill."):
        values = {name: 2 if name == "count" else "x" for name in said.placeholders(key)}
        assert said.say(key, **values)
