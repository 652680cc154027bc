"""The sentence ranker: which sentences of the retrieved passages answer the question.

Each candidate sentence (of the best passages) is described by a few features — its vector's
similarity to the question, the share of the question's words it holds, its passage's rank,
whether it holds the type of value the question asks for (types.py) — and scored by a
logistic model fitted on PIAF's training questions, where the sentence that holds the answer
span is the positive and the other retrieved sentences the negatives (`chatbot fit ranker`,
evaluation/fit_ranker.py). Its weights are data: profile/ranker.json, with what they were fitted on.
The score is the model's log-odds that the sentence holds the answer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.answer.types import load_answer_types
from chatbot.config import PROFILE_DIR
from chatbot.index.store import Index
from chatbot.records import AnswerRequest, Hit, Sentence
from chatbot.text.lexicon import with_documents_words
from chatbot.text.normalize import content_terms

log = logging.getLogger(__name__)

FEATURES = (
    "dense",  # cosine of the sentence and the question
    "dense_gap",  # how far below the best candidate's cosine
    "coverage",  # idf-weighted share of the question's words in the sentence
    "coverage_gap",  # how far below the best candidate's coverage
    "passage_rank",  # rank of the sentence's passage, from 0
    "type_match",  # the question asks a type of value and the sentence holds one
    "type_missing",  # the question asks a type of value and the sentence holds none
)


@dataclass(frozen=True)
class ScoredSentence:
    hit: Hit
    sentence: Sentence
    index: int  # position of the sentence in its chunk
    score: float  # log-odds that the sentence holds the answer, in this conversation
    dense: float
    coverage: float
    type_match: bool = False
    # The same before the conversation's repeat penalty: whether the documents answer at all
    # does not depend on what was said before (support.py).
    answer_score: float | None = None


@dataclass(frozen=True)
class RankerWeights:
    weights: dict[str, float]
    bias: float
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: Path = PROFILE_DIR / "ranker.json") -> RankerWeights:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            weights=dict(data["weights"]), bias=float(data["bias"]), manifest=dict(data["manifest"])
        )

    def score(self, features: dict[str, float]) -> float:
        return self.bias + sum(w * features[k] for k, w in self.weights.items())


# A sentence whose words were, for this share or more, in the previous answer repeats it.
REPEATED_SHARE = 0.7


class SentenceRanker:
    """Scores the sentences of the retrieved passages against the question."""

    def __init__(
        self,
        index: Index,
        weights: RankerWeights,
        passages: int,
        repeat_penalty: float,
    ) -> None:
        self.index = index
        self.weights = weights
        self.passages = passages
        # In a conversation, a sentence the previous answer gave is no answer to the next
        # question. PIAF has no conversations to learn this from: a fixed penalty in log-odds.
        self.repeat_penalty = repeat_penalty
        self.types = load_answer_types()
        # Folding and stemming a sentence costs more than scoring it: done once per sentence.
        self._term_cache: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def _terms(self, text: str) -> tuple[frozenset[str], frozenset[str]]:
        """The sentence's terms as written, and with the long form of each abbreviation the
        documents define that it writes short: a sentence counting « CHU » holds what
        « combien de centres hospitaliers universitaires ? » asks. Not the other way: a
        sentence that writes a long form out is found by its words already, and a long form
        may be in English, as the title of a reference is."""
        terms = self._term_cache.get(text)
        if terms is None:
            if len(self._term_cache) > 100_000:  # bounded: a large corpus must not grow it forever
                self._term_cache.clear()
            written = frozenset(content_terms(text))
            terms = self._term_cache[text] = (
                written,
                self.index.lexical.with_equivalents(written),
            )
        return terms

    def candidates(
        self, request: AnswerRequest
    ) -> list[tuple[Hit, int, Sentence, dict[str, float]]]:
        """Every quotable sentence of the best passages, with its features."""
        asked = self.types.asked(request.question)
        weights = question_weights(self.index, request)
        total = sum(weights.values()) or 1.0
        seen: set[str] = set()
        rows: list[tuple[Hit, int, Sentence, dict[str, float]]] = []
        for hit in request.hits[: self.passages]:
            for i, sentence in enumerate(hit.chunk.sentences):
                if sentence.text in seen:
                    continue
                seen.add(sentence.text)
                row = self.index.sentence_ids.get(sentence.text)
                if row is None:  # only quotable sentences are indexed (index/store.py)
                    continue
                present = self._terms(sentence.text)[1]
                holds = asked is not None and self.types.holds_type(asked, sentence.text)
                rows.append(
                    (
                        hit,
                        i,
                        sentence,
                        {
                            "dense": float(self.index.sentence_vectors[row] @ request.query_vector),
                            "coverage": sum(w for t, w in weights.items() if t in present) / total,
                            "passage_rank": float(hit.rank - 1),
                            "type_match": float(holds),
                            "type_missing": float(asked is not None and not holds),
                        },
                    )
                )
        if rows:
            best_dense = max(f["dense"] for *_, f in rows)
            best_coverage = max(f["coverage"] for *_, f in rows)
            for *_, f in rows:
                f["dense_gap"] = best_dense - f["dense"]
                f["coverage_gap"] = best_coverage - f["coverage"]
        return rows

    def rank(self, request: AnswerRequest) -> list[ScoredSentence]:
        said_before = _last_answer_terms(request.history)
        scored = []
        for hit, i, sentence, f in self.candidates(request):
            score = answer_score = self.weights.score(f)
            if said_before:
                present = self._terms(sentence.text)[0]
                if len(present & said_before) >= REPEATED_SHARE * len(present):
                    score -= self.repeat_penalty
            scored.append(
                ScoredSentence(
                    hit,
                    sentence,
                    i,
                    score,
                    f["dense"],
                    f["coverage"],
                    bool(f["type_match"]),
                    answer_score,
                )
            )
        scored.sort(key=lambda s: -s.score)
        return scored


def question_weights(index: Index, request: AnswerRequest) -> dict[str, float]:
    """The question's terms, weighted by rarity; the message's own words count twice.

    In a follow-up (« Et ça se prend comment ? ») the words carried over from the
    conversation say what it is about, the message's own words what is asked. The documents'
    words for the message's lay words, and the substance of a brand it names, count as its own
    when the documents use them.
    """
    lexical = index.lexical
    said = set(lexical.query_terms(request.question))
    own = said | {
        t
        for t in lexical.query_terms(with_documents_words(request.question, lexical.uses))
        if t in lexical.terms
    }
    terms = list(dict.fromkeys([*own, *lexical.query_terms(request.search_query)]))
    return {t: lexical.idf_of(t) * (2.0 if t in own else 1.0) for t in terms}


def _last_answer_terms(history: list[dict[str, str]]) -> frozenset[str]:
    answers = [turn.get("content", "") for turn in history if turn.get("role") == "assistant"]
    return frozenset(content_terms(answers[-1])) if answers else frozenset()


def feature_matrix(rows: list[dict[str, float]]) -> np.ndarray:
    return np.array([[f[k] for k in FEATURES] for f in rows], dtype=np.float64)
