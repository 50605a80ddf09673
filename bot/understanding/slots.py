"""Slot filling: the details a message carries, as ids from the org's catalogue.

Works on the `clean`ed text and the catalogue `Mention`s found in it. Which slots are filled
depends on the intent: a group name only matters when someone asks to join or leave one
("security" in "a security issue" is not the Security group), a duration only for access.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.intents import IntentSpec
from bot.models import Person
from bot.understanding.lexicon import KNOWN_APPS, STOPWORDS, SYSTEMS, word_set
from bot.understanding.mentions import Mention
from bot.understanding.subjects import third_party

__all__ = ["fill_slots"]

_NAMED_SCORE = 88.0  # exact, or a typo in a name; a partial match only gives candidates


def fill_slots(
    intent: IntentSpec, text: str, mentions: Sequence[Mention], requester: Person | None
) -> dict[str, str]:
    """The slots of one message (`text` as `clean` left it) for the given intent: the
    catalogue details it reads (`IntentSpec.reads`), and those every request may carry."""
    slots: dict[str, str] = {}
    if "group" in intent.reads:
        slots.update(_group(mentions))
    if "software" in intent.reads:
        slots.update(_software(text, mentions))
    if "duration" in intent.reads and (days := duration_days(text)) is not None:
        slots["duration"] = str(days)
    devices = [m.ids[0] for m in mentions if m.kind == "device"]
    if devices:
        slots["device"] = devices[0]
    elif (kind := device_kind(text)) is not None:
        slots["device_kind"] = kind
    if (target := third_party(intent, text, mentions, requester)) is not None:
        slots["target_user"] = target
    if (app := _app(text)) is not None and app != slots.get("software"):
        slots["app"] = app
    if credentials_exposed(text):
        slots["credentials_exposed"] = "yes"
    return slots


# --- groups and software ----------------------------------------------------------------


def _group(mentions: Sequence[Mention]) -> dict[str, str]:
    """The group named, or the candidates when the name fits several or only partly (a
    word of a group's name, "marketing"): then the desk asks rather than picks. A name
    written out in full ("EHR System Administrators", "the finance group") outweighs a
    single word that merely is a group's name too ("... to fix the radiology order sets")."""
    groups = [m for m in mentions if m.kind == "group"]
    if not groups:
        return {}
    groups = [m for m in groups if m.maskable] or groups
    best = max(m.score for m in groups)
    ids = list(dict.fromkeys(i for m in groups if m.score >= best - 2 for i in m.ids))
    if len(ids) == 1 and best >= _NAMED_SCORE:
        return {"group": ids[0]}
    return {"group_candidates": ",".join(ids)}


# "install X", "need X", "licence for X": X is one word, or several capitalised ones
_WANT = re.compile(
    r"\b(?i:install(?:ed|ing)?|instal+|get|need|want|download|licen[cs]es? (?:for|of)|"
    r"copy of|version of|set ?up|put|have|request(?:ing)?|trial of)\s+"
    r"(?i:(?:the|a|an|some|me|latest|new|newest|full|pro)\s+)*"
    r"([A-Za-z][\w.+#-]*(?:\s+[A-Z0-9][\w.+#-]*){0,2})"
)
_NOT_AN_APP = STOPWORDS | word_set(
    """app apps application software program tool tools licence license version access it
    this that something anything laptop computer pc mac machine device phone help rights
    admin permission permissions installed installing work"""
)


_KNOWN_APP_PATTERNS = {
    app: re.compile(r"(?<![\w-])" + re.escape(app).replace(r"\-", r"[\s-]?") + r"(?![\w-])")
    for app in sorted(KNOWN_APPS)
}


def _named(app: str, lowered: str) -> re.Match[str] | None:
    return _KNOWN_APP_PATTERNS[app].search(lowered)


def _software(text: str, mentions: Sequence[Mention]) -> dict[str, str]:
    named = [m for m in mentions if m.kind == "software"]
    if named:
        ids = named[0].ids
        # one name that fits two catalogue items ("acrobat" for Reader and Pro): ask
        return {"software": ids[0]} if len(ids) == 1 else {"software_candidates": ",".join(ids)}
    lowered = text.lower()
    found = [
        (match.start(), -len(app), app) for app in KNOWN_APPS if (match := _named(app, lowered))
    ]
    if found:
        return {"software_name": min(found)[2]}
    for match in _WANT.finditer(text):
        name = match.group(1).rstrip(".,!?")
        words = name.split()
        while words and words[-1].lower() in _NOT_AN_APP:
            words.pop()
        if words and words[0].lower() not in _NOT_AN_APP:
            return {"software_name": " ".join(words).lower()}
    return {}


# --- the kind of device a message is about -------------------------------------------------

_MOBILE = re.compile(
    r"\b(?:(?:work|mobile|smart)\s*phone|phone|iphone|android|smartphone|mobile|tablet|ipad)s?\b",
    re.IGNORECASE,
)
_COMPUTER = re.compile(
    r"\b(?:laptop|notebook|desktop|pc|computer|macbook|imac|mac|workstation|tower|thinkpad|"
    r"surface)s?\b",
    re.IGNORECASE,
)


def device_kind(text: str) -> str | None:
    """The kind of device the message speaks of, "mobile" or "computer", if only one."""
    mobile, computer = bool(_MOBILE.search(text)), bool(_COMPUTER.search(text))
    if mobile == computer:
        return None
    return "mobile" if mobile else "computer"


# --- durations, apps, exposure ------------------------------------------------------------

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2, "couple of": 2, "a few": 3, "few": 3,
}  # fmt: skip
_UNIT_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "fortnight": 14, "month": 30, "quarter": 90}
_DURATION = re.compile(
    r"\b(?:for\s+(?:the\s+)?(?:next\s+|another\s+|a\s+further\s+)?)?"
    r"(\d{1,3}|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|eleven|twelve)\s*[- ]?\s*(hour|day|week|fortnight|month|quarter)s?\b",
    re.IGNORECASE,
)


def duration_days(text: str) -> int | None:
    """Days asked for ("for 2 weeks" -> 14), rounded up to whole days; None when unsaid."""
    for match in _DURATION.finditer(text):
        amount, unit = match.group(1).lower(), match.group(2).lower()
        # a bare "a day" / "a month" without "for" is usually not a duration ("once a day")
        if amount in {"a", "an"} and not match.group(0).lower().startswith("for"):
            continue
        count = int(amount) if amount.isdigit() else _NUMBERS[amount]
        days = count * _UNIT_DAYS[unit]
        if days > 0:
            return max(1, round(days + 0.49))
    return None


_SYSTEM = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(s).replace(r"\-", r"[\s-]?") for s in sorted(SYSTEMS, key=len)[::-1])
    + r")(?![\w-])",
    re.IGNORECASE,
)


def _app(text: str) -> str | None:
    match = _SYSTEM.search(text)
    return re.sub(r"[\s-]+", "-", match.group(1).lower()) if match else None


_NEGATION = re.compile(r"\b(?:not|never|didn't|did not|didnt|haven't|have not|without)\b\W*$")
_EXPOSED = [
    re.compile(
        r"\b(?:typed|entered|put|gave|give|submitted|input|provided|shared|told|filled in|"
        r"logged in with|signed in with|re-?entered)\s+(?:in\s+|out\s+|them\s+)?"
        r"(?:my|our|the|all my)?\s*(?!wrong|old|new|incorrect)(?:\w+\s+)?(?:password|"
        r"passwords|credentials|login|details|username and password|pin|passcode)\b"
        r"(?!\s+(?:wrong|incorrectly|too many|a few|several|\d+ times|again))",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:account|email|mailbox|login|password)\s+(?:is|was|has been|got|been|may be|"
        r"might be|is probably)\s+(?:hacked|compromised|breached|stolen|taken over|leaked)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:someone|somebody|a hacker|hackers|they)\s+(?:has|have|knows?|got|stole|might "
        r"have|may have)\s+(?:my|our)\s+(?:password|credentials|login)",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:i(?:'ve| have)? been|got) hacked\b|\bhacked my account\b", re.IGNORECASE),
    # someone else is in the account: "someone is sending emails from my account"
    re.compile(
        r"\b(?:someone|somebody|a hacker|hackers|an attacker|a stranger|they)\s+(?:else\s+)?"
        r"(?:is\s+|was\s+|has\s+been\s+|have\s+been\s+|has\s+|had\s+)?(?:sending|sent|using|"
        r"used|logged\s+in(?:to)?|logging\s+in(?:to)?|signed\s+in(?:to)?|signing\s+in(?:to)?|"
        r"accessing|accessed|reading|read|got\s+into|broke\s+into|is\s+in)\b.{0,30}?"
        r"\b(?:my|our)\s+(?:account|mailbox|email|e-?mail\s+account|inbox|login|onedrive)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:e-?mails?|messages?)\s+(?:are|were|is|was|being|have\s+been|got)\s+(?:being\s+)?"
        r"sent\s+from\s+my\s+(?:account|mailbox|email|address)\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"\bapproved\s+(?:an?|the|that)\s+(?:mfa|sign-?in|login|push)\s*(?:request|prompt|"
        r"push|notification)?\b.{0,30}(?:mistake|accident|wasn't me|not me)",
        re.IGNORECASE,
    ),
]


# A service out of order, as people say it (not a question of how to use it).
_DOWN = re.compile(
    r"\b(?:down|outage|offline|unreachable|broken|not\s+(?:working|responding|loading|"
    r"connecting|available)|(?:isn'?t|is\s+not|aren'?t|doesn'?t|does\s+not|won'?t|will\s+not|"
    r"can'?t|cannot)\s+(?:work|connect|load|open|respond|reach|log\s*in|sign\s*in|print|send)\w*|"
    r"keeps?\s+(?:dropping|disconnecting|crashing|failing)|crash(?:es|ed|ing)?|fail(?:s|ed|ing)|"
    r"error|no\s+(?:connection|internet|signal))\b",
    re.IGNORECASE,
)


def out_of_service(text: str) -> bool:
    """The message says something is not working (down, broken, can't connect, an error),
    rather than asking how to do something."""
    return _DOWN.search(text) is not None


def credentials_exposed(text: str) -> bool:
    """The person says their password went somewhere it should not, or the account is taken."""
    for pattern in _EXPOSED:
        for match in pattern.finditer(text):
            if not _NEGATION.search(text[max(0, match.start() - 30) : match.start()]):
                return True
    return False
