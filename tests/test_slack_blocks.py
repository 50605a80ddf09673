"""Block Kit rendering and payload parsing: pure functions, checked against Slack's limits
with the same validator the fake Slack uses to refuse a message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.slack_api import invalid_blocks

from adapters.chat.slack_blocks import (
    MAX_BLOCKS,
    OPEN_CHOICE,
    card_blocks,
    choice_view,
    escape,
    parse_action_id,
    render,
    split_text,
)
from adapters.chat.slack_inbound import (
    from_action,
    from_command,
    from_event,
    from_view,
    plain_text,
)
from bot.models import Button, Card, CardField, Reply


def button(i: int, **extra: Any) -> Button:
    return Button(label=f"Option {i}", action="choose", ref=f"ref-{i}", **extra)


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def test_a_card_is_header_text_fields_context_and_buttons() -> None:
    card = Card(
        kind="approval",
        title="Approval needed: Alice Moreau",
        text="Alice asks for *Finance Reports*.",
        fields=(CardField(label="Group", value="Finance Reports (read)"),),
        buttons=(
            Button(label="Approve", action="approve", ref="r-ok", style="primary"),
            Button(
                label="Deny",
                action="deny",
                ref="r-no",
                style="danger",
                confirm="Deny this request?",
            ),
        ),
        context="Expires Tue 03 Mar 09:00 UTC",
    )
    blocks = card_blocks(card, "M-1")
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": card.title, "emoji": True}
    assert blocks[2]["fields"] == [{"type": "mrkdwn", "text": "*Group*\nFinance Reports (read)"}]
    approve, deny = blocks[4]["elements"]
    assert (approve["value"], approve["style"], "confirm" in approve) == ("r-ok", "primary", False)
    assert parse_action_id(approve["action_id"]) == "approve"
    assert deny["confirm"] == {
        "title": {"type": "plain_text", "text": "Deny", "emoji": True},
        "text": {"type": "plain_text", "text": "Deny this request?", "emoji": True},
        "confirm": {"type": "plain_text", "text": "Deny", "emoji": True},
        "deny": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "style": "danger",
    }
    assert invalid_blocks(blocks) is None


def test_what_people_typed_cannot_mention_or_link() -> None:
    card = Card(title="t", text="ping <!channel> & <@U0ADMIN> <https://evil.example|bank>")
    (text,) = section_texts(card_blocks(card, "M-1"))
    assert text == "ping &lt;!channel&gt; &amp; &lt;@U0ADMIN&gt; &lt;https://evil.example|bank&gt;"
    assert render(Reply(id="M-2", text="a <b> & c")).text == "a &lt;b&gt; &amp; c"


def test_long_texts_are_split_and_cut_within_slacks_limits() -> None:
    title = "T" * 400
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(200))  # about 20,000 characters
    fields = tuple(CardField(label=f"F{i}", value="v" * 2500) for i in range(23))
    card = Card(title=title, text=text, fields=fields, context="c" * 5000)
    blocks = card_blocks(card, "M-1")

    assert invalid_blocks(blocks) is None
    header = blocks[0]["text"]["text"]
    assert len(header) == 150
    assert header.endswith("…")
    assert "".join(section_texts(blocks)) == text  # split at line ends, nothing lost
    field_sections = [b for b in blocks if "fields" in b]
    assert [len(b["fields"]) for b in field_sections] == [10, 10, 3]
    assert all(f["text"].endswith("…") for b in field_sections for f in b["fields"])


def test_escaping_never_breaks_an_entity_when_cutting() -> None:
    for piece in split_text("&" * 5000):
        assert len(escape(piece)) <= 3000
    assert "".join(split_text("&" * 5000)) == "&" * 5000
    # the context holds 2,000 characters: "&amp;" would be cut to "&", so it goes whole
    card = Card(title="t", context="a" * 1998 + "&&&")
    (context,) = [b for b in card_blocks(card, "M-1") if b["type"] == "context"]
    assert context["elements"][0]["text"] == "a" * 1998 + "…"


def test_a_huge_card_keeps_its_buttons_and_says_what_was_left_out() -> None:
    card = Card(
        title="Everything",
        text=("paragraph " * 300 + "\n") * 80,  # far beyond 50 sections
        buttons=tuple(button(i) for i in range(60)),
    )
    blocks = card_blocks(card, "M-1", inline_max=100)
    assert len(blocks) == MAX_BLOCKS
    assert invalid_blocks(blocks) is None
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(b["elements"]) for b in actions] == [25, 25, 10]
    values = [e["value"] for b in actions for e in b["elements"]]
    assert values == [f"ref-{i}" for i in range(60)]
    notes = [b for b in blocks if b["type"] == "context"]
    assert "left out" in notes[-1]["elements"][0]["text"]


def test_a_long_plain_message_becomes_sections() -> None:
    short = render(Reply(id="M-1", text="Your account is unlocked."))
    assert (short.text, short.blocks) == ("Your account is unlocked.", [])
    long = render(Reply(id="M-2", text="word " * 3000))
    assert len(long.text) <= 3000
    assert invalid_blocks(long.blocks) is None
    assert "".join(section_texts(long.blocks)).split() == ["word"] * 3000


def test_button_labels_and_confirm_texts_are_cut_but_refs_never_are() -> None:
    long = Button(label="L" * 100, action="undo", ref="r-1", confirm="?" * 500)
    too_long_ref = Button(label="x", action="undo", ref="r" * 2001)
    (actions,) = [
        b
        for b in card_blocks(Card(title="t", buttons=(long, too_long_ref)), "M")
        if b["type"] == "actions"
    ]
    (element,) = actions["elements"]  # a ref that cannot be carried whole is not carried
    assert len(element["text"]["text"]) == 75
    assert len(element["confirm"]["text"]["text"]) == 300
    assert len(element["confirm"]["confirm"]["text"]) <= 30
    assert invalid_blocks([actions]) is None


def test_a_choice_with_many_options_opens_a_modal_menu() -> None:
    card = Card(kind="choice", title="Which device?", buttons=tuple(button(i) for i in range(7)))
    (opener,) = [
        e for b in card_blocks(card, "M-9") if b["type"] == "actions" for e in b["elements"]
    ]
    assert (opener["action_id"], opener["value"]) == (OPEN_CHOICE, "M-9")
    few = Card(kind="choice", title="Which?", buttons=tuple(button(i) for i in range(3)))
    assert len(next(b for b in card_blocks(few, "M") if b["type"] == "actions")["elements"]) == 3

    view = choice_view(
        "Which device?",
        [(f"D{i}", f"ref-{i}") for i in range(150)],
        {"channel": "D1", "message": "M-9"},
    )
    options = view["blocks"][0]["element"]["options"]
    assert len(options) == 100
    assert options[0] == {
        "text": {"type": "plain_text", "text": "D0", "emoji": True},
        "value": "ref-0",
    }
    assert json.loads(view["private_metadata"]) == {"channel": "D1", "message": "M-9"}
    assert len(view["title"]["text"]) <= 24
    assert invalid_blocks(view["blocks"], limit=100) is None


# --- payloads in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "words"),
    [
        ("I&amp;#39;m locked out &lt;3", "I&#39;m locked out <3"),
        ("see <https://intranet.example/vpn|the VPN page>", "see the VPN page"),
        ("mail <mailto:bob@globex.test|bob@globex.test>", "mail bob@globex.test"),
        ("hey <@U0BOB> and <!here> in <#C1|it-help>", "hey @U0BOB and @here in #it-help"),
        ("<https://x.example>", "https://x.example"),
    ],
)
def test_slack_markup_becomes_the_words_typed(markup: str, words: str) -> None:
    assert plain_text(markup) == words


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event_callback", "event_id": "Ev1", "event": event}


def test_only_people_writing_are_messages() -> None:
    base = {
        "type": "message",
        "user": "U1",
        "channel": "D1",
        "channel_type": "im",
        "text": "hi",
        "ts": "1.1",
    }
    incoming = from_event(envelope(base))
    assert incoming is not None
    assert (incoming.kind, incoming.user_id, incoming.direct, incoming.thread_ts) == (
        "message",
        "U1",
        True,
        None,
    )
    threaded = from_event(envelope({**base, "channel_type": "channel", "thread_ts": "0.9"}))
    assert threaded is not None
    assert (threaded.direct, threaded.thread_ts) == (False, "0.9")
    for noise in (
        {**base, "bot_id": "B1"},
        {**base, "subtype": "message_changed"},
        {**base, "subtype": "channel_join"},
        {**base, "type": "reaction_added"},
        {k: v for k, v in base.items() if k != "user"},
    ):
        assert from_event(envelope(noise)) is None


def test_a_click_is_the_payloads_user_and_the_buttons_ref() -> None:
    body = {
        "type": "block_actions",
        "user": {"id": "U0BOB"},
        "channel": {"id": "C0ONCALL"},
        "message": {"ts": "5.5", "thread_ts": "4.4"},
        "trigger_id": "t1",
        "actions": [{"action_id": "itdesk|approve|0", "value": "ref-xyz", "action_ts": "6.6"}],
    }
    click = from_action(body)
    assert click is not None
    assert (click.kind, click.user_id, click.action, click.ref) == (
        "click",
        "U0BOB",
        "approve",
        "ref-xyz",
    )
    assert (click.ts, click.thread_ts, click.direct) == ("5.5", "4.4", False)
    foreign = {**body, "actions": [{"action_id": "someone_else", "value": "v"}]}
    assert from_action(foreign) is None


def test_commands_and_modal_submissions() -> None:
    command = from_command(
        {
            "command": "/itdesk",
            "text": " mode access  shadow ",
            "user_id": "U1",
            "channel_id": "C9",
            "trigger_id": "t",
        }
    )
    assert command is not None
    assert (command.kind, command.text, command.channel) == ("command", "mode access  shadow", "C9")
    assert from_command({"command": "/other", "user_id": "U1", "channel_id": "C9"}) is None

    submitted: dict[str, Any] = {
        "id": "V1",
        "hash": "h",
        "callback_id": "itdesk.choice",
        "private_metadata": json.dumps({"channel": "D0BOB", "message": "M-1", "ts": "1.1"}),
        "state": {"values": {"choice": {"option": {"selected_option": {"value": "ref-2"}}}}},
    }
    view = {"type": "view_submission", "user": {"id": "U0BOB"}, "view": submitted}
    chosen = from_view(view)
    assert chosen is not None
    assert (chosen.kind, chosen.user_id, chosen.ref, chosen.channel) == (
        "choice",
        "U0BOB",
        "ref-2",
        "D0BOB",
    )
    assert from_view({**view, "view": {**submitted, "private_metadata": "not json"}}) is None
