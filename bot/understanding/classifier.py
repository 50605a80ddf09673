"""The intent classifier: TF-IDF over words (1-2-grams) and characters (3-5-grams, which
absorb misspellings) into a linear SVM, calibrated by temperature scaling on grouped
cross-validation so its probabilities mean what they say.

Trained from the example phrasings on first use (about two seconds) and cached per process;
training is deterministic. `classifier_view` turns a cleaned message plus the catalogue
names found in it into exactly the text the model was trained on.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from bot.understanding.mentions import Mention
from bot.understanding.model import Intent
from bot.understanding.text import MASK, clean, normalise
from bot.understanding.training import training_set

__all__ = ["IntentClassifier", "Scores", "classifier_view", "shared_classifier"]

_RANDOM_STATE = 0
_FOLDS = 5
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


class _Model(Protocol):
    """What the desk needs of a fitted scikit-learn classifier."""

    classes_: NDArray[Any]

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class Scores:
    """Calibrated probabilities, best first, and how much of the text the model knows."""

    ranked: list[tuple[Intent, float]]
    known_share: float  # share of the message's words seen in training (0 for gibberish)


class IntentClassifier:
    """A fitted, calibrated intent model. Build with `IntentClassifier.train()`."""

    def __init__(self, model: _Model, vocabulary: frozenset[str]) -> None:
        self._model = model
        self._vocabulary = vocabulary
        self.classes: list[Intent] = [str(c) for c in model.classes_]  # type: ignore[misc]

    @classmethod
    def train(cls) -> IntentClassifier:
        """Fit on the example phrasings; deterministic (fixed folds and seeds)."""
        # imported here: scikit-learn takes a while to import and only training needs it
        from sklearn.calibration import CalibratedClassifierCV  # type: ignore[import-untyped]
        from sklearn.model_selection import StratifiedGroupKFold  # type: ignore[import-untyped]

        examples = training_set()
        texts = [classifier_view(clean(e.text)) for e in examples]
        labels = np.array([e.intent for e in examples])
        groups = np.array([e.phrasing for e in examples])
        folds = StratifiedGroupKFold(_FOLDS, shuffle=True, random_state=_RANDOM_STATE)
        model = CalibratedClassifierCV(
            _pipeline(),
            method="temperature",
            cv=list(folds.split(texts, labels, groups)),
            ensemble=False,
        )
        model.fit(texts, labels)
        vocabulary = frozenset(w for text in texts for w in _WORD.findall(text))
        fitted: _Model = model
        return cls(fitted, vocabulary)

    def scores(self, view: str) -> Scores:
        """Calibrated intent probabilities for one `classifier_view` text."""
        return self.scores_many([view])[0]

    def scores_many(self, views: Sequence[str]) -> list[Scores]:
        """`scores` for several texts in one call."""
        if not views:
            return []
        found = []
        for view, probabilities in zip(views, self._model.predict_proba(list(views)), strict=True):
            order = np.argsort(-probabilities, kind="stable")
            ranked = [(self.classes[i], float(probabilities[i])) for i in order]
            words = _WORD.findall(view)
            known = sum(w in self._vocabulary for w in words) / len(words) if words else 0.0
            found.append(Scores(ranked, known))
        return found


def _pipeline() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped]
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    return Pipeline([("features", features), ("svm", LinearSVC(C=0.5, random_state=_RANDOM_STATE))])


_shared: IntentClassifier | None = None
_shared_lock = threading.Lock()


def shared_classifier() -> IntentClassifier:
    """The process's fitted classifier, trained on first use (the model is read-only)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = IntentClassifier.train()
        return _shared
