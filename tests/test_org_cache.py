"""An org file read once: the stored copy is the same org, a changed file is read again with
its problems reported as ever, and a broken copy is replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import org_cache
from bot.org import Org, OrgFileError, load_org
from bot.org_cache import OrgCache

ROOT = Path(__file__).resolve().parents[1]
ACME = ROOT / "examples" / "acme.yaml"


class CountedLoad:
    """`load_org`, counting its calls (each is a YAML parse)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path) -> Org:
        self.calls += 1
        return load_org(path)


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> CountedLoad:
    counter = CountedLoad()
    monkeypatch.setattr(org_cache, "load_org", counter)
    return counter


@pytest.fixture
def org_file(tmp_path: Path) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(ACME.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_an_unchanged_file_is_parsed_once(
    parsed: CountedLoad, org_file: Path, tmp_path: Path
) -> None:
    cache = OrgCache(tmp_path / "cache")
    first, second = cache.load(org_file), cache.load(org_file)
    assert parsed.calls == 1
    assert first == second == load_org(org_file)
    assert second.catalog() == first.catalog()


def test_an_edited_file_is_parsed_again_and_replaces_its_copy(
    parsed: CountedLoad, org_file: Path, tmp_path: Path
) -> None:
    cache = OrgCache(tmp_path / "cache")
    cache.load(org_file)
    org_file.write_text(org_file.read_text().replace("Acme", "Acme Two", 1), encoding="utf-8")
    edited = cache.load(org_file)
    assert parsed.calls == 2
    assert edited == load_org(org_file)
    assert len(list((tmp_path / "cache").glob("org-*.json"))) == 1
    cache.load(org_file)
    assert parsed.calls == 2


def test_a_broken_file_is_refused_as_before_and_not_stored(
    parsed: CountedLoad, tmp_path: Path
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text("name: Broken\ndomain: x.test\nusers:\n  ann: {name: Ann}\n")
    with pytest.raises(OrgFileError) as direct:
        load_org(path)
    cache = OrgCache(tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(OrgFileError) as caught:
            cache.load(path)
        assert str(caught.value) == str(direct.value)
    assert parsed.calls == 2
    assert not list((tmp_path / "cache").glob("*.json"))


@pytest.mark.parametrize(
    "damage", [b"{not json", b'{"name": "x"}', b""], ids=["json", "org", "empty"]
)
def test_a_broken_copy_is_read_again_and_replaced(
    parsed: CountedLoad, org_file: Path, tmp_path: Path, damage: bytes
) -> None:
    cache = OrgCache(tmp_path / "cache")
    cache.load(org_file)
    (stored,) = (tmp_path / "cache").glob("org-*.json")
    stored.write_bytes(damage)
    assert cache.load(org_file) == load_org(org_file)
    assert parsed.calls == 2
    cache.load(org_file)
    assert parsed.calls == 2


def test_a_copy_is_kept_for_each_org_file(parsed: CountedLoad, tmp_path: Path) -> None:
    cache = OrgCache(tmp_path / "cache")
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text(ACME.read_text(encoding="utf-8"), encoding="utf-8")
        cache.load(tmp_path / name)
    cache.load(tmp_path / "one.yaml")
    assert parsed.calls == 2


def test_a_missing_file_is_reported_as_by_load_org(tmp_path: Path) -> None:
    with pytest.raises(OrgFileError, match="cannot read the file"):
        OrgCache(tmp_path).load(tmp_path / "nowhere.yaml")
