"""Understanding a message: what the person wants (an intent the desk or one of its skills
serves), how sure we are (a calibrated confidence), and the details (slots: group, software,
device, person, duration...) as ids from the org's catalogue.

`OfflineUnderstanding` is the default: a local classifier trained on the example phrasings
of every intent plus fuzzy matching against the org's `Catalog`; no network, no key.
"""

from bot.understanding.model import (
    DEFAULT_THRESHOLD,
    UNKNOWN_PERSON,
    Catalog,
    CatalogFeed,
    IntentCatalog,
    Understander,
    Understanding,
    default_intents,
)
from bot.understanding.offline import OfflineUnderstanding

__all__ = [
    "DEFAULT_THRESHOLD",
    "UNKNOWN_PERSON",
    "Catalog",
    "CatalogFeed",
    "IntentCatalog",
    "OfflineUnderstanding",
    "Understander",
    "Understanding",
    "default_intents",
]
