"""The fitted intent model on disk: a stored model predicts exactly what the fitted one does,
anything that changes the fit misses the cache, and a broken file is fitted again."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.org import load_org
from bot.understanding import OfflineUnderstanding, default_intents
from bot.understanding import model_cache as model_cache_module
from bot.understanding.analyzers import Analyzer
from bot.understanding.classifier import IntentClassifier, classifier_view
from bot.understanding.fitting import FEATURES, FITTING, FittedModel, fit
from bot.understanding.model import IntentCatalog
from bot.understanding.model_cache import ModelCache, training_key
from bot.understanding.text import clean
from bot.understanding.training import training_set

ROOT = Path(__file__).resolve().parents[1]
GLOBEX = ROOT.parent / "shared" / "scenarios" / "orgs" / "globex.yaml"
EVAL = ROOT / "tests" / "nlu_eval.jsonl"


def _messages() -> list[str]:
    lines = EVAL.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def _views() -> list[str]:
    return [classifier_view(clean(text)) for text in _messages()] + ["", "zzzz qqqq"]


class CountedFit:
    """`fit`, counting its calls; `model` (when set) is returned instead of fitting."""

    def __init__(self, model: FittedModel | None = None) -> None:
        self.calls = 0
        self.model = model

    def __call__(self, texts: list[str], labels: list[str], groups: list[int]) -> FittedModel:
        self.calls += 1
        return self.model if self.model is not None else fit(texts, labels, groups)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IntentClassifier]:
    """A cache directory holding the default intents' model, and the classifier fitted to
    store it (fitted once for the module)."""
    directory = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        counted = CountedFit()
        patch.setattr(model_cache_module, "fit", counted)
        fitted = IntentClassifier.train(default_intents(), cache=ModelCache(directory))
        assert counted.calls == 1
    return directory, fitted


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch, stored: tuple[Path, IntentClassifier]) -> CountedFit:
    """Fitting replaced by a counter that hands back the stored model (fitting is seconds)."""
    counter = CountedFit(stored[1]._model)
    monkeypatch.setattr(model_cache_module, "fit", counter)
    return counter


def _copy(stored: tuple[Path, IntentClassifier], tmp_path: Path) -> Path:
    (path,) = stored[0].glob("intents-*.npz")
    (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path / path.name


def test_the_analyzers_read_text_as_scikit_learn_does() -> None:
    texts = [classifier_view(clean(e.text)) for e in training_set(default_intents())]
    texts += [*_views(), *_messages(), "  Two  spaces\tand a\nnewline ", "a", "I'm ok!"]
    for params in FEATURES.values():
        vectoriser = TfidfVectorizer(**params)
        theirs, ours = vectoriser.build_analyzer(), Analyzer.of(vectoriser.get_params())
        assert [ours(text) for text in texts] == [theirs(text) for text in texts]
        assert Analyzer.of(ours.params()) == ours


def test_a_stored_model_predicts_exactly_what_the_fitted_one_does(
    stored: tuple[Path, IntentClassifier], counted: CountedFit
) -> None:
    directory, fitted = stored
    loaded = IntentClassifier.train(default_intents(), cache=ModelCache(directory))
    assert counted.calls == 0  # loaded, not fitted
    for view in _views():
        assert np.array_equal(loaded.decision(view), fitted.decision(view))
        assert loaded.scores(view) == fitted.scores(view)
    catalog = load_org(GLOBEX).catalog()
    one = OfflineUnderstanding(catalog, classifier=fitted)
    two = OfflineUnderstanding(catalog, classifier=loaded)
    assert [one.predict(m) for m in _messages()] == [two.predict(m) for m in _messages()]


def test_one_more_example_phrasing_misses_the_cache(
    stored: tuple[Path, IntentClassifier], counted: CountedFit, tmp_path: Path
) -> None:
    kept = _copy(stored, tmp_path)
    intents = default_intents()
    spec = intents.specs[0]
    examples = tmp_path / spec.examples.name
    extra = json.dumps({"text": "a phrasing nobody wrote before"})
    examples.write_text(spec.examples.read_text(encoding="utf-8") + extra + "\n")
    changed = IntentCatalog((dataclasses.replace(spec, examples=examples), *intents.specs[1:]))

    IntentClassifier.train(changed, cache=ModelCache(tmp_path))
    assert counted.calls == 1
    (now,) = tmp_path.glob("intents-*.npz")  # the model for the old phrasings is replaced
    assert now != kept
    IntentClassifier.train(changed, cache=ModelCache(tmp_path))
    assert counted.calls == 1  # and the new one is found next time


Alter = Callable[[list[str], list[str], list[int]], None]


def _key(alter: Alter | None = None) -> str:
    texts, labels, groups = ["reset my password", "printer jammed"], ["a", "b"], [0, 1]
    if alter is not None:
        alter(texts, labels, groups)
    return training_key(texts, labels, groups)


@pytest.mark.parametrize(
    "alter",
    [
        lambda texts, labels, groups: texts.__setitem__(0, "reset my password please"),
        lambda texts, labels, groups: labels.__setitem__(1, "c"),
        lambda texts, labels, groups: groups.__setitem__(1, 0),
        lambda texts, labels, groups: texts.append("one more"),
    ],
    ids=["text", "label", "group", "example"],
)
def test_the_key_changes_with_every_training_input(alter: Alter) -> None:
    assert _key(alter) != _key()
    assert _key() == _key()


def test_the_key_changes_with_the_recipe_and_the_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _key()
    monkeypatch.setitem(FITTING, "svm_c", 1.0)
    assert _key() != before
    monkeypatch.undo()
    monkeypatch.setitem(FEATURES["chars"], "ngram_range", (2, 5))
    assert _key() != before
    monkeypatch.undo()
    monkeypatch.setattr(model_cache_module.np, "__version__", "0.0.1")
    assert _key() != before
    monkeypatch.undo()
    monkeypatch.setattr(model_cache_module.platform, "python_version", lambda: "3.99.0")
    assert _key() != before


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"not a model at all",
        lambda data: data[: len(data) // 2],
        lambda data: b"",
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_a_corrupt_file_is_fitted_again(
    stored: tuple[Path, IntentClassifier],
    counted: CountedFit,
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
) -> None:
    path = _copy(stored, tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    cache = ModelCache(tmp_path)
    IntentClassifier.train(default_intents(), cache=cache)
    assert counted.calls == 1
    IntentClassifier.train(default_intents(), cache=cache)
    assert counted.calls == 1  # the file written in its place is whole


def test_a_file_stored_for_other_examples_is_not_used(
    stored: tuple[Path, IntentClassifier], counted: CountedFit, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path)
    other = cache.path("0" * 64)
    other.write_bytes(_copy(stored, tmp_path).read_bytes())  # right shape, wrong key
    assert cache.load("0" * 64) is None
    assert counted.calls == 0


def test_an_unwritable_cache_costs_a_fit_not_the_start(
    stored: tuple[Path, IntentClassifier], counted: CountedFit, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory should be")
    classifier = IntentClassifier.train(default_intents(), cache=ModelCache(blocked / "models"))
    assert counted.calls == 1
    assert classifier.classes == stored[1].classes


def test_saving_leaves_one_file_and_no_temporary_ones(
    stored: tuple[Path, IntentClassifier], counted: CountedFit, tmp_path: Path
) -> None:
    IntentClassifier.train(default_intents(), cache=ModelCache(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [p.name for p in stored[0].iterdir()]
