"""Understanding a message: what the person wants (an intent from spec/intents.md), how sure
we are (a calibrated confidence), and the details (slots: group, software, device, person,
duration...) as ids from the org's catalogue.

`OfflineUnderstanding` is the default: a local classifier trained on the project's own
example phrasings plus fuzzy matching against the org's `Catalog`; no network, no key.
"""

from bot.understanding.model import (
    DEFAULT_THRESHOLD,
    INTENT_DESCRIPTIONS,
    INTENTS,
    QUEUE_OF,
    UNKNOWN_PERSON,
    Catalog,
    Intent,
    Understander,
    Understanding,
)
from bot.understanding.offline import OfflineUnderstanding

__all__ = [
    "DEFAULT_THRESHOLD",
    "INTENTS",
    "INTENT_DESCRIPTIONS",
    "QUEUE_OF",
    "UNKNOWN_PERSON",
    "Catalog",
    "Intent",
    "OfflineUnderstanding",
    "Understander",
    "Understanding",
]
