"""The intent classifier at run time: calibrated probabilities per intent for one message.

Trained from the intents' example phrasings on first use (seconds, see `fitting.py`), or
loaded from the disk when a `ModelCache` holds the model for exactly those phrasings, and
kept per process and set of intents; training is deterministic. `classifier_view` turns a
cleaned message plus the catalogue names found in it into exactly the text the model was
trained on.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.understanding.fitting import FittedModel, fit
from bot.understanding.mentions import Mention
from bot.understanding.model import IntentCatalog
from bot.understanding.model_cache import ModelCache
from bot.understanding.text import MASK, clean, normalise
from bot.understanding.training import training_set

__all__ = ["IntentClassifier", "Scores", "classifier_view", "shared_classifier"]

# a device id the catalogue does not know is still a device id
_DEVICE_LIKE = re.compile(r"\b[A-Za-z]{2,4}-\d{3,6}\b")
_WORD = re.compile(r"[a-z]{2,}")


def classifier_view(cleaned: str, mentions: Sequence[Mention] = ()) -> str:
    """`cleaned` with the org's names replaced by mask words, normalised for the model.

    The requester's own name is dropped (a signature says nothing about the request).
    """
    parts: list[str] = []
    last = 0
    for mention in sorted(mentions, key=lambda m: m.start):
        if not (mention.maskable or mention.requester):
            continue
        parts.append(cleaned[last : mention.start])
        parts.append(" " if mention.requester else f" {MASK[mention.kind]} ")
        last = mention.end
    parts.append(cleaned[last:])
    return normalise(_DEVICE_LIKE.sub(f" {MASK['device']} ", "".join(parts)))


@dataclass(frozen=True)
class Scores:
    """Calibrated probabilities, best first, and how much of the text the model knows."""

    ranked: list[tuple[str, float]]
    known_share: float  # share of the message's words seen in training (0 for gibberish)


class IntentClassifier:
    """A fitted, calibrated intent model. Build with `IntentClassifier.train()`.

    Inference is a few sparse dot products in numpy: the vectorisers' analyzers, their
    vocabularies and idf weights, the SVM's weights and the temperature, applied exactly as
    scikit-learn would, without its per-call validation overhead.
    """

    def __init__(
        self, model: FittedModel, vocabulary: frozenset[str], intents: IntentCatalog
    ) -> None:
        unknown = [c for c in model.classes if c not in intents]
        if unknown:
            raise ValueError(f"the model knows intents the catalogue does not: {unknown}")
        self._model = model
        self._vocabulary = vocabulary
        self.intents = intents
        self.classes: list[str] = list(model.classes)
        self.beta = model.beta

    @classmethod
    def train(cls, intents: IntentCatalog, *, cache: ModelCache | None = None) -> IntentClassifier:
        """Fit on the intents' example phrasings; deterministic (fixed folds and seeds). With
        a `cache`, the model stored for the same phrasings is loaded instead, or the fitted
        one stored."""
        examples = training_set(intents)
        texts = [classifier_view(clean(e.text)) for e in examples]
        labels, groups = [e.intent for e in examples], [e.phrasing for e in examples]
        model = cache.fitted(texts, labels, groups) if cache else fit(texts, labels, groups)
        vocabulary = frozenset(w for text in texts for w in _WORD.findall(text))
        return cls(model, vocabulary, intents)

    def decision(self, view: str) -> NDArray[np.float64]:
        """The SVM's raw scores for one `classifier_view` text, one per class."""
        model = self._model
        columns: list[int] = []
        values: list[float] = []
        for block in model.blocks:
            counts: dict[int, int] = {}
            for feature in block.analyzer(view):
                index = block.vocabulary.get(feature)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            index_array = np.fromiter(counts, dtype=np.intp, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            weights = tf * block.idf[index_array]
            weights /= np.sqrt(weights @ weights)
            columns += (index_array + block.offset).tolist()
            values += weights.tolist()
        if not columns:
            return model.intercept.copy()
        result: NDArray[np.float64] = model.coef[:, columns] @ np.array(values) + model.intercept
        return result

    def scores(self, view: str) -> Scores:
        """Calibrated intent probabilities for one `classifier_view` text."""
        logits = self.decision(view) * self.beta
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        order = np.argsort(-probabilities, kind="stable")
        ranked = [(self.classes[i], float(probabilities[i])) for i in order]
        words = _WORD.findall(view)
        known = sum(w in self._vocabulary for w in words) / len(words) if words else 0.0
        return Scores(ranked, known)

    def scores_many(self, views: Sequence[str]) -> list[Scores]:
        """`scores` for several texts."""
        return [self.scores(view) for view in views]


_training = threading.Lock()
_trained: dict[IntentCatalog, IntentClassifier] = {}  # read-only once trained


def shared_classifier(intents: IntentCatalog, cache: ModelCache | None = None) -> IntentClassifier:
    """The process's classifier for `intents`, trained (or loaded from `cache`) on first use;
    later calls get that same one, whichever `cache` they name."""
    with _training:  # two first callers must not both spend seconds training
        if intents not in _trained:
            _trained[intents] = IntentClassifier.train(intents, cache=cache)
        return _trained[intents]
