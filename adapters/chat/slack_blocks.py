"""The desk's messages as Slack Block Kit: pure functions from `Reply`/`Card` to the JSON that
`chat.postMessage`, `chat.update` and `views.open` take.

Slack refuses a whole message when one limit is broken, so every limit is applied here and
content that does not fit is cut gracefully (an ellipsis, a note of what was left out) rather
than lost with the message: header text 150 characters, section text 3,000, 10 fields of
2,000 each, 25 elements in an actions block, button labels 75, confirm dialogs 100/300/30, and
50 blocks in a message. Buttons are never dropped to make room: the text around them is.

Everything a person might have typed is escaped (`&`, `<`, `>`), so a requester's message
relayed into the on-call channel cannot mention `@channel` or forge a link."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.models import Button, Card, Reply
from bot.texts import say

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT = 2000
MAX_ACTIONS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30
MAX_FALLBACK = 3000  # the notification text; Slack allows more, nobody reads more
MAX_MODAL_TITLE = 24
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
ELLIPSIS = "…"

ACTION_PREFIX = "itdesk"  # action_id = "itdesk|<desk action>|<index>"
OPEN_CHOICE = "itdesk.choose"  # the button that opens the choice modal
CHOICE_VIEW = "itdesk.choice"  # the modal's callback_id
CHOICE_BLOCK = "choice"
CHOICE_ELEMENT = "option"


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def escape(text: str) -> str:
    """Text safe inside Slack mrkdwn: no mentions, links or entities of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object (Slack shows it as it is: no escaping needed), cut to `limit`."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}


def mrkdwn(text: str, limit: int) -> dict[str, Any]:
    """A mrkdwn text object; `text` is escaped first and cut after, so that an entity is
    never split by the cut."""
    return {"type": "mrkdwn", "text": _clip_escaped(text, limit)}


def _clip_escaped(text: str, limit: int) -> str:
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """`text` in pieces whose escaped form fits `limit`, broken at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while rest:
        if len(escape(rest)) <= limit:
            pieces.append(rest)
            break
        cut = _fit(rest, limit)
        newline = rest.rfind("\n", 0, cut)
        if newline > cut // 2:
            cut = newline + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return [p for p in pieces if p.strip()]


def _fit(text: str, limit: int) -> int:
    """The longest prefix of `text` whose escaped form fits `limit`."""
    size = 0
    for index, char in enumerate(text):
        size += len(escape(char))
        if size > limit:
            return max(index, 1)
    return len(text)


def text_sections(text: str) -> list[Block]:
    """`text` as as many mrkdwn sections as it takes."""
    return [{"type": "section", "text": mrkdwn(p, MAX_SECTION)} for p in split_text(text)]


def action_id(action: str, index: int) -> str:
    """The action_id of a card's `index`-th button: the desk action, unique in the block."""
    return f"{ACTION_PREFIX}|{action}|{index}"[:255]


def parse_action_id(value: str) -> str | None:
    """The desk action named by one of our action ids, or None for anything else."""
    prefix, _, rest = value.partition("|")
    action, _, _index = rest.rpartition("|")
    return action if prefix == ACTION_PREFIX and action else None


def button_element(button: Button, index: int) -> Block | None:
    """A Block Kit button; its value is the desk's opaque ref and nothing else. None when the
    ref cannot be carried (it would be refused by Slack and mean nothing when cut)."""
    if not button.ref or len(button.ref) > MAX_BUTTON_VALUE:
        return None
    element: Block = {
        "type": "button",
        "text": plain(button.label, MAX_BUTTON_TEXT),
        "action_id": action_id(button.action, index),
        "value": button.ref,
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    if button.confirm:
        element["confirm"] = confirm_dialog(button)
    return element


def confirm_dialog(button: Button) -> Block:
    """Slack's own "are you sure?" dialog, shown before the click is sent."""
    return {
        "title": plain(button.label, MAX_CONFIRM_TITLE),
        "text": plain(button.confirm or "", MAX_CONFIRM_TEXT),
        "confirm": plain(button.label, MAX_CONFIRM_BUTTON),
        "deny": plain("Cancel", MAX_CONFIRM_BUTTON),
        "style": "danger" if button.style == "danger" else "primary",
    }


def actions_blocks(elements: Sequence[Block]) -> list[Block]:
    """Buttons in actions blocks of at most 25 elements each."""
    return [
        {"type": "actions", "elements": list(elements[i : i + MAX_ACTIONS])}
        for i in range(0, len(elements), MAX_ACTIONS)
    ]


def uses_modal(card: Card, inline_max: int) -> bool:
    """A choice with more options than fit comfortably in a row of buttons is offered as a
    modal with a menu. Only when every option is the same desk action (the modal sends one)."""
    return (
        card.kind == "choice"
        and len(card.buttons) > inline_max
        and len({b.action for b in card.buttons}) == 1
    )


def card_blocks(card: Card, message_id: str, *, inline_max: int = 5) -> list[Block]:
    """A card as blocks: header, text, fields, context and buttons, within Slack's limits."""
    head: list[Block] = [{"type": "header", "text": plain(card.title, MAX_HEADER)}]
    body = text_sections(card.text) if card.text else []
    for i in range(0, len(card.fields), MAX_FIELDS):
        chunk = card.fields[i : i + MAX_FIELDS]
        body.append({"type": "section", "fields": [_field(f.label, f.value) for f in chunk]})
    tail: list[Block] = []
    if card.context:
        tail.append(_context(card.context))
    if uses_modal(card, inline_max):
        opener = Button(label="Choose…", action=card.buttons[0].action, ref=message_id)
        element = button_element(opener, 0)
        if element is not None:
            element["action_id"] = OPEN_CHOICE
            element["style"] = "primary"
            tail += actions_blocks([element])
    else:
        elements = [e for i, b in enumerate(card.buttons) if (e := button_element(b, i))]
        tail += actions_blocks(elements)
    return fit_blocks(head, body, tail)


def _field(label: str, value: str) -> Block:
    """A field as mrkdwn: the label in bold over the value, both escaped."""
    label = _clip_escaped(label, MAX_FIELD // 4)
    return {
        "type": "mrkdwn",
        "text": f"*{label}*\n{_clip_escaped(value, MAX_FIELD - len(label) - 3)}",
    }


def fit_blocks(head: list[Block], body: list[Block], tail: list[Block]) -> list[Block]:
    """head + body + tail in at most `MAX_BLOCKS`, cutting the body (never the buttons) and
    saying how much was left out."""
    room = MAX_BLOCKS - len(head) - len(tail)
    if len(body) > room:
        keep = max(room - 1, 0)
        left_out = len(body) - keep
        note = say("slack.left_out", count=left_out)
        body = body[:keep] + ([_context(note)] if room >= 1 else [])
    return (head + body + tail)[:MAX_BLOCKS]


def _context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text, MAX_CONTEXT)]}


@dataclass(frozen=True)
class Rendered:
    """A message ready for `chat.postMessage`: the notification text and the blocks (none for
    a short plain message)."""

    text: str
    blocks: list[Block]


def render(reply: Reply, *, inline_max: int = 5) -> Rendered:
    """A desk reply as a Slack message."""
    card = reply.card
    fallback = reply.text or (card.title if card else "") or " "
    if card is None:
        if len(escape(fallback)) <= MAX_FALLBACK:
            return Rendered(text=_clip_escaped(fallback, MAX_FALLBACK), blocks=[])
        return Rendered(
            text=_clip_escaped(fallback, MAX_FALLBACK),
            blocks=fit_blocks([], text_sections(fallback), []),
        )
    blocks = card_blocks(card, reply.id, inline_max=inline_max)
    if reply.text and reply.text.strip() != card.title.strip():
        intro = text_sections(reply.text)
        blocks = fit_blocks([], intro, blocks)
    return Rendered(text=_clip_escaped(fallback, MAX_FALLBACK), blocks=blocks)


def text_only(reply: Reply) -> Rendered:
    """The same reply with no blocks, for when Slack refuses the blocks: the words of the card
    still reach the person (buttons cannot, and say so)."""
    lines = [reply.text] if reply.text else []
    card = reply.card
    if card is not None:
        lines += [card.title, card.text, *(f"{f.label}: {f.value}" for f in card.fields)]
        if card.context:
            lines.append(card.context)
        if card.buttons:
            lines.append(say("slack.no_buttons"))
    return Rendered(text=_clip_escaped("\n".join(x for x in lines if x), MAX_FALLBACK), blocks=[])


def choice_view(
    title: str, options: Sequence[tuple[str, str]], metadata: dict[str, str]
) -> dict[str, Any]:
    """The modal of a choice: a menu of (label, ref) options. `metadata` travels with the
    view and comes back on submission (where the choice was offered)."""
    return {
        "type": "modal",
        "callback_id": CHOICE_VIEW,
        "title": plain("Choose", MAX_MODAL_TITLE),
        "submit": plain("Choose", MAX_MODAL_TITLE),
        "close": plain("Cancel", MAX_MODAL_TITLE),
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "blocks": [
            {
                "type": "input",
                "block_id": CHOICE_BLOCK,
                "label": plain(title, 2000),
                "element": {
                    "type": "static_select",
                    "action_id": CHOICE_ELEMENT,
                    "options": [
                        {"text": plain(label, MAX_OPTION_TEXT), "value": ref}
                        for label, ref in options[:MAX_OPTIONS]
                        if len(ref) <= MAX_OPTION_VALUE
                    ],
                },
            }
        ],
    }
