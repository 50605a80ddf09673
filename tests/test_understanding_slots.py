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
INITECH = ROOT / "tests" / "desk_scenarios" / "orgs" / "initech.yaml"


class Desk:
    """One org's understanding, with its people to speak as."""

    def __init__(self, path: Path) -> None:
        org = load_org(path)
        self.understanding = OfflineUnderstanding(org.catalog())
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


@pytest.fixture(scope="module")
def initech() -> Desk:
    return Desk(INITECH)


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


# --- requests about someone else ----------------------------------------------------------
# "install zoom for bob" must never become an install for the requester: the third party is
# the subject, a username when the org knows them, "unknown:<as typed>" when it does not.

ORGS = {"globex": "globex", "acme": "acme", "initech": "initech"}


@pytest.fixture(scope="module")
def desks(globex: Desk, acme: Desk, initech: Desk) -> dict[str, Desk]:
    return {"globex": globex, "acme": acme, "initech": initech}


@pytest.mark.parametrize(
    ("org", "who", "text", "target"),
    [
        # "for <name>"
        ("globex", "alice", "install zoom for bob please", "bob"),
        ("globex", "alice", "can you install tableau for Grace", "grace"),
        ("globex", "alice", "unlock the account for bob please", "bob"),
        ("acme", "sofia", "install matlab for tomas", "tomas"),
        ("initech", "peter", "please install figma for joanna", "joanna"),
        ("initech", "peter", "install zoom for zoe please", "zoe"),
        # "add <name> to", "give <name> access"
        ("globex", "alice", "give bob access to the finance archive", "bob"),
        ("globex", "alice", "add frank to domain-admins", "frank"),
        ("globex", "alice", "take bob off finance reports", "bob"),
        ("acme", "sofia", "please add tomas to the firmware repositories group", "tomas"),
        ("initech", "peter", "add zoe to the pipeline reports group", "zoe"),
        # "<name>'s <thing>", "on <name>'s laptop"
        ("globex", "alice", "install slack on bob's laptop", "bob"),
        ("initech", "peter", "reset mateo's password", "mateo"),
        # "<name> needs / is locked out / can't log in"
        ("globex", "alice", "bob needs tableau on his laptop", "bob"),
        ("globex", "alice", "bob lost his phone and needs mfa reset", "bob"),
        ("acme", "sofia", "lena needs zoom on her laptop", "lena"),
        ("initech", "peter", "zoe can't sign in", "zoe"),
        # "my colleague / manager / teammate <name>"
        ("globex", "bob", "my colleague alice is locked out", "alice"),
        ("globex", "alice", "my boss frank can't log in", "frank"),
        ("globex", "alice", "my manager carol is locked out", "carol"),
        ("globex", "alice", "my teammate bob wants excel", "bob"),
        ("globex", "alice", "for my colleague bob, please install zoom", "bob"),
        ("acme", "sofia", "my colleague Tomas is locked out", "tomas"),
        ("initech", "peter", "my teammate samir needs slack", "samir"),
        # "on behalf of", and "him"/"her" after a name
        ("globex", "alice", "I'm asking on behalf of bob: he needs finance reports", "bob"),
        ("globex", "alice", "bob asked me to add him to finance reports", "bob"),
    ],
)
def test_a_third_party_the_org_knows(
    desks: dict[str, Desk], org: str, who: str, text: str, target: str
) -> None:
    assert desks[org].slots(who, text).get("target_user") == target


@pytest.mark.parametrize(
    ("org", "who", "text", "target"),
    [
        ("globex", "alice", "please install figma for joanna", "unknown:joanna"),
        ("globex", "alice", "can you add dan to the finance reports group", "unknown:dan"),
        ("globex", "alice", "Please add Dan Smith to finance reports", "unknown:Dan Smith"),
        ("globex", "alice", "give dan access to the finance archive", "unknown:dan"),
        ("globex", "alice", "grant Priya read access to finance reports", "unknown:Priya"),
        ("globex", "alice", "please give Dan admin rights", "unknown:Dan"),
        ("globex", "alice", "can you let dan into the finance team", "unknown:dan"),
        ("globex", "alice", "get dan access to finance reports", "unknown:dan"),
        ("globex", "alice", "set dan up with zoom", "unknown:dan"),
        ("globex", "alice", "remove dan from the finance team", "unknown:dan"),
        ("globex", "alice", "can you reset Dan's password", "unknown:Dan"),
        ("globex", "alice", "dan's password has expired, can you reset it", "unknown:dan"),
        ("globex", "alice", "install slack on dan's laptop", "unknown:dan"),
        ("globex", "alice", "reset the password of dan", "unknown:dan"),
        ("globex", "alice", "dan needs tableau", "unknown:dan"),
        ("globex", "alice", "dan is locked out", "unknown:dan"),
        ("globex", "alice", "Dan can't log in to his account", "unknown:Dan"),
        ("globex", "alice", "dan lost his phone, can you reset his mfa", "unknown:dan"),
        ("globex", "alice", "my colleague dan is locked out", "unknown:dan"),
        ("globex", "alice", "our new hire Sam needs zoom", "unknown:Sam"),
        ("globex", "alice", "on behalf of dan, please reset his password", "unknown:dan"),
        (
            "globex",
            "alice",
            "dan started today, can you add him to the finance team",
            "unknown:dan",
        ),
        (
            "globex",
            "alice",
            "Sarah from accounts called, can you reset her password",
            "unknown:Sarah",
        ),
        ("globex", "alice", "he can't log in, can you help? it's my colleague Dan", "unknown:Dan"),
        # someone else, unnamed
        ("globex", "alice", "my colleague is locked out", "unknown:my colleague"),
        ("globex", "alice", "my manager can't log in", "unknown:my manager"),
        (
            "globex",
            "alice",
            "add my colleague to the finance reports group",
            "unknown:my colleague",
        ),
        ("globex", "alice", "install zoom for my colleague", "unknown:my colleague"),
        ("globex", "alice", "please install slack for our intern", "unknown:our intern"),
        (
            "globex",
            "alice",
            "one of my colleagues forgot her password",
            "unknown:one of my colleagues",
        ),
        ("globex", "alice", "can you reset her password", "unknown:her"),
        ("globex", "alice", "please unlock his account", "unknown:his"),
        # another org's people are strangers here
        ("acme", "sofia", "install solidworks for joanna", "unknown:joanna"),
        ("acme", "sofia", "add dan to the firmware group", "unknown:dan"),
        ("initech", "peter", "add alice to the sales team", "unknown:alice"),
    ],
)
def test_a_third_party_the_org_does_not_know(
    desks: dict[str, Desk], org: str, who: str, text: str, target: str
) -> None:
    assert desks[org].slots(who, text).get("target_user") == target


@pytest.mark.parametrize(
    ("org", "who", "text"),
    [
        ("globex", "alice", "install zoom for my laptop"),
        ("globex", "alice", "I need access to the dashboards for the dashboards project"),
        ("globex", "alice", "add me to finance reports for 2 weeks"),
        ("globex", "alice", "I need finance reports access for quarter close"),
        ("globex", "alice", "add me to the finance team"),
        ("globex", "alice", "I need zoom for zoom calls"),
        ("globex", "alice", "please install slack for the team"),
        ("globex", "alice", "I need a charger for my new phone"),
        ("globex", "alice", "install excel for work"),
        ("globex", "alice", "need zoom for a client demo"),
        ("globex", "alice", "I need access for Finance Reports"),
        ("globex", "alice", "reset my password for outlook"),
        ("globex", "alice", "I need tableau for reporting"),
        ("globex", "alice", "can I get figma for design work"),
        ("globex", "alice", "I need a licence for Procreate"),
        ("globex", "alice", "I need access to the finance reports for the audit"),
        ("globex", "alice", "I need slack for sales"),
        ("globex", "alice", "install slack for testing"),
        ("globex", "alice", "please install zoom for me"),
        ("globex", "alice", "Please install Zoom for Monday's meeting"),
        ("globex", "alice", "need tableau for dashboards"),
        ("globex", "alice", "please add Procreate to my ipad"),
        ("globex", "alice", "can you install zoom for me on my laptop for tomorrow"),
        ("globex", "alice", "I need power bi for the Q3 forecast"),
        ("globex", "alice", "what's for lunch in the canteen today?"),
        ("globex", "alice", "I need the bowling league list for fun"),
        # the writer, named or described
        ("globex", "alice", "please install zoom, thanks Dan"),
        ("globex", "alice", "Hi, this is Dan, I'm locked out"),
        ("globex", "alice", "I'm a new hire and need zoom"),
        ("globex", "alice", "I'm the new starter, please set up my laptop"),
        ("globex", "alice", "could you please unlock my user account"),
        ("globex", "alice", "bob and I need access to finance reports"),
        # approvers, models, owners
        ("globex", "alice", "my manager needs me to have access to finance reports"),
        ("globex", "alice", "my manager wants me in the finance team"),
        ("globex", "alice", "my manager approved, please add me to finance reports"),
        ("globex", "alice", "I need access for my manager's review"),
        ("globex", "alice", "I'm waiting for bob to approve my request"),
        ("globex", "alice", "add me to bob's team channel"),
        ("globex", "alice", "can I get access to bob's calendar"),
        ("globex", "alice", "add me to the finance team so I can help carol"),
        ("globex", "alice", "I need the same access as my colleague dan"),
        ("globex", "alice", "I need access to finance reports like my teammate bob"),
        ("globex", "alice", "my colleague dan told me to ask you to add me to finance reports"),
        ("globex", "alice", "I got an email from Dan asking for my password"),
        # things, not people
        ("globex", "alice", "Outlook can't connect"),
        ("globex", "alice", "Figma needs an update"),
        ("globex", "alice", "please give it a try"),
        ("globex", "alice", "let me know when it's done"),
        ("acme", "sofia", "install matlab for my thesis"),
        ("acme", "sofia", "I need solidworks for the robot project"),
        ("acme", "sofia", "add me to the firmware repositories for 3 months"),
        ("initech", "peter", "install zoom for my laptop please"),
        ("initech", "peter", "add me to the sales forecasts group for quarter close"),
    ],
)
def test_a_request_for_oneself_has_no_third_party(
    desks: dict[str, Desk], org: str, who: str, text: str
) -> None:
    assert "target_user" not in desks[org].slots(who, text)


def test_a_joiner_is_named_not_described(initech: Desk) -> None:
    """For onboarding the slot carries the joiner's name, so "a new hire" is not one."""
    slots = initech.slots("rita", "new starter Dana Whitfield begins on Monday, set her up")
    assert slots.get("target_user") == "unknown:Dana Whitfield"
    assert "target_user" not in initech.slots("rita", "please set up accounts for a new hire")


def test_the_requester_is_never_their_own_third_party(globex: Desk, initech: Desk) -> None:
    assert "target_user" not in globex.slots("bob", "install zoom for bob please")
    assert "target_user" not in globex.slots("bob", "bob needs tableau on his laptop")
    assert "target_user" not in initech.slots("joanna", "please install figma for joanna")


def test_the_same_words_read_the_same_in_a_made_up_org() -> None:
    """No names live in the code: a catalogue built here works like the org files."""
    catalog = Catalog.build(
        people=[
            Person(username="kpatel", name="Kiran Patel", email="k@x.test"),
            Person(username="me", name="Sam Example", email="me@x.test"),
        ],
        groups=[Group(id="ops", name="Operations")],
        software=[SoftwareItem(id="notion", name="Notion")],
    )
    desk = OfflineUnderstanding(catalog)
    me = catalog.people[1]
    assert desk.predict("add kiran to operations", requester=me).slots["target_user"] == "kpatel"
    assert desk.predict("install notion for Kiran Patel", requester=me).slots.get(
        "target_user"
    ) == ("kpatel")
    assert desk.predict("install notion for jo", requester=me).slots.get("target_user") is None
    assert desk.predict("install notion for joss", requester=me).slots["target_user"] == (
        "unknown:joss"
    )
    assert "target_user" not in desk.predict("install notion for sam", requester=me).slots


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


# --- names written the way people write them ----------------------------------------------

_ME = Person(username="me", name="Sam Example", email="me@x.test")


@pytest.fixture(scope="module")
def clinic() -> OfflineUnderstanding:
    """A made-up clinic: acronyms and brands inside longer names, underscore ids."""
    return OfflineUnderstanding(
        Catalog.build(
            groups=[
                Group(id="lims_users", name="LIMS Sample Tracker"),
                Group(id="lab_team", name="Laboratory"),
                Group(id="protocol_editors", name="Lab Protocol Library Editors"),
                Group(id="sop_archive", name="Quality SOP Archive"),
                Group(id="lab_admins", name="LIMS Admins", sensitive=True),
                Group(id="patient_exports", name="Patient Data Exports", sensitive=True),
            ],
            software=[
                SoftwareItem(id="webex-suite", name="Webex Suite"),
                SoftwareItem(id="sas-ent", name="SAS Enterprise Guide"),
                SoftwareItem(id="ibm-minitab", name="IBM Minitab"),
                SoftwareItem(id="acrobat-reader", name="Adobe Acrobat Reader"),
                SoftwareItem(id="acrobat-pro", name="Adobe Acrobat Pro"),
            ],
        )
    )


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("can I get access to SOP please", "sop_archive"),  # an acronym of one name
        ("need edit rights on the protocol library", "protocol_editors"),  # a run inside it
        ("need the LIMS admins group to fix the lab export", "lab_admins"),  # full name wins
    ],
)
def test_group_named_by_part_of_its_name(
    clinic: OfflineUnderstanding, text: str, group: str
) -> None:
    assert clinic.predict(text, requester=_ME).slots.get("group") == group


def test_an_acronym_in_two_names_is_asked_about(clinic: OfflineUnderstanding) -> None:
    slots = clinic.predict("please add me to LIMS", requester=_ME).slots
    assert "group" not in slots
    assert set(slots["group_candidates"].split(",")) == {"lims_users", "lab_admins"}


@pytest.mark.parametrize(
    ("text", "software"),
    [
        ("could you install webex for me", "webex-suite"),  # the brand of "Webex Suite"
        ("I need minitab on my laptop", "ibm-minitab"),  # the id without the vendor
        ("please install SAS", "sas-ent"),  # an acronym leading the name
    ],
)
def test_software_named_by_its_brand(
    clinic: OfflineUnderstanding, text: str, software: str
) -> None:
    assert clinic.predict(text, requester=_ME).slots.get("software") == software


def test_a_brand_two_items_share_is_asked_about(clinic: OfflineUnderstanding) -> None:
    slots = clinic.predict("can you install acrobat please", requester=_ME).slots
    assert "software" not in slots
    assert set(slots["software_candidates"].split(",")) == {"acrobat-reader", "acrobat-pro"}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I lost my work phone on the tram", "mobile"),
        ("my ipad was stolen from the car", "mobile"),
        ("left my laptop in a taxi", "computer"),
        ("my laptop and my phone were in the bag that was stolen", None),
    ],
)
def test_the_kind_of_device(clinic: OfflineUnderstanding, text: str, kind: str | None) -> None:
    assert clinic.predict(text, requester=_ME).slots.get("device_kind") == kind


@pytest.mark.parametrize(
    "text",
    [
        "someone is sending emails from my account to my contacts",
        "somebody logged into my account from another country last night",
        "emails are being sent from my mailbox that I never wrote",
    ],
)
def test_someone_else_in_the_account_is_exposure(text: str) -> None:
    assert credentials_exposed(text)
