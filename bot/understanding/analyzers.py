"""What a TF-IDF vectoriser makes of a text (its word or character n-grams), as plain data.

`Analyzer` does what scikit-learn's `TfidfVectorizer.build_analyzer()` does for the
parameters the intent model uses, feature for feature and in the same order, without
importing scikit-learn (over a second at start-up). It is rebuilt from its parameters when a
stored model is loaded (`model_cache.py`), and the freshly fitted model uses it too, so both
read a message alike; `tests/test_model_cache.py` checks it against scikit-learn's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

__all__ = ["Analyzer"]

# scikit-learn's defaults for what shapes an analyzer; anything else is refused, not guessed
_PLAIN: dict[str, Any] = {
    "input": "content",
    "strip_accents": None,
    "preprocessor": None,
    "tokenizer": None,
    "stop_words": None,
}
_DEFAULT_TOKENS = r"(?u)\b\w\w+\b"
_WHITE_SPACES = re.compile(r"\s\s+")


@dataclass(frozen=True)
class Analyzer:
    """A text's features: word n-grams (`word`) or character n-grams inside words
    (`char_wb`), lowercased first when `lowercase`."""

    kind: Literal["word", "char_wb"]
    ngram_range: tuple[int, int]
    token_pattern: str = _DEFAULT_TOKENS
    lowercase: bool = True

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Analyzer:
        """The analyzer of a vectoriser with these `get_params()` (or `params()`)."""
        refused = {k: params[k] for k, plain in _PLAIN.items() if params.get(k, plain) != plain}
        kind = params.get("analyzer", "word")
        if refused or kind not in ("word", "char_wb"):
            raise ValueError(f"an analyzer this module does not reproduce: {kind} {refused}")
        low, high = params.get("ngram_range", (1, 1))
        return cls(
            kind=kind,
            ngram_range=(int(low), int(high)),
            token_pattern=str(params.get("token_pattern", _DEFAULT_TOKENS)),
            lowercase=bool(params.get("lowercase", True)),
        )

    def params(self) -> dict[str, Any]:
        """The parameters, as JSON can hold them (`of` reads them back)."""
        return {
            "analyzer": self.kind,
            "ngram_range": list(self.ngram_range),
            "token_pattern": self.token_pattern,
            "lowercase": self.lowercase,
        }

    def __call__(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.kind == "word":
            return self._word_ngrams(self._tokens.findall(text))
        return self._char_wb_ngrams(text)

    @cached_property
    def _tokens(self) -> re.Pattern[str]:
        return re.compile(self.token_pattern)

    def _word_ngrams(self, words: list[str]) -> list[str]:
        low, high = self.ngram_range
        if high == 1:
            return words
        grams = list(words) if low == 1 else []
        for n in range(max(low, 2), min(high + 1, len(words) + 1)):
            grams += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        return grams

    def _char_wb_ngrams(self, text: str) -> list[str]:
        low, high = self.ngram_range
        grams: list[str] = []
        for word in _WHITE_SPACES.sub(" ", text).split():
            padded = f" {word} "
            for n in range(low, high + 1):
                grams += [padded[i : i + n] for i in range(max(1, len(padded) - n + 1))]
                if len(padded) <= n:  # a short word is counted once, at its full length
                    break
        return grams
