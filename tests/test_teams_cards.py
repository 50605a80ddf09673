"""What Teams shows and sends back: Adaptive Cards rendered from the desk's cards, the data
their buttons submit, `/itdesk` commands and @mentions in typed text. Pure functions, no
network."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.chat.teams_cards import (
    Click,
    adaptive_card,
    click_of,
    command_of,
    message_text,
    plain_text,
    summary,
)
from bot.models import Button, Card, CardField, Reply


def test_a_bare_card_is_a_heading_without_actions() -> None:
    content = adaptive_card(Card(title="Done"))
    assert content["type"] == "AdaptiveCard"
    assert content["version"] == "1.5"
    assert content["body"] == [
        {
            "type": "TextBlock",
            "text": "Done",
            "style": "heading",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
    ]
    assert "actions" not in content


def test_a_full_card_has_text_facts_context_and_styled_buttons() -> None:
    card = Card(
        title="Approval needed: Bob Okafor",
        text="Bob asks for Finance Archive.",
        fields=(CardField(label="Risk", value="Medium"), CardField(label="For", value="30 days")),
        context="Expires Thu 05 Mar 09:00 UTC.",
        buttons=(
            Button(label="Approve", action="approve", ref="r-1", style="primary"),
            Button(label="Details", action="details", ref="r-2"),
            Button(
                label="Deny", action="deny", ref="r-3", style="danger", confirm="Deny this request?"
            ),
        ),
    )
    content = adaptive_card(card)
    kinds = [block["type"] for block in content["body"]]
    assert kinds == ["TextBlock", "TextBlock", "FactSet", "TextBlock"]
    assert content["body"][2]["facts"] == [
        {"title": "Risk", "value": "Medium"},
        {"title": "For", "value": "30 days"},
    ]
    assert content["body"][3]["isSubtle"] is True
    approve, details, deny = content["actions"]
    assert approve == {
        "type": "Action.Submit",
        "title": "Approve",
        "style": "positive",
        "data": {"itdesk": {"action": "approve", "ref": "r-1"}},
    }
    assert "style" not in details
    assert deny["type"] == "Action.ShowCard"
    assert deny["card"]["body"][0]["text"] == "Deny this request?"
    (confirm,) = deny["card"]["actions"]
    assert confirm["style"] == "destructive"
    assert confirm["data"] == {"itdesk": {"action": "deny", "ref": "r-3"}}


def test_the_text_above_a_card_is_not_its_title_again() -> None:
    card = Card(title="Desk statistics")
    assert message_text(Reply(id="M-1", text="Desk statistics", card=card)) is None
    assert message_text(Reply(id="M-1", text="Here you go", card=card)) == "Here you go"
    assert message_text(Reply(id="M-1", text="  ")) is None
    assert summary(Reply(id="M-1", card=card)) == "Desk statistics"
    assert len(summary(Reply(id="M-1", text="x" * 500))) == 120


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"itdesk": {"action": "approve", "ref": "r-1"}}, Click(action="approve", ref="r-1")),
        (
            {"itdesk": {"action": "claim", "ref": "r-2"}, "note": "typed"},
            Click(action="claim", ref="r-2"),
        ),
        ({"itdesk": {"action": "approve"}}, None),
        ({"itdesk": {"action": "approve", "ref": "r-1", "as": "carol"}}, None),
        ({"itdesk": {"action": "approve", "ref": "r" * 101}}, None),
        ({"itdesk": {"action": "", "ref": "r-1"}}, None),
        ({"itdesk": "approve"}, None),
        ({"action": "approve", "ref": "r-1"}, None),
        ("approve", None),
        (None, None),
    ],
)
def test_only_the_desks_own_click_data_is_a_click(value: Any, expected: Click | None) -> None:
    assert click_of(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/itdesk stats", "stats"),
        ("  /itdesk   mode access shadow ", "mode access shadow"),
        ("/ITDESK help", "help"),
        ("/itdesk", ""),
        ("/itdesks", None),
        ("please /itdesk pause", None),
        ("itdesk pause", None),
        ("I'm locked out", None),
    ],
)
def test_admin_commands_start_with_itdesk(text: str, expected: str | None) -> None:
    assert command_of(text) == expected


def test_the_bots_mention_is_removed_and_others_kept_as_names() -> None:
    text = "<at>IT Desk</at>\u00a0ask <at>Carol Nguyen</at> about it"
    assert plain_text(text, ["<at>IT Desk</at>"]) == "ask Carol Nguyen about it"
    assert plain_text("<at>IT Desk</at> /itdesk stats", ["<at>IT Desk</at>"]) == "/itdesk stats"
    assert plain_text("line one\nline two", []) == "line one\nline two"
