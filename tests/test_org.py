"""The org file: the shipped orgs load, and a broken file is refused with the file, every bad
field and the reason, all at once."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.org import Org, OrgFileError, default_phone, load_org, parse_org

SHARED = Path(__file__).resolve().parents[2] / "shared"
ROOT = Path(__file__).resolve().parents[1]
GLOBEX = SHARED / "scenarios" / "orgs" / "globex.yaml"
ACME = ROOT / "examples" / "acme.yaml"

SMALL: dict[str, Any] = {
    "name": "Small",
    "domain": "small.test",
    "now": "2026-03-02T09:00:00Z",
    "users": {
        "ann": {
            "name": "Ann Lee",
            "email": "ann@small.test",
            "manager": "ben",
            "factors": ["push"],
            "groups": ["staff"],
            "devices": ["LT-1"],
        },
        "ben": {"name": "Ben Cho", "email": "ben@small.test", "groups": ["staff"]},
    },
    "groups": {"staff": {"name": "Staff", "owner": "ben"}},
    "devices": {"LT-1": {"owner": "ann", "os": "macos", "installed": ["slack"]}},
    "software": {"slack": {"name": "Slack"}},
}


def small(**changes: Any) -> dict[str, Any]:
    """A copy of SMALL with dotted-path changes applied, e.g. `**{"users.ann.manager": "x"}`."""
    data = copy.deepcopy(SMALL)
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
    return data


def refused(data: Any, source: str = "small.yaml") -> OrgFileError:
    with pytest.raises(OrgFileError) as caught:
        parse_org(data, source)
    return caught.value


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped orgs ---------------------------------------------------------------------


def test_globex_loads_with_its_people_and_clock() -> None:
    org = load_org(GLOBEX)
    assert org.name == "Globex"
    assert org.now == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    people = {p.username: p for p in org.people()}
    assert len(people) == 9
    assert people["alice"].locked
    assert people["alice"].manager == "carol"
    assert people["bob"].devices == ("LT-2002", "DT-2003")
    assert people["ivan"].disabled
    assert people["frank"].privileged
    groups = {g.id: g for g in org.group_list()}
    assert groups["finance-reports"].approval == "owner"  # the default
    assert groups["marketing-news"].approval == "none"
    assert groups["domain-admins"].sensitive
    assert groups["domain-admins"].max_days == 7
    assert {s.id: s.approval for s in org.catalogue()}["wireshark"] == "security"
    assert "VPN will not connect or keeps dropping" in org.knowledge


def test_acme_is_a_complete_demo_org_of_its_own() -> None:
    org = load_org(ACME)
    globex = load_org(GLOBEX)
    assert (org.name, org.domain, org.now) == ("Acme Robotics", "acme.test", None)
    people = org.people()
    assert 8 <= len(people) <= 12
    assert not {p.name for p in people} & {p.name for p in globex.people()}
    assert all(p.email.endswith("@acme.test") for p in people)
    for role in ("oncall", "admin", "hr", "security"):
        assert any(p.has_role(role) for p in people), role
    assert any(p.privileged and p.department == "Executive" for p in people)
    assert [p.locked for p in people].count(True) >= 1
    assert [p.disabled for p in people].count(True) >= 1
    assert any(len(p.devices) >= 2 for p in people)
    groups = org.group_list()
    assert len(groups) >= 8
    assert any(g.sensitive for g in groups)
    assert any(g.approval == "none" and not g.sensitive for g in groups)
    assert {s.approval for s in org.catalogue()} == {"none", "manager", "security"}
    assert len(org.catalogue()) >= 8
    titles = " ".join(org.knowledge).lower()
    for topic in ("vpn", "wi-fi", "e-mail", "print"):
        assert topic in titles, topic
    assert len(org.knowledge) >= 5


# --- conversions and defaults -------------------------------------------------------------


def test_contact_details_default_and_can_be_given() -> None:
    org = parse_org(
        small(**{"users.ben.phone": "+1 555 0100", "users.ben.recovery_email": "ben@home.example"}),
        "small",
    )
    assert org.phone_of("ann") == default_phone("ann") == default_phone("ann")
    assert default_phone("ann") != default_phone("ben")
    assert default_phone("ann").startswith("+44 7700 900")
    assert org.recovery_email_of("ann") == "ann@small.test"
    assert (org.phone_of("ben"), org.recovery_email_of("ben")) == (
        "+1 555 0100",
        "ben@home.example",
    )


def test_device_ownership_may_be_written_on_either_side() -> None:
    data = small(**{"users.ann.devices": [], "users.ben.devices": ["DT-2"]})
    data["devices"]["DT-2"] = {"os": "windows"}  # no owner: ben lists it
    org = parse_org(data, "small")
    devices = {d.id: d for d in org.device_list()}
    assert devices["LT-1"].owner == "ann"
    assert devices["DT-2"].owner == "ben"
    people = {p.username: p for p in org.people()}
    assert people["ann"].devices == ("LT-1",)  # from the device's owner
    assert people["ben"].devices == ("DT-2",)


def test_installed_software_need_not_be_in_the_catalogue() -> None:
    org = parse_org(small(**{"devices.LT-1.installed": ["slack", "homebrew"]}), "small")
    assert org.device_list()[0].installed == ("slack", "homebrew")


def test_now_is_optional_and_unzoned_times_are_utc() -> None:
    assert parse_org(small(now=None), "s").now is None
    assert parse_org(small(now="2026-03-02T09:00:00"), "s").now == datetime(
        2026, 3, 2, 9, 0, tzinfo=UTC
    )


# --- refusals -----------------------------------------------------------------------------


def test_unknown_key_is_named_with_file_path_line_and_a_suggestion(tmp_path: Path) -> None:
    data = small()
    data["users"]["ann"]["manger"] = data["users"]["ann"].pop("manager")
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(OrgFileError) as caught:
        load_org(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid org file, 1 problem")
    assert "users.ann.manger (line " in message
    assert "unknown field 'manger' (did you mean 'manager'?)" in message
    [problem] = caught.value.problems
    assert problem.line == path.read_text().splitlines().index("    manger: ben") + 1


def test_manager_who_does_not_exist_is_refused() -> None:
    error = refused(small(**{"users.ann.manager": "zed"}))
    assert [(p.path, p.reason) for p in error.problems] == [
        ("users.ann.manager", "'zed' is not a user in this org")
    ]
    assert "small.yaml" in str(error)


def test_wrong_types_are_refused_not_coerced() -> None:
    error = refused(small(**{"users.ann.locked": "no", "groups.staff.max_days": "90"}))
    reasons = {p.path: p.reason for p in error.problems}
    assert reasons.keys() == {"users.ann.locked", "groups.staff.max_days"}
    assert "valid boolean" in reasons["users.ann.locked"]
    assert "(got 'no')" in reasons["users.ann.locked"]


def test_bad_values_are_refused() -> None:
    error = refused(
        small(
            **{
                "users.ann.factors": ["push", "fax"],
                "users.ben.email": "ben",
                "groups.staff.max_days": 0,
                "groups.staff.approval": "anyone",
            }
        )
    )
    paths = {p.path for p in error.problems}
    assert paths == {
        "users.ann.factors[1]",
        "users.ben.email",
        "groups.staff.max_days",
        "groups.staff.approval",
    }
    assert "not an e-mail address" in {p.path: p.reason for p in error.problems}["users.ben.email"]


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: Broken\ndomain: x.test\nusers:\n  ann: {name: Ann\n")
    with pytest.raises(OrgFileError) as caught:
        load_org(path)
    [problem] = caught.value.problems
    assert problem.reason.startswith("YAML syntax error")
    assert problem.line is not None
    assert problem.line >= 4
    assert str(caught.value).startswith(str(path))
    assert f"line {problem.line}: YAML syntax error" in str(caught.value)


def test_several_problems_are_all_reported_at_once(tmp_path: Path) -> None:
    data = small(
        **{
            "users.ann.manager": "zed",
            "users.ann.groups": ["staff", "nope"],
            "users.ben.locked": "yes",
            "groups.staff.owner": "ghost",
        }
    )
    data["users"]["ann"]["favourite_colour"] = "blue"  # ann also has a structural error
    data["devices"]["LT-1"]["owner"] = "ben"  # ann lists a device that is ben's
    path = write(tmp_path, yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(OrgFileError) as caught:
        load_org(path)
    problems = {p.path: p.reason for p in caught.value.problems}
    assert problems == {
        "users.ann.manager": "'zed' is not a user in this org",
        "users.ann.groups[1]": "'nope' is not a group in this org",
        "users.ann.devices[0]": "LT-1 belongs to ben (devices.LT-1.owner)",
        "users.ann.favourite_colour": problems["users.ann.favourite_colour"],
        "users.ben.locked": problems["users.ben.locked"],
        "groups.staff.owner": "'ghost' is not a user in this org",
    }
    assert "unknown field 'favourite_colour'" in problems["users.ann.favourite_colour"]
    assert "6 problems" in str(caught.value)
    assert all(p.line for p in caught.value.problems)
    lines = [p.line or 0 for p in caught.value.problems]
    assert lines == sorted(lines)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = yaml.safe_dump(small(), sort_keys=False) + "software:\n  zoom: {name: Zoom}\n"
    with pytest.raises(OrgFileError) as caught:
        load_org(write(tmp_path, text))
    [problem] = caught.value.problems
    assert problem.path == "software"
    assert "duplicate key" in problem.reason


def test_a_device_claimed_by_two_people_is_refused() -> None:
    data = small(**{"users.ben.devices": ["DT-2"], "users.ann.devices": ["LT-1", "DT-2"]})
    data["devices"]["DT-2"] = {"os": "linux"}
    error = refused(data)
    assert [(p.path, p.reason) for p in error.problems] == [
        ("users.ben.devices[0]", "DT-2 is also listed under users.ann.devices")
    ]


def test_device_owner_and_user_devices_must_exist() -> None:
    data = small(**{"users.ben.devices": ["PH-9"], "devices.LT-1.owner": "nobody"})
    paths = {p.path: p.reason for p in refused(data).problems}
    assert paths["users.ben.devices[0]"] == "'PH-9' is not a device in this org"
    assert paths["devices.LT-1.owner"] == "'nobody' is not a user in this org"


def test_manager_chains_must_not_loop() -> None:
    error = refused(small(**{"users.ben.manager": "ann"}))
    assert [(p.path, p.reason) for p in error.problems] == [
        ("users.ann.manager", "manager chain loops: ann -> ben -> ann")
    ]
    own = refused(small(**{"users.ben.manager": "ben"}))
    assert [p.reason for p in own.problems] == ["a person cannot be their own manager"]


def test_the_same_email_twice_is_refused() -> None:
    error = refused(small(**{"users.ben.email": "ANN@small.test"}))
    assert [(p.path, p.reason) for p in error.problems] == [
        ("users.ben.email", "same address as users.ann")
    ]


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "plain words\n"])
def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(OrgFileError, match="expected a mapping with name, domain and users"):
        load_org(write(tmp_path, text))


def test_missing_required_fields_are_named() -> None:
    data = small()
    del data["users"]["ben"]["email"]
    del data["domain"]
    error = refused(data)
    assert {p.path: p.reason for p in error.problems} == {
        "domain": "required field is missing",
        "users.ben.email": "required field is missing",
    }


def test_unreadable_file_is_an_org_file_error(tmp_path: Path) -> None:
    with pytest.raises(OrgFileError, match="cannot read the file"):
        load_org(tmp_path / "missing.yaml")


def test_parse_org_accepts_what_load_org_accepts() -> None:
    assert parse_org(yaml.safe_load(GLOBEX.read_text()), "globex") == load_org(GLOBEX)
    assert isinstance(parse_org(small(), "small"), Org)


def test_libyaml_reads_an_org_file_as_the_pure_python_parser_does(tmp_path: Path) -> None:
    from bot import org_yaml

    broken = yaml.safe_dump(small(**{"users.ann.manager": "zed", "users.ben.locked": "yes"}))
    broken += "users:\n  carl: {name: Carl, email: carl@small.test}\n"  # a duplicate key
    for text in (ACME.read_text(), GLOBEX.read_text(), broken):
        fast = org_yaml._read(text, yaml.CSafeLoader)
        pure = org_yaml._read(text, yaml.SafeLoader)
        assert fast.data == pure.data
        assert fast.problems == pure.problems
        for loc in [("users",), ("users", "ann", "manager"), ("users", "ben", "locked")]:
            assert fast.line_of(loc) == pure.line_of(loc)
    with pytest.raises(OrgFileError) as caught:
        load_org(write(tmp_path, broken))
    duplicate = next(p for p in caught.value.problems if "duplicate key" in p.reason)
    assert duplicate.line == pure.problems[0].line == len(broken.splitlines()) - 1  # the 2nd
