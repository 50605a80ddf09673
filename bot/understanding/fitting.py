"""Fitting the intent model with scikit-learn, once per process.

TF-IDF over words (1-2-grams) and characters (3-5-grams within words, which absorb
misspellings) into a linear SVM. Its scores become probabilities by temperature scaling:
one inverse temperature fitted on out-of-fold scores from grouped cross-validation (all
variants of one example phrasing fall in the same fold, so the model is never scored on a
near-copy of what it trained on). The result is plain arrays and analyzer parameters, so
inference needs no scikit-learn machinery (see `classifier.py`) and a fitted model can be
stored and loaded as data (see `model_cache.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.understanding.analyzers import Analyzer

__all__ = ["FEATURES", "FITTING", "FeatureBlock", "FittedModel", "build_pipeline", "fit"]

RANDOM_STATE = 0
FOLDS = 5
SVM_C = 0.5
# Bump when the recipe changes in a way the constants below do not show (a stored model
# fitted by the old recipe is then fitted again).
RECIPE = 1
FITTING: dict[str, Any] = {
    "recipe": RECIPE, "random_state": RANDOM_STATE, "folds": FOLDS, "svm_c": SVM_C,
}  # fmt: skip
# The vectorisers, by name; `classifier.py` applies them as sublinear TF-IDF with l2 norm.
FEATURES: dict[str, dict[str, Any]] = {
    "words": {"ngram_range": (1, 2), "sublinear_tf": True, "token_pattern": r"(?u)\b\w+\b"},
    "chars": {"analyzer": "char_wb", "ngram_range": (3, 5), "sublinear_tf": True, "min_df": 2},
}


@dataclass(frozen=True)
class FeatureBlock:
    """One fitted TF-IDF vectoriser as data: analyzer, vocabulary, idf, column offset."""

    analyzer: Analyzer
    vocabulary: dict[str, int]
    idf: NDArray[np.float64]
    offset: int


@dataclass(frozen=True)
class FittedModel:
    """Everything inference needs: features, linear weights, temperature, class names."""

    blocks: tuple[FeatureBlock, ...]
    coef: NDArray[np.float64]  # (n_classes, n_features)
    intercept: NDArray[np.float64]  # (n_classes,)
    beta: float  # inverse temperature
    classes: tuple[str, ...]


def build_pipeline() -> Any:
    """The unfitted scikit-learn pipeline the model is made of."""
    # scikit-learn is imported here: it takes a while and only training needs it
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    vectorisers = [(name, TfidfVectorizer(**params)) for name, params in FEATURES.items()]
    return Pipeline(
        [
            ("features", FeatureUnion(vectorisers)),
            ("svm", LinearSVC(C=SVM_C, random_state=RANDOM_STATE)),
        ]
    )


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: NDArray[np.float64] = shifted / shifted.sum(axis=1, keepdims=True)
    return result


def _fit_beta(scores: NDArray[np.float64], truth: NDArray[np.intp]) -> float:
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(truth))

    def loss(log_beta: float) -> float:
        probabilities = _softmax(scores * np.exp(log_beta))
        return float(-np.log(probabilities[rows, truth] + 1e-12).mean())

    return float(np.exp(minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded").x))


def fit(texts: list[str], labels: list[str], groups: list[int]) -> FittedModel:
    """Fit and calibrate on (classifier view, intent, phrasing group); deterministic."""
    from sklearn.model_selection import StratifiedGroupKFold

    x, y = np.array(texts, dtype=object), np.array(labels)
    classes = tuple(sorted(set(labels)))
    truth = np.searchsorted(np.array(classes), y)
    out_of_fold = np.zeros((len(texts), len(classes)))
    folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=RANDOM_STATE)
    for train, held_out in folds.split(x, y, groups):
        fold_model = build_pipeline().fit(list(x[train]), y[train])
        out_of_fold[held_out] = fold_model.decision_function(list(x[held_out]))
    beta = _fit_beta(out_of_fold, truth)

    model = build_pipeline().fit(texts, labels)
    svm = model.named_steps["svm"]
    return FittedModel(
        blocks=_blocks(model.named_steps["features"].transformer_list),
        coef=np.asarray(svm.coef_, dtype=np.float64),
        intercept=np.asarray(svm.intercept_, dtype=np.float64),
        beta=beta,
        classes=tuple(str(c) for c in svm.classes_),
    )


def _blocks(vectorisers: list[tuple[str, Any]]) -> tuple[FeatureBlock, ...]:
    blocks, offset = [], 0
    for _, vectoriser in vectorisers:
        params = vectoriser.get_params()
        if (params["sublinear_tf"], params["norm"], params["use_idf"], params["binary"]) != (
            True, "l2", True, False
        ):  # fmt: skip
            raise ValueError(f"classifier.py applies sublinear l2 TF-IDF, not {params}")
        vocabulary = dict(vectoriser.vocabulary_)
        idf = np.asarray(vectoriser.idf_, dtype=np.float64)
        blocks.append(FeatureBlock(Analyzer.of(params), vocabulary, idf, offset))
        offset += len(vocabulary)
    return tuple(blocks)
