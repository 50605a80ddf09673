"""The desk's messages as Teams shows them: Adaptive Cards 1.5, the data their buttons send
back, and the `/itdesk` admin commands typed as messages.

Pure functions over the desk's models and plain JSON, no botbuilder: a button becomes an
`Action.Submit` whose data carries only the desk's opaque button ref and its action (the desk
resolves and checks both server-side, and attributes the click to the activity's sender); a
button with a confirmation question becomes an `Action.ShowCard` that asks before submitting."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from bot.models import Button, Card, Reply

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
SUBMIT_KEY = "itdesk"  # the key of the desk's data in a submitted card's `value`
COMMAND = "/itdesk"

_STYLES = {"primary": "positive", "danger": "destructive"}
_SPACES = re.compile(r"[ \t\u00a0]+")
_AT = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_COMMAND = re.compile(rf"^\s*{re.escape(COMMAND)}(?:\s+(?P<rest>.*))?$", re.DOTALL | re.IGNORECASE)

Token = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Click(BaseModel):
    """What a submitted card button sends back: the button's action and opaque ref."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Token
    ref: Token


# --- outbound --------------------------------------------------------------------------


def adaptive_card(card: Card) -> dict[str, Any]:
    """`card` as an Adaptive Card 1.5: title, text, its fields as a FactSet, a subtle context
    line, and its buttons as actions."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": card.title,
            "style": "heading",
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
    ]
    if card.text:
        body.append({"type": "TextBlock", "text": card.text, "wrap": True})
    if card.fields:
        facts = [{"title": f.label, "value": f.value} for f in card.fields]
        body.append({"type": "FactSet", "facts": facts})
    if card.context:
        body.append(
            {
                "type": "TextBlock",
                "text": card.context,
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            }
        )
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if card.buttons:
        content["actions"] = [_action(button) for button in card.buttons]
    return content


def submit_data(button: Button) -> dict[str, Any]:
    """The data an `Action.Submit` for `button` posts back: nothing but its action and ref."""
    return {SUBMIT_KEY: {"action": button.action, "ref": button.ref}}


def _submit(title: str, button: Button) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": submit_data(button)}
    if button.style in _STYLES:
        action["style"] = _STYLES[button.style]
    return action


def _action(button: Button) -> dict[str, Any]:
    if button.confirm is None:
        return _submit(button.label, button)
    # Adaptive Cards have no confirm dialog: the button opens the question with the real
    # submit button under it.
    return {
        "type": "Action.ShowCard",
        "title": button.label,
        "card": {
            "type": "AdaptiveCard",
            "version": VERSION,
            "body": [{"type": "TextBlock", "text": button.confirm, "wrap": True}],
            "actions": [_submit(f"Yes, {button.label.lower()}", button)],
        },
    }


def message_text(reply: Reply) -> str | None:
    """The text above the card, or the whole message without one. A card whose title is the
    text already says it, so the text is left out rather than shown twice."""
    text = reply.text.strip()
    if not text or (reply.card is not None and text == reply.card.title.strip()):
        return None
    return text


def summary(reply: Reply) -> str:
    """A short line for notifications and the chat list."""
    text = reply.text.strip() or (reply.card.title if reply.card else "")
    return text if len(text) <= 120 else text[:119] + "…"


# --- inbound ---------------------------------------------------------------------------


def click_of(value: object) -> Click | None:
    """The desk's click in a submitted card's `value`, or None when it carries none (or
    anything malformed: it is never trusted beyond its two strings)."""
    if not isinstance(value, dict) or not isinstance(value.get(SUBMIT_KEY), dict):
        return None
    try:
        return Click.model_validate(value[SUBMIT_KEY])
    except ValidationError:
        return None


def plain_text(text: str, bot_mentions: list[str]) -> str:
    """A message's text as the person meant it: the bot's own @mentions (`<at>IT Desk</at>`,
    needed in a channel to reach the bot) removed, other mentions kept as the name."""
    for mention in bot_mentions:
        text = text.replace(mention, " ")
    text = _AT.sub(lambda m: m.group(1), text)
    return _SPACES.sub(" ", text).strip()


def command_of(text: str) -> str | None:
    """The rest of an `/itdesk ...` admin command ("" for a bare `/itdesk`), or None when the
    message is not a command."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    return (match.group("rest") or "").strip()


__all__ = [
    "COMMAND",
    "CONTENT_TYPE",
    "Click",
    "adaptive_card",
    "click_of",
    "command_of",
    "message_text",
    "plain_text",
    "submit_data",
    "summary",
]
