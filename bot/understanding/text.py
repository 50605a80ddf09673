"""Text clean-up shared by the classifier, the slot filler and the training examples.

`clean` keeps case and spans meaningful (slot filling needs both) but removes what only adds
noise: chat markup, URLs, e-mail addresses, emoji. `normalise` is the classifier's view:
lowercase, no punctuation, a few spellings folded to one form.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MASK", "clean", "normalise", "stem", "tokens"]

# The tokens that stand in for the org's own names, so the classifier learns the shape of a
# request ("add me to <group>") rather than one org's vocabulary.
MASK = {
    "group": "xxgroup",
    "software": "xxsoftware",
    "person": "xxperson",
    "device": "xxdevice",
}

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "`": "'"})
_SLACK_MARKUP = re.compile(r"<[@#!][^>]*>")
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_HEX_CODE = re.compile(r"\b0x[0-9a-f]{4,8}\b", re.IGNORECASE)
_TICKET = re.compile(
    r"\b(?:inc|req|ritm|task|chg|tkt|sr|ticket|case)[-#: ]?\d{3,}\b|#\d{3,}\b", re.IGNORECASE
)
# a file extension written on its own (".locked", ".exe"): it is about files, and its letters
# ("locked") must not be read as words of the request; ".NET" is a product, not an extension
_FILE_EXTENSION = re.compile(r"(?<![\w.])\.(?!net\b)[A-Za-z][A-Za-z0-9]{1,7}\b", re.IGNORECASE)
# The boilerplate an e-mail client or a legal department appends: everything from it on is
# about e-mail in general, never about the request ("...delete it. Do not open attachments").
_BOILERPLATE = re.compile(
    r"(?:\b(?:confidentiality|privileged|legal)\s+(?:notice|warning|statement)\b|"
    r"\bdisclaimer\s*:|"
    r"\bthis\s+(?:e-?mail|message|communication)\s+(?:message\s+)?(?:\(?(?:and|including)\s+any\s+"
    r"(?:attachments?|files?)[^.]{0,40}\)?\s+)?(?:is|are|may\s+be|may\s+contain|contains?)\s+"
    r"(?:strictly\s+)?(?:confidential|privileged|intended)|"
    r"\bif\s+you\s+(?:have\s+)?received\s+this\s+(?:e-?mail|message|communication)\s+in\s+error|"
    r"\bsent\s+from\s+my\s+(?:iphone|ipad|android|samsung|mobile|galaxy|phone)\b|"
    r"\bget\s+outlook\s+for\s+(?:ios|android)\b|"
    r"\bplease\s+consider\s+the\s+environment\s+before\s+printing)",
    re.IGNORECASE,
)
_EMOTICON = re.compile(r"(?:^|(?<=\s))[:;=8][-']?[()\[\]dDpP/\\|*]+(?=\s|$)|<3")
_SPACES = re.compile(r"\s+")

# spelling variants worth folding before the classifier counts words
_FOLDS = [
    (re.compile(r"\bwi[\s-]?fi\b|\bwify\b|\bwiif\b|\bwfi\b"), "wifi"),
    (re.compile(r"\be[\s-]mails?\b"), "email"),
    (re.compile(r"\blog[\s-]in\b"), "login"),
    (re.compile(r"\bsign[\s-]in\b"), "signin"),
    (re.compile(r"\bpass[\s-]word"), "password"),
    (re.compile(r"\bmulti[\s-]factor\b|\b2fa\b|\btwo[\s-]factor\b|\b2[\s-]step\b"), "mfa"),
    (re.compile(r"\bpw\b|\bpwd\b|\bpasswd\b"), "password"),
    (re.compile(r"\bpls\b|\bplz\b|\bpleas\b"), "please"),
    (re.compile(r"\bu\b"), "you"),
    (re.compile(r"\bim\b"), "i am"),
    (re.compile(r"\bcant\b"), "cannot"),
    (re.compile(r"\bcan ?not\b"), "cannot"),
]
_NON_WORD = re.compile(r"[^a-z0-9\s]+")
_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")
_TOKEN = re.compile(r"[^\W_]+")


def _is_emoji(char: str) -> bool:
    category = unicodedata.category(char)
    return category in {"So", "Sk", "Cs", "Co"} or (ord(char) > 0xFFFF and category != "Lo")


def clean(text: str) -> str:
    """Unicode-normalised text without markup, URLs, addresses, emoji, in its original case.

    URLs, e-mail addresses, error codes and ticket numbers become placeholder words: that a
    message carries a link or a ticket number is a signal, which link or number is not. A
    bare file extension becomes the word "file"; a legal footer or a "Sent from my iPhone"
    line ends the text.
    """
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if (boilerplate := _BOILERPLATE.search(text)) is not None and boilerplate.start() > 0:
        text = text[: boilerplate.start()]
    text = _SLACK_LINK.sub(r" \2 xxurl ", text)
    text = _SLACK_MARKUP.sub(" ", text)
    text = _URL.sub(" xxurl ", text)
    text = _EMAIL.sub(" xxemail ", text)
    text = _HEX_CODE.sub(" xxerrcode ", text)
    text = _TICKET.sub(" xxticket ", text)
    text = _FILE_EXTENSION.sub(" file ", text)
    text = _EMOTICON.sub(" ", text)
    text = "".join(" " if _is_emoji(char) else char for char in text)
    return _SPACES.sub(" ", text).strip()


def normalise(text: str) -> str:
    """The classifier's view of already `clean`ed text: lowercase words and digits only."""
    text = text.lower()
    text = _APOSTROPHE.sub("", text)
    text = _NON_WORD.sub(" ", text)
    for pattern, replacement in _FOLDS:
        text = pattern.sub(replacement, text)
    return _SPACES.sub(" ", text).strip()


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Word tokens of `text` with their character spans (hyphens and dots separate)."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def stem(word: str) -> str:
    """A crude plural fold, the same on both sides of a name comparison."""
    word = word.lower()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
