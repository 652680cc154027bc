"""The learned half of the risk detector: a linear model over the message's e5 vector, its
character n-grams and its word n-grams, read from profile/safety/detector.json (fitted by
chatbot/safety/fit.py).

Pure numpy at run time: the n-grams are cut here exactly as scikit-learn's `char_wb` and `word`
analysers cut them for the fit (tests/test_safety.py compares them), without importing
scikit-learn (100 MB of memory in every serving process).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.text.normalize import fold

__all__ = ["LinearDetector", "Ngrams", "char_wb_ngrams", "word_ngrams"]


@dataclass(frozen=True)
class Ngrams:
    """TF-IDF of n-grams on folded text: of characters within words (sklearn's `char_wb`:
    spelling-level evidence the sentence vector smooths away, « 39 de fievre », « perf »), or of
    words (sklearn's `word`: what is said in so many words, « me supprimer », « pour partir »).
    """

    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]
    analyzer: str = "char_wb"

    def cut(self, text: str) -> list[str]:
        if self.analyzer == "word":
            return word_ngrams(text, self.ngram_range)
        return char_wb_ngrams(text, self.ngram_range)

    def transform(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for gram in self.cut(text):
                k = self.vocabulary.get(gram)
                if k is not None:
                    counts[k] = counts.get(k, 0) + 1
            if counts:
                cols = np.fromiter(counts, dtype=np.int64)
                values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32))) * self.idf[
                    cols
                ]
                out[row, cols] = values / np.linalg.norm(values)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], analyzer: str) -> Ngrams:
        return cls(
            vocabulary={g: k for k, g in enumerate(data["vocabulary"])},
            idf=np.asarray(data["idf"], dtype=np.float32),
            ngram_range=(int(data["ngram_range"][0]), int(data["ngram_range"][1])),
            analyzer=analyzer,
        )


_WHITE_SPACES = re.compile(r"\s\s+")


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """The character n-grams of `text` within its words, each word padded with a space: what
    `TfidfVectorizer(analyzer="char_wb", preprocessor=fold)` yields, n-gram for n-gram."""
    low, high = ngram_range
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", fold(text)).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            grams.extend(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
            if len(padded) <= n:  # a word shorter than n counts once, as itself
                break
    return grams


_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default `token_pattern`


def word_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """The word n-grams of `text`: what `TfidfVectorizer(analyzer="word", preprocessor=fold)`
    yields, n-gram for n-gram (words of two characters or more, one-word n-grams first)."""
    tokens = _WORD.findall(fold(text))
    low, high = ngram_range
    grams: list[str] = []
    for n in range(low, min(high, len(tokens)) + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


@dataclass(frozen=True)
class LinearDetector:
    """Logistic regression (one binary model per category, or multinomial) over [e5 query vector,
    character n-grams, word n-grams].

    Fitted by `chatbot safety fit` (chatbot/safety/fit.py); read from profile/safety/detector.json.
    """

    classes: tuple[str, ...]  # the risk categories ("none" too with a softmax)
    coef: np.ndarray  # (classes, dim + n-grams)
    intercept: np.ndarray  # (classes,)
    ngrams: Ngrams | None  # of characters
    notice: dict[str, float]  # probability from which a category is flagged at all
    certain: dict[str, float]  # probability from which its fixed message answers
    weights_sha256: str  # the embedding model it was fitted on
    manifest: dict[str, Any]
    # "sigmoid": one binary model per category, judged alone; "softmax": categories compete
    link: str = "softmax"
    # lower thresholds, from which a risk is possible and its notice shown under the answer
    # or the refusal (empty: the `notice` thresholds)
    refusal_notice: dict[str, float] = field(default_factory=dict)
    words: Ngrams | None = None  # word n-grams (absent from detectors fitted before them)
    # For a message that ends the conversation (the closing model's reading), the fixed message
    # answers from these (empty: the `certain` thresholds); thresholds.py says why.
    certain_closing: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> LinearDetector:
        data = json.loads(path.read_text(encoding="utf-8"))
        grams, words = data.get("ngrams"), data.get("words")
        return cls(
            classes=tuple(data["classes"]),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            ngrams=Ngrams.from_json(grams, "char_wb") if grams else None,
            notice=dict(data["thresholds"]["notice"]),
            certain=dict(data["thresholds"]["certain"]),
            weights_sha256=data["manifest"]["weights_sha256"],
            manifest=data["manifest"],
            link=data.get("link", "softmax"),
            refusal_notice=dict(data["thresholds"].get("refusal_notice", {})),
            words=Ngrams.from_json(words, "word") if words else None,
            certain_closing=dict(data["thresholds"].get("certain_closing", {})),
        )

    def possible_from(self, category: str) -> float:
        """The probability from which a message shows this category's notice."""
        return self.refusal_notice.get(category, self.notice[category])

    def features(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        parts = [np.asarray(vectors, dtype=np.float32)]
        parts += [
            grams.transform(texts) for grams in (self.ngrams, self.words) if grams is not None
        ]
        return np.hstack(parts)

    def probabilities(
        self, texts: list[str], vectors: np.ndarray
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Per category: the whole message's probability, and the highest over its sentences.

        Only the whole message may be `certain`: one sentence of a long message, read alone,
        says less than the message. Any sentence may raise a notice.
        """
        logits = self.features(texts, vectors) @ self.coef.T + self.intercept
        if self.link == "sigmoid":
            p = 1.0 / (1.0 + np.exp(-logits))
        else:
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
        best = p.max(axis=0)
        whole = {c: float(p[0, k]) for k, c in enumerate(self.classes) if c != "none"}
        return whole, {c: float(best[k]) for k, c in enumerate(self.classes) if c != "none"}
