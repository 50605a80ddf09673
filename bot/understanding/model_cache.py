"""The fitted intent model kept on disk: fitted once, loaded by every later start.

Fitting takes seconds to a minute (`fitting.py`); loading takes milliseconds. A stored model
is plain data in one `.npz` file: the arrays, and a JSON header with the analyzers'
parameters, the vocabularies, the classes and the temperature. Nothing is pickled; the
analyzers are rebuilt from their parameters. The file is named by a hash of everything that
decides the fit: the training texts, labels and phrasing groups, the fitting constants and
feature configuration, and the versions of Python, numpy, scipy and scikit-learn.

A file that cannot be read or does not match is logged and fitted again, never fatal. A file
is written whole or not at all (`bot.cache_files`), so a desk starting beside another never
reads half of one; the last writer wins, and both wrote the same model.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from numpy.typing import NDArray

from bot.cache_files import store
from bot.understanding.analyzers import Analyzer
from bot.understanding.fitting import FEATURES, FITTING, FeatureBlock, FittedModel, fit

__all__ = ["ModelCache", "training_key"]

log = structlog.get_logger("itdesk.understanding")
FORMAT = 1  # the layout of a stored file
_PREFIX = "intents-"
_UNREADABLE = (
    OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile,
)  # fmt: skip


def training_key(texts: Sequence[str], labels: Sequence[str], groups: Sequence[int]) -> str:
    """A hash of everything that decides what `fit(texts, labels, groups)` returns."""
    decided_by = {
        "format": FORMAT,
        "examples": [list(texts), list(labels), list(groups)],
        "fitting": FITTING,
        "features": FEATURES,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": metadata.version("scipy"),
            "scikit-learn": metadata.version("scikit-learn"),  # without importing it
        },
    }
    return hashlib.sha256(json.dumps(decided_by, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ModelCache:
    """The fitted intent model under `directory`, in a file named by its training key (a
    model stored for other examples is replaced)."""

    directory: Path

    def fitted(self, texts: list[str], labels: list[str], groups: list[int]) -> FittedModel:
        """The model `fit` would return: the stored one when there is one, else fitted now
        and stored."""
        key = training_key(texts, labels, groups)
        model = self.load(key)
        if model is None:
            model = fit(texts, labels, groups)
            self.save(key, model)
        return model

    def path(self, key: str) -> Path:
        return self.directory / f"{_PREFIX}{key[:32]}.npz"

    def load(self, key: str) -> FittedModel | None:
        """The model stored under `key`; None (and a log line) when missing or unusable."""
        path = self.path(key)
        if not path.exists():
            log.info("model_cache.missing", path=str(path))
            return None
        try:
            with path.open("rb") as handle:  # numpy leaves a file it cannot read open
                stored = np.load(handle, allow_pickle=False)
                if not isinstance(stored, np.lib.npyio.NpzFile):
                    raise ValueError("not an .npz archive")
                with stored:
                    model = _model(key, {name: stored[name] for name in stored.files})
        except _UNREADABLE as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("model_cache.unusable", path=str(path), error=reason)
            return None
        log.info("model_cache.loaded", path=str(path))
        return model

    def save(self, key: str, model: FittedModel) -> None:
        """Store `model` under `key` (replacing models stored under other keys); a directory
        that cannot be written is logged, and the desk runs on."""
        path = self.path(key)
        data = io.BytesIO()
        np.savez(data, allow_pickle=False, **_arrays(key, model))
        try:
            store(path, data.getvalue(), replaces=f"{_PREFIX}*.npz")
        except OSError as exc:
            log.warning("model_cache.unwritable", path=str(path), error=str(exc))
            return
        log.info("model_cache.saved", path=str(path))


def _arrays(key: str, model: FittedModel) -> dict[str, NDArray[Any]]:
    blocks = []
    for block in model.blocks:
        terms = sorted(block.vocabulary, key=block.vocabulary.__getitem__)
        if [block.vocabulary[t] for t in terms] != list(range(len(terms))):
            raise ValueError("a vocabulary's columns are not 0..n-1")
        blocks.append({"analyzer": block.analyzer.params(), "offset": block.offset, "terms": terms})
    header = {
        "format": FORMAT, "key": key, "beta": model.beta, "classes": list(model.classes),
        "blocks": blocks,
    }  # fmt: skip
    return {
        "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        "coef": model.coef,
        "intercept": model.intercept,
        **{f"idf{i}": block.idf for i, block in enumerate(model.blocks)},
    }


def _model(key: str, arrays: dict[str, NDArray[Any]]) -> FittedModel:
    """The model in a stored file's arrays; ValueError when they do not make one."""
    header = json.loads(arrays["header"].tobytes())
    if header["format"] != FORMAT or header["key"] != key:
        raise ValueError("stored for other training examples or by another version")
    blocks, columns = [], 0
    for i, block in enumerate(header["blocks"]):
        terms, idf = block["terms"], arrays[f"idf{i}"]
        if block["offset"] != columns or idf.shape != (len(terms),) or idf.dtype != np.float64:
            raise ValueError(f"feature block {i} does not fit together")
        vocabulary = {term: column for column, term in enumerate(terms)}
        blocks.append(FeatureBlock(Analyzer.of(block["analyzer"]), vocabulary, idf, columns))
        columns += len(terms)
    classes = tuple(str(name) for name in header["classes"])
    coef, intercept = arrays["coef"], arrays["intercept"]
    if coef.shape != (len(classes), columns) or intercept.shape != (len(classes),):
        raise ValueError("the weights do not fit the features and classes")
    if coef.dtype != np.float64 or intercept.dtype != np.float64:
        raise ValueError("the weights are not float64")
    return FittedModel(tuple(blocks), coef, intercept, float(header["beta"]), classes)
