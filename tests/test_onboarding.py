"""Reading a new joiner from an onboarding request, against two orgs' directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import Person
from bot.org import load_org
from skills.joiners import looks_like_name, match_person, read_joiner, username_for

ROOT = Path(__file__).resolve().parents[1]
INITECH = load_org(ROOT / "tests" / "desk_scenarios" / "orgs" / "initech.yaml").people()
ACME = load_org(ROOT / "examples" / "acme.yaml").people()


def person(people: list[Person], username: str) -> Person:
    return next(p for p in people if p.username == username)


@pytest.mark.parametrize(
    ("text", "name", "manager"),
    [
        ("Please onboard Dana Whitfield, she starts Monday reporting to Nina.", "Dana Whitfield",
         "nina"),
        ("new hire called Ahmed Karimi joins on the 3rd, manager is Mateo", "Ahmed Karimi",
         "mateo"),
        ("Brian Fowler is starting on Nina's team next week", "Brian Fowler", "nina"),
        ("I have a new starter next week, Elif Demir, can you create her account?", "Elif Demir",
         None),
        ("we have a new joiner starting monday, please get their accounts ready", None, None),
    ],
)  # fmt: skip
def test_reads_the_joiner_and_their_manager(
    text: str, name: str | None, manager: str | None
) -> None:
    joiner = read_joiner(text, INITECH, person(INITECH, "rita"))
    assert (joiner.name, joiner.manager) == (name, manager)


def test_a_manager_asking_for_their_own_team_is_the_manager() -> None:
    hana = person(ACME, "hana")
    asker = next(p for p in ACME if p.manager and not p.has_role("hr"))
    joiner = read_joiner("Kofi Mensah joins my team on Monday", ACME, asker)
    assert (joiner.name, joiner.manager) == ("Kofi Mensah", asker.username)
    assert read_joiner("Kofi Mensah joins on Monday", ACME, hana).manager is None


def test_title_and_department_come_from_the_message_and_the_org() -> None:
    joiner = read_joiner(
        "Onboard Dana Whitfield as a Sales Associate in Sales, reporting to Nina",
        INITECH,
        person(INITECH, "rita"),
    )
    assert joiner.title == "Sales Associate"
    assert joiner.department in {p.department for p in INITECH}


def test_an_existing_employee_is_not_a_new_joiner() -> None:
    existing = person(INITECH, "samir")
    joiner = read_joiner(f"please onboard {existing.name}", INITECH, person(INITECH, "rita"))
    assert joiner.name is None


def test_usernames_are_free_and_plain() -> None:
    assert username_for("Jane Smith", set()) == "jane"
    assert username_for("Jane Smith", {"jane"}) == "janes"
    assert username_for("Jane Smith", {"jane", "janes"}) == "jane.smith"
    assert username_for("Jane Smith", {"jane", "janes", "jane.smith"}) == "jane.smith2"
    assert username_for("Zoë Åberg", set()) == "zoe"


def test_names_and_people_in_answers() -> None:
    assert looks_like_name("Lena Fischer")
    assert not looks_like_name("a new joiner")
    assert not looks_like_name("Lena")
    nina = person(INITECH, "nina")
    assert match_person("nina", INITECH) == nina
    assert match_person(nina.name, INITECH) == nina
    assert match_person("somebody else", INITECH) is None
