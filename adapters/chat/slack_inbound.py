"""Slack payloads in: pure functions from an Events API envelope, a `block_actions` or
`view_submission` interaction, or a slash command to one `Incoming` record.

`Incoming` is still Slack's view of the event (user and channel ids, message timestamps);
`adapters.chat.slack` resolves the user's e-mail and the case a thread belongs to and turns
it into the desk's `Turn`. What is dropped here never reaches the desk: other bots, edits and
deletions, channel joins, and anything that is not a DM or a reply in a thread.

A click is attributed to `user.id` of the interaction payload, which Slack signs; the button
value is only ever the desk's opaque ref."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from adapters.chat.slack_blocks import (
    CHOICE_BLOCK,
    CHOICE_ELEMENT,
    CHOICE_VIEW,
    OPEN_CHOICE,
    parse_action_id,
)

COMMAND = "/itdesk"
MAX_TEXT = 4000  # what the desk reads of one message (the web chat's limit too)
# message subtypes that are a person writing; every other subtype (edits, deletions, joins,
# bot messages, channel topics...) is not a turn
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")

Kind = Literal["message", "click", "command", "open_choice", "choice"]


@dataclass(frozen=True)
class Incoming:
    """One inbound Slack event, normalised but not yet resolved to a person or a case."""

    kind: Kind
    event_id: str
    user_id: str
    channel: str
    text: str = ""
    action: str | None = None
    ref: str | None = None
    ts: str | None = None  # the message written or clicked
    thread_ts: str | None = None  # the thread it is in, if any
    direct: bool = False  # in the person's DM with the desk
    trigger_id: str | None = None  # for opening a modal
    metadata: dict[str, str] | None = None  # a submitted modal's private metadata

    def payload(self) -> dict[str, Any]:
        """The fields as the inbox keeps them (`Incoming(**payload)` reads them back): a
        shallow copy, made while Slack waits for its answer (`dataclasses.asdict` deep-copies
        every field, several times the cost)."""
        return dict(self.__dict__)


def plain_text(text: str) -> str:
    """Slack's message markup as the words a person typed: entities decoded, links as their
    label (or target), mentions as plain words ("@channel", "#general") that mention nobody
    when the desk repeats them."""

    def label(match: re.Match[str]) -> str:
        target, shown = match.group(1), match.group(2)
        if target.startswith("!"):  # <!channel>, <!here>, <!subteam^S1|@team>
            return shown if shown else "@" + target[1:].split("^", 1)[0]
        if target.startswith(("@", "#")):
            return (target[0] + shown.lstrip("@#")) if shown else target
        return shown or target.removeprefix("mailto:")

    text = _LINK.sub(label, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")[:MAX_TEXT]


def from_event(body: dict[str, Any]) -> Incoming | None:
    """A message a person wrote (Events API `event_callback`), or None for anything else."""
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return None
    if (
        event.get("subtype") not in PERSON_SUBTYPES
        or event.get("bot_id")
        or event.get("bot_profile")
    ):
        return None
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    event_id = body.get("event_id")
    if not all(isinstance(v, str) and v for v in (user, channel, ts, event_id)):
        return None
    thread_ts = event.get("thread_ts")
    return Incoming(
        kind="message",
        event_id=str(event_id),
        user_id=str(user),
        channel=str(channel),
        text=plain_text(str(event.get("text") or "")),
        ts=str(ts),
        thread_ts=str(thread_ts) if thread_ts and thread_ts != ts else None,
        direct=event.get("channel_type") == "im",
    )


def from_action(body: dict[str, Any]) -> Incoming | None:
    """A button pressed on one of the desk's messages (`block_actions`)."""
    actions = body.get("actions")
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not actions or not isinstance(user, str) or not isinstance(channel, str):
        return None
    pressed = actions[0]
    action_id, value = str(pressed.get("action_id", "")), pressed.get("value")
    if not isinstance(value, str):
        return None
    if action_id == OPEN_CHOICE:
        kind: Kind = "open_choice"
        action = None
    else:
        kind, action = "click", parse_action_id(action_id)
        if action is None:
            return None
    message = body.get("message") or {}
    container = body.get("container") or {}
    ts = message.get("ts") or container.get("message_ts")
    thread_ts = message.get("thread_ts") or container.get("thread_ts")
    trigger = body.get("trigger_id")
    return Incoming(
        kind=kind,
        event_id=f"action:{user}:{pressed.get('action_ts') or trigger}",
        user_id=user,
        channel=channel,
        action=action,
        ref=value,
        ts=str(ts) if ts else None,
        thread_ts=str(thread_ts) if thread_ts else None,
        direct=channel.startswith("D"),
        trigger_id=str(trigger) if trigger else None,
    )


def from_view(body: dict[str, Any]) -> Incoming | None:
    """The choice modal submitted (`view_submission`): the option's ref, and where the choice
    was offered (kept in the view's private metadata when it was opened)."""
    view = body.get("view") or {}
    user = (body.get("user") or {}).get("id")
    if view.get("callback_id") != CHOICE_VIEW or not isinstance(user, str):
        return None
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    if not isinstance(metadata, dict):
        return None
    values = ((view.get("state") or {}).get("values") or {}).get(CHOICE_BLOCK) or {}
    selected = (values.get(CHOICE_ELEMENT) or {}).get("selected_option") or {}
    ref, channel = selected.get("value"), metadata.get("channel")
    if not isinstance(ref, str) or not isinstance(channel, str):
        return None
    return Incoming(
        kind="choice",
        event_id=f"view:{user}:{view.get('id')}:{view.get('hash')}",
        user_id=user,
        channel=channel,
        ref=ref,
        ts=metadata.get("ts"),
        thread_ts=metadata.get("thread_ts"),
        direct=channel.startswith("D"),
        metadata={str(k): str(v) for k, v in metadata.items()},
    )


def from_command(body: dict[str, Any]) -> Incoming | None:
    """`/itdesk ...` typed anywhere in Slack."""
    user, channel = body.get("user_id"), body.get("channel_id")
    if body.get("command") != COMMAND or not isinstance(user, str) or not isinstance(channel, str):
        return None
    trigger = body.get("trigger_id")
    return Incoming(
        kind="command",
        event_id=f"command:{user}:{trigger}",
        user_id=user,
        channel=channel,
        text=plain_text(str(body.get("text") or "")).strip(),
        direct=channel.startswith("D"),
        trigger_id=str(trigger) if trigger else None,
    )
