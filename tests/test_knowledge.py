"""Runbook retrieval: the right runbook for a problem, none for an unrelated question, and
the org's own runbook ahead of a general one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge import DEFAULT_DIR, KnowledgeBase, Runbook, read_runbooks
from bot.org import load_org

SHARED = Path(__file__).resolve().parents[2] / "shared"
GLOBEX = SHARED / "scenarios" / "orgs" / "globex.yaml"


@pytest.fixture(scope="module")
def general() -> KnowledgeBase:
    return KnowledgeBase.load()


@pytest.fixture(scope="module")
def globex() -> KnowledgeBase:
    return KnowledgeBase.load(load_org(GLOBEX).knowledge)


def test_the_shipped_runbooks_have_titles_and_steps() -> None:
    runbooks = read_runbooks(DEFAULT_DIR)
    assert len(runbooks) >= 6
    for runbook in runbooks:
        assert runbook.title
        assert not runbook.title.startswith("#")
        assert "1." in runbook.body, runbook.source


def test_vpn_question_finds_the_vpn_runbook(general: KnowledgeBase, globex: KnowledgeBase) -> None:
    (hit,) = general.search("vpn keeps dropping")
    assert "VPN" in hit.title
    title, body, score, url = hit  # a hit is a (title, body, score, url) tuple
    assert url is None  # a shipped runbook has no page to cite
    assert title == hit.title
    assert body
    assert score > 0
    (hit,) = globex.search("vpn keeps dropping")
    assert hit.title == "VPN will not connect or keeps dropping"  # the org's own


@pytest.mark.parametrize(
    "question",
    [
        "what's for lunch",
        "what's for lunch in the canteen today?",
        "when is payday",
        "can I bring my dog to work",
        "hello",
        "add me to finance reports",
        "how do I book a meeting room",
        "",
    ],
)
def test_unrelated_questions_get_no_runbook(
    general: KnowledgeBase, globex: KnowledgeBase, question: str
) -> None:
    assert general.search(question) == []
    assert globex.search(question) == []


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("my vpn won't connect from home", "vpn.md"),
        ("no internet on the office wifi", "wifi.md"),
        ("outlook is not syncing my mail", "email-outlook.md"),
        ("my print job is stuck in the queue", "printing.md"),
        ("how do I move the authenticator to my new phone", "mfa-new-phone.md"),
        ("my laptop is really slow", "slow-laptop.md"),
        ("people can't hear me in teams calls", "teams-zoom-audio.md"),
        ("my password expired", "password-expiry.md"),
    ],
)
def test_each_shipped_runbook_is_found(general: KnowledgeBase, question: str, source: str) -> None:
    (hit,) = general.search(question)
    expected = next(r for r in general.runbooks if r.source == source)
    assert hit.title == expected.title


def test_the_intent_narrows_the_topic(globex: KnowledgeBase) -> None:
    assert all("Wi-Fi" in h.title for h in globex.search("the internet is crawling today"))
    (hit,) = globex.search("the internet is crawling today", intent="wifi_issue")
    assert hit.title == "Wi-Fi connection problems in the office"
    (hit,) = globex.search("remote access fails at the hotel", intent="vpn_issue")
    assert "VPN" in hit.title


def test_several_hits_best_first(globex: KnowledgeBase) -> None:
    hits = globex.search("outlook won't open", k=3)
    assert 1 <= len(hits) <= 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score >= globex.min_score for h in hits)


def test_an_empty_knowledge_base_finds_nothing(tmp_path: Path) -> None:
    assert KnowledgeBase([]).search("vpn keeps dropping") == []
    assert KnowledgeBase.load({}, tmp_path).search("vpn keeps dropping") == []


def test_org_only_knowledge_base() -> None:
    kb = KnowledgeBase([Runbook("Badge printer jams", "1. Open the tray.", "org")])
    assert kb.search("the badge printer jammed")[0].title == "Badge printer jams"
    assert kb.search("vpn keeps dropping") == []


def test_an_app_question_only_gets_a_runbook_that_names_the_app() -> None:
    kb = KnowledgeBase.load(
        {"Dragon dictation does not hear the microphone": "1. Replug the microphone.\n"}
    )
    # the shipped Outlook page shares words ("opening", "crashes") but is about another app
    assert kb.search("RStudio crashes when opening my project", intent="software_issue") == []
    (hit,) = kb.search("dragon stopped hearing my microphone", intent="software_issue")
    assert hit.title.startswith("Dragon")
    # other topics are not narrowed: an Outlook question still finds the mail runbook
    assert kb.search("outlook crashes when opening", intent="email_issue")
