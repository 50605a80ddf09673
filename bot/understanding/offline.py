"""The offline understanding: no network, no key, the desk's default.

One message goes: `clean` -> the org's names found (`CatalogIndex`) -> names masked ->
calibrated intent probabilities (`IntentClassifier`) -> confidence tempered where the model
is out of its depth -> slots. Confidence is a probability the intent is right; below the
threshold the desk asks or escalates. Being unsure is cheap, being wrong and sure is not, so
the adjustments here only ever lower confidence, except for attempts to talk the desk out of
its policies, which are reported as security incidents.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import replace

from bot.models import Person
from bot.understanding.classifier import (
    IntentClassifier,
    Scores,
    classifier_view,
    shared_classifier,
)
from bot.understanding.lexicon import STOPWORDS, word_set
from bot.understanding.mentions import CatalogIndex, Mention
from bot.understanding.model import (
    DEFAULT_THRESHOLD,
    Catalog,
    CatalogFeed,
    IntentCatalog,
    Understanding,
    default_intents,
)
from bot.understanding.model_cache import ModelCache
from bot.understanding.slots import fill_slots
from bot.understanding.text import clean

__all__ = ["OfflineUnderstanding", "looks_like_manipulation"]

# Below this share of words it has seen in training, the model is guessing.
_KNOWN_SHARE_FULL_TRUST = 0.6
_MANIPULATION_CONFIDENCE = 0.9
_ALTERNATIVES = 3
# "help", "I have a problem": nothing to act on; the desk should ask, not route.
_CONTENTLESS_CAP = 0.3
_CONTENTLESS = STOPWORDS | word_set(
    """help problem problems issue issues question questions something wrong quick urgent
    asap query request support urgently sos pls plz anyone someone there assistance"""
)
# Two requests in one message ("I'm locked out and my printer is jammed"): neither is sure.
_TWO_REQUESTS_CAP = 0.5
_CLAUSE_SURE = 0.95
_CLAUSE_MIN_WORDS = 3
_NOT_A_REQUEST: frozenset[str] = frozenset({"other", "not_it"})
_CLAUSE_BREAK = re.compile(
    r"[.!?;\n]+\s+|\s+(?:and|but|plus|also)\s+(?=(?:also\s+)?(?:my|the|i|i'm|im|i've|"
    r"can|could|would|please|pls|also|need|we|our|then|there)\b)|\b(?:also|additionally|"
    r"another thing|on top of that|separately)\b",
    re.IGNORECASE,
)

# "laptop is fine", "the rest works ok": context about what does work, never a request
_FINE = re.compile(
    r"\b(?:is|are|seems?|looks?|works?|working|runs?|running)\s+(?:\w+\s+)?(?:fine|ok|okay|"
    r"good|normal|normally|perfectly)\b|\bno\s+(?:problems?|issues?)\b",
    re.IGNORECASE,
)

_MANIPULATION = re.compile(
    r"\b(?:ignore|disregard|override|bypass)\s+(?:all\s+|any\s+|your\s+|the\s+|"
    r"previous\s+|prior\s+|earlier\s+|above\s+)*(?:instructions|policies|policy|rules|"
    r"guidelines|prompts?|restrictions|approvals?|verification|checks)\b"
    r"|\bsystem\s+(?:override|prompt|instruction)s?\b"
    r"|\byou\s+are\s+now\s+(?:in|an?|the|my)\b"
    r"|\b(?:maintenance|developer|admin|god|debug|jailbreak|dan)\s+mode\b"
    r"|\bpretend\s+(?:to\s+be|you\s+are)\b"
    r"|\bnew\s+instructions\s*:",
    re.IGNORECASE,
)


def looks_like_manipulation(text: str) -> bool:
    """Text that tries to instruct the desk rather than ask it for something."""
    return bool(_MANIPULATION.search(text))


class OfflineUnderstanding:
    """Understands first messages with a local classifier and the org's catalogue.

    `threshold` is exposed so the desk (and `itdesk nlu predict`) can tell a confident
    understanding from one to ask about or escalate.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        intents: IntentCatalog | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        classifier: IntentClassifier | None = None,
        feed: CatalogFeed | None = None,
        model_cache: ModelCache | None = None,
    ) -> None:
        """`feed`, when given, supplies the catalogue as it changes (`catalog` is where to
        start); `model_cache`, where the fitted classifier is kept between starts."""
        if not 0.0 < threshold < 1.0:
            raise ValueError("threshold must be between 0 and 1")
        self.catalog = catalog
        self._feed = feed
        self.intents = intents or (classifier.intents if classifier else default_intents())
        self.threshold = threshold
        self._index = CatalogIndex(catalog)
        self._classifier = classifier
        self._model_cache = model_cache

    @property
    def classifier(self) -> IntentClassifier:
        if self._classifier is None:
            self._classifier = shared_classifier(self.intents, self._model_cache)
        return self._classifier

    async def warm_up(self) -> None:
        """Train (or load) the classifier and index the feed's current catalogue, off the
        event loop; at start-up, so that the first message waits for neither."""
        if self._classifier is None:
            self._classifier = await asyncio.to_thread(
                shared_classifier, self.intents, self._model_cache
            )
        if self._feed is not None:
            catalog = await self._feed.current()
            if catalog is not self.catalog:  # a new one is indexed once
                index = await asyncio.to_thread(CatalogIndex, catalog)
                self.catalog, self._index = catalog, index

    async def understand(self, text: str, *, requester: Person) -> Understanding:
        """What `requester` wants, from their message."""
        await self.warm_up()
        return self.predict(text, requester=requester)

    def predict(self, text: str, *, requester: Person | None = None) -> Understanding:
        """The synchronous core of `understand` (a few milliseconds once trained)."""
        cleaned = clean(text)
        mentions = self._index.find(cleaned, requester)
        view = classifier_view(cleaned, mentions)
        scores = self.classifier.scores(view)
        intent, confidence = scores.ranked[0]
        if scores.known_share == 0.0:
            intent = "other"  # not one known word: no evidence for any intent
        intent, confidence = _direction(intent, confidence, scores, cleaned)
        confidence = _tempered(confidence, scores, view)
        alternatives = [
            (i, round(p, 4)) for i, p in scores.ranked[: 1 + _ALTERNATIVES] if i != intent
        ][:_ALTERNATIVES]
        if (second := self._second_request(cleaned, mentions, intent)) is not None:
            confidence = min(confidence, _TWO_REQUESTS_CAP)
            alternatives = [second, *(a for a in alternatives if a[0] != second[0])]
            alternatives = alternatives[:_ALTERNATIVES]
        slots = fill_slots(self.intents.spec(intent), cleaned, mentions, requester)
        if looks_like_manipulation(cleaned):
            # An attempt to instruct the desk is itself the incident, whatever it asks for.
            guessed = [(intent, round(confidence, 4)), *alternatives]
            alternatives = [a for a in guessed if a[0] != "security_incident"][:_ALTERNATIVES]
            intent, confidence = "security_incident", _MANIPULATION_CONFIDENCE
            spec = self.intents.spec(intent)
            slots = fill_slots(spec, cleaned, mentions, requester) | {"manipulation": "yes"}
        return self._understanding(intent, confidence, slots, alternatives)

    def _second_request(
        self, cleaned: str, mentions: Sequence[Mention], intent: str
    ) -> tuple[str, float] | None:
        """Another request, for another queue, made in its own clause of the message."""
        clauses = [c for c in _CLAUSE_BREAK.split(cleaned) if c]
        if len(clauses) < 2:
            return None
        views = []
        for clause in clauses:
            if _FINE.search(clause):
                continue
            start = cleaned.find(clause)
            inside = [
                replace(m, start=m.start - start, end=m.end - start)
                for m in mentions
                if start <= m.start and m.end <= start + len(clause)
            ]
            view = classifier_view(clause, inside)
            if len(view.split()) >= _CLAUSE_MIN_WORDS:
                views.append(view)
        queue = self.intents.queue_of(intent)
        for clause_scores in self.classifier.scores_many(views):
            other, probability = clause_scores.ranked[0]
            if (
                probability >= _CLAUSE_SURE
                and other not in _NOT_A_REQUEST
                and self.intents.queue_of(other) != queue
                and clause_scores.known_share >= _KNOWN_SHARE_FULL_TRUST
            ):
                return other, round(probability * _TWO_REQUESTS_CAP, 4)
        return None

    def _understanding(
        self,
        intent: str,
        confidence: float,
        slots: dict[str, str],
        alternatives: list[tuple[str, float]],
    ) -> Understanding:
        confidence = round(min(max(confidence, 0.0), 1.0), 4)
        return Understanding(
            intent=intent,
            confidence=confidence,
            queue=self.intents.queue_of(intent),
            slots=slots,
            alternatives=alternatives,
            confident=confidence >= self.threshold,
            source="offline",
        )


# Joining and leaving a group read alike to the classifier ("let me join" / "let me leave");
# the verb says which. Only an unambiguous verb decides, and only between the two.
_SIBLING: dict[str, str] = {
    "access_request": "access_removal",
    "access_removal": "access_request",
}
_JOINING = re.compile(
    r"\b(?:join|joining|add(?:ed)?\s+me|add\s+myself|give\s+me|grant(?:ed)?|be\s+added|"
    r"subscribe|get\s+access|need\s+access|want\s+access|permission|rights|"
    r"let\s+me\s+(?:in|into|join|see|access|use|edit|view))\b",
    re.IGNORECASE,
)
_LEAVING = re.compile(
    r"\b(?:leave|leaving|remove|removed|take\s+me\s+(?:off|out)|unsubscribe|drop\s+me|"
    r"no\s+longer\s+need|don'?t\s+need|revoke|opt\s+out|get\s+me\s+(?:off|out))\b",
    re.IGNORECASE,
)
_SIBLING_FLOOR = 0.2  # the other reading must be a real contender before a verb flips it


def _direction(intent: str, confidence: float, scores: Scores, cleaned: str) -> tuple[str, float]:
    """Between joining and leaving, let an unambiguous verb decide, with their joint weight."""
    sibling = _SIBLING.get(intent)
    if sibling is None:
        return intent, confidence
    joining, leaving = bool(_JOINING.search(cleaned)), bool(_LEAVING.search(cleaned))
    if joining == leaving:
        return intent, confidence
    wanted = "access_request" if joining else "access_removal"
    weights: dict[str, float] = dict(scores.ranked)
    other = weights.get(sibling, 0.0)
    if wanted != intent and other < _SIBLING_FLOOR:
        return intent, confidence
    return wanted, min(0.99, weights.get(intent, 0.0) + other)


def _tempered(confidence: float, scores: Scores, view: str) -> float:
    """Lower the model's confidence when most of the words are unknown to it, or when the
    message names nothing to act on."""
    confidence *= min(1.0, scores.known_share / _KNOWN_SHARE_FULL_TRUST)
    words = view.split()
    if scores.ranked[0][0] != "not_it" and all(w in _CONTENTLESS for w in words):
        confidence = min(confidence, _CONTENTLESS_CAP)
    return confidence
