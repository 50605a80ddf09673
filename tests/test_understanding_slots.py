"""Slot filling against two different org catalogues: the names come from the org file, so
the same code must find Globex's groups and Acme's software alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import Group, Person, SoftwareItem
from bot.org import load_org
from bot.understanding import Catalog, OfflineUnderstanding
from bot.understanding.slots import credentials_exposed, duration_days

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared"
GLOBEX = SHARED / "scenarios" / "orgs" / "globex.yaml"
ACME = ROOT / "examples" / "acme.yaml"


class Desk:
    """One org's understanding, with its people to speak as."""

    def __init__(self, path: Path) -> None:
        org = load_org(path)
        self.understanding = OfflineUnderstanding(Catalog.from_org(org))
        self.people = {p.username: p for p in org.people()}

    def slots(self, who: str, text: str) -> dict[str, str]:
        return self.understanding.predict(text, requester=self.people[who]).slots

    def intent(self, who: str, text: str) -> str:
        return self.understanding.predict(text, requester=self.people[who]).intent


@pytest.fixture(scope="module")
def globex() -> Desk:
    return Desk(GLOBEX)


@pytest.fixture(scope="module")
def acme() -> Desk:
    return Desk(ACME)


# --- groups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "text", "group"),
    [
        ("alice", "can you add me to finance reports?", "finance-reports"),
        ("alice", "please add me to finance-reports", "finance-reports"),
        ("alice", "add me to the finance reports group", "finance-reports"),
        ("alice", "Finance Reports (read) access please", "finance-reports"),
        ("alice", "could I join finanse reports", "finance-reports"),
        ("bob", "I need domain admin rights to install a driver", "domain-admins"),
        ("alice", "add me to the marketing newsletter list please", "marketing-news"),
        ("carol", "please add me to the finance archive group", "finance-archive"),
        ("alice", "I'd like to join the finance team", "finance"),
        ("carol", "add me to payroll-admin", "payroll-admin"),
        ("carol", "I need payroll admin for a month", "payroll-admin"),
        ("bob", "please take me off finance-reports, no longer needed", "finance-reports"),
    ],
)
def test_globex_groups(globex: Desk, who: str, text: str, group: str) -> None:
    slots = globex.slots(who, text)
    assert slots.get("group") == group, slots
    assert "group_candidates" not in slots


@pytest.mark.parametrize(
    ("who", "text", "group"),
    [
        ("sofia", "add me to the firmware repositories group", "firmware"),
        ("sofia", "can I get access to the firmware repos?", "firmware"),
        ("tomas", "I need to be in the cad licence pool", "cad-licences"),
        ("sofia", "please add me to the robot lab newsletter", "robot-lab-news"),
        ("marcus", "general ledger read access please", "finance-ledger"),
        ("sofia", "I need robot fleet admin for a week", "fleet-admin"),
        ("sofia", "take me off the robot lab newsletter", "robot-lab-news"),
    ],
)
def test_acme_groups(acme: Desk, who: str, text: str, group: str) -> None:
    assert acme.slots(who, text).get("group") == group


def test_an_ambiguous_group_name_gives_candidates(globex: Desk, acme: Desk) -> None:
    slots = globex.slots("alice", "add me to finance please")
    assert "group" not in slots
    assert set(slots["group_candidates"].split(",")) == {
        "finance",
        "finance-reports",
        "finance-archive",
    }
    slots = acme.slots("sofia", "add me to finance")
    assert set(slots["group_candidates"].split(",")) == {"finance", "finance-ledger"}


def test_a_word_of_a_group_name_only_gives_candidates(globex: Desk, acme: Desk) -> None:
    # "marketing" is one word of "Marketing Newsletter": ask, do not pick (an open list
    # would be joined without anyone approving)
    slots = globex.slots("alice", "add me to marketing")
    assert "group" not in slots
    assert slots["group_candidates"] == "marketing-news"
    slots = acme.slots("sofia", "Can I get admin access to the staging server?")
    assert "group" not in slots
    assert "group_candidates" not in slots


def test_group_words_outside_access_requests_are_not_groups(globex: Desk) -> None:
    slots = globex.slots("alice", "I want to report a security issue, a weird email")
    assert "group" not in slots
    assert "group_candidates" not in slots


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("add me to finance reports for 2 weeks", "14"),
        ("I need the finance archive for 30 days", "30"),
        ("finance reports access for a month please", "30"),
        ("add me to finance-reports for the next ten days", "10"),
        ("add me to finance reports for 48 hours", "2"),
    ],
)
def test_duration(globex: Desk, text: str, days: str) -> None:
    slots = globex.slots("alice", text)
    assert slots["duration"] == days
    assert slots["group"] in {"finance-reports", "finance-archive"}


def test_duration_parsing() -> None:
    assert duration_days("for a fortnight") == 14
    assert duration_days("until the end of the month") is None
    assert duration_days("it happens once a day") is None


# --- software and devices --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "software"),
    [
        ("can I get zoom installed?", "zoom"),
        ("please install vs code", "visual-studio-code"),
        ("install vscode pls", "visual-studio-code"),
        ("please install visual studio code", "visual-studio-code"),
        ("I need Tableau for a client project", "tableau"),
        ("could you install wireshark on my laptop", "wireshark"),
        ("can I have microsoft excel", "excel"),
        ("excel keeps crashing when I open big files", "excel"),
    ],
)
def test_globex_software(globex: Desk, text: str, software: str) -> None:
    slots = globex.slots("alice", text)
    assert slots.get("software") == software
    assert "software_name" not in slots


@pytest.mark.parametrize(
    ("text", "software"),
    [
        ("install vs code on my workstation", "vscode"),
        ("I need solidworks", "solidworks"),
        ("can I have 1Password", "1password"),
        ("please install matlab", "matlab"),
        ("could I get Google Chrome", "chrome"),
    ],
)
def test_acme_software(acme: Desk, text: str, software: str) -> None:
    assert acme.slots("sofia", text).get("software") == software


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I need photoshop", "photoshop"),
        ("could you install Figma for me", "figma"),
        ("please install Affinity Designer", "affinity designer"),
    ],
)
def test_software_outside_the_catalogue_is_named(globex: Desk, text: str, name: str) -> None:
    slots = globex.slots("alice", text)
    assert globex.intent("alice", text) == "software_install"
    assert slots.get("software_name") == name
    assert "software" not in slots


def test_devices(globex: Desk, acme: Desk) -> None:
    assert globex.slots("bob", "install zoom on lt-2002")["device"] == "LT-2002"
    assert globex.slots("bob", "LT2002 please")["device"] == "LT-2002"
    slots = acme.slots("sofia", "install vs code on WS-1004")
    assert (slots["device"], slots["software"]) == ("WS-1004", "vscode")


def test_a_catalogue_name_that_is_nearly_a_word_does_not_take_it(acme: Desk) -> None:
    # acme's catalogue carries "1Password": "password" is still a password
    text = "my password expired, how do I set a new one"
    assert acme.intent("sofia", text) == "password_reset"
    assert "software" not in acme.slots("sofia", text)


# --- people -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "text", "target"),
    [
        ("bob", "can you reset alice's password? she's on holiday", "alice"),
        ("grace", "Please offboard bob, he finishes today", "bob"),
        ("alice", "bob is leaving, please disable his account", "bob"),
        ("bob", "unlock the account of Alice Moreau please", "alice"),
        ("bob", "add frank to domain-admins", "frank"),
    ],
)
def test_target_user(globex: Desk, who: str, text: str, target: str) -> None:
    assert globex.slots(who, text).get("target_user") == target


@pytest.mark.parametrize(
    ("who", "text"),
    [
        ("alice", "alice here, I forgot my password"),
        ("alice", "please reset my password, Alice Moreau"),
        ("alice", "add me to finance reports, carol approved it"),
        ("alice", "add me to finance reports, my manager carol said it's fine"),
        ("alice", "I need the same access as bob"),
        ("alice", "To be frank, my laptop is slow"),
    ],
)
def test_no_target_user(globex: Desk, who: str, text: str) -> None:
    assert "target_user" not in globex.slots(who, text)


def test_acme_target_user(acme: Desk) -> None:
    assert acme.slots("sofia", "reset tomas's password")["target_user"] == "tomas"
    assert acme.slots("hana", "Please offboard noah")["target_user"] == "noah"
    assert "target_user" not in acme.slots("noah", "noah here, reset my password")


# --- apps and exposed credentials ----------------------------------------------------------


def test_app(globex: Desk) -> None:
    assert globex.slots("alice", "I'm locked out of salesforce")["app"] == "salesforce"
    assert globex.slots("alice", "forgot my SAP password")["app"] == "sap"
    assert globex.slots("alice", "vpn keeps dropping")["app"] == "vpn"
    assert "app" not in globex.slots("alice", "I forgot my password")


@pytest.mark.parametrize(
    "text",
    [
        "I clicked a link in a mail that looked like our login page and typed my password",
        "I think my account has been hacked",
        "I entered my credentials on a fake site",
        "I gave my password to someone on the phone who said they were IT",
        "I approved an MFA request by mistake, it wasn't me",
    ],
)
def test_credentials_exposed(globex: Desk, text: str) -> None:
    assert credentials_exposed(text)
    assert globex.slots("bob", text)["credentials_exposed"] == "yes"


@pytest.mark.parametrize(
    "text",
    [
        "I got a phishing email but I didn't type my password anywhere",
        "I typed the wrong password too many times",
        "I entered my password wrong 3 times and now I'm locked out",
        "I got a phishing email, I did not click it",
    ],
)
def test_credentials_not_exposed(text: str) -> None:
    assert not credentials_exposed(text)


def test_a_made_up_catalogue(globex: Desk) -> None:
    # names that are ordinary words must not hijack a message
    catalog = Catalog.build(
        people=[Person(username="will", name="Will Park", email="will@x.test")],
        groups=[
            Group(id="it", name="IT"),
            Group(id="people", name="People"),
            Group(id="vpn-users", name="VPN Users"),
        ],
        software=[
            SoftwareItem(id="access", name="Microsoft Access"),
            SoftwareItem(id="vpn-client", name="VPN Client"),
        ],
    )
    desk = OfflineUnderstanding(catalog)
    me = Person(username="me", name="Sam Example", email="me@x.test")
    assert desk.predict("my vpn keeps dropping", requester=me).intent == "vpn_issue"
    result = desk.predict("I need access to the people group", requester=me)
    assert (result.intent, result.slots.get("group")) == ("access_request", "people")
    result = desk.predict("please install Microsoft Access", requester=me)
    assert (result.intent, result.slots.get("software")) == ("software_install", "access")
    result = desk.predict("add me to vpn users", requester=me)
    assert result.slots.get("group") == "vpn-users"
    assert "target_user" not in desk.predict("will you reset my password?", requester=me).slots
