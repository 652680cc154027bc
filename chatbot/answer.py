"""Answer backends. The default one quotes the documents: no generator, grounded by construction.

The extractive answerer ranks the sentences of the best passages against the question (the
sentence vectors were computed at index time), keeps the few that answer it, and quotes them
verbatim, each followed by the `[n]` of its passage. `assess_support` decides beforehand
whether the documents answer at all; its weights come from `calibration.json`, fitted on the
question set by `chatbot calibrate`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from . import texts_fr
from .chunk import SENTENCE_END, quotable
from .index import Index
from .records import Answer, AnswerRequest, Chunk, Citation, Hit, Sentence
from .textnorm import (
    BYLINE,
    LAY_TERMS,
    SMS_WORDS,
    content_terms,
    fold,
    lay_words,
    looks_english,
    with_lay_terms,
    words,
)

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")


class AnswerBackend(Protocol):
    name: str

    def answer(self, request: AnswerRequest) -> Answer: ...


@dataclass(frozen=True)
class ScoredSentence:
    hit: Hit
    sentence: Sentence
    index: int  # position of the sentence in its chunk
    score: float
    dense: float
    coverage: float


@dataclass(frozen=True)
class Support:
    """Whether the documents answer the question, with the signals behind the decision."""

    answered: bool
    probability: float
    features: dict[str, float]


@dataclass(frozen=True)
class Calibration:
    """A logistic model over standardised support features, fitted by `chatbot calibrate`."""

    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    bias: float
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path = CALIBRATION_PATH) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            weights=data["weights"],
            means=data["means"],
            scales=data["scales"],
            bias=data["bias"],
            threshold=data["threshold"],
        )

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(
            w * (features[k] - self.means[k]) / self.scales[k] for k, w in self.weights.items()
        )
        return 1.0 / (1.0 + math.exp(-z))


# A figure on its own ("34 %", "0.3", "10" of "10 mars"), not a digit inside a name ("SPI2").
# A year ("ECTRIMS 2019") is no answer to "combien".
_HAS_NUMBER = re.compile(r"(?<![\w])(?!(?:19|20)\d\d(?![\d.,]))\d+(?:[.,]\d+)?(?![\w])")
_MONTH = r"(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre)"

# The shape of the answer a question asks for, and how a sentence of that shape looks (on
# its folded text). The first question pattern that matches decides: "tous les combien"
# wants a frequency ("tous les 6 mois"), "quand" a date, "combien" a figure.
_NAMED = re.compile(
    r"(?:\b(?:Dr|Pr|Professeure?|Docteure?)\.? [A-ZÉ]"
    r"|\b(?:Ministère|Société|Agence|Haute Autorité|Fondation|Ligue|Assurance Maladie|laboratoires?)\b"
    r"|(?<=\s)[A-ZÉÈ][a-zéèêëàâîïôöûüç]+[- ][A-ZÉÈ][a-zéèêëàâîïôöûüç]+)"
)


def _folded(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.search(fold(text)) is not None


# The shape of the answer a question asks for, and how a sentence of that shape looks. The
# first question pattern that matches decides: "tous les combien" wants a frequency ("tous
# les 6 mois"), "quand" a date, "combien" a figure, "pourquoi" a cause, "c'est quoi" a
# definition, a question opening on "qui" a name.
_ANSWER_SHAPES: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (
        re.compile(r"\b(?:tous les combien|toutes les combien|combien de fois|a quel rythme|quelle frequence|a quelle frequence)\b"),
        _folded(re.compile(r"\b(?:tous les|toutes les|chaque|fois par|par (?:jour|semaine|mois|an))\b")),
    ),
    (
        re.compile(r"\b(?:quand|quelle date|quelle annee|a partir de quand|depuis quand|de quand|en quelle annee)\b"),
        _folded(re.compile(rf"\b(?:\d{{1,2}}(?:er)? {_MONTH}|{_MONTH} \d{{4}}|(?:19|20)\d\d)\b")),
    ),
    (
        re.compile(r"\b(?:combien|pourcentage|proportion|taux|quel age|a partir de quel|nombre|chiffre)\b"),
        lambda text: _HAS_NUMBER.search(text) is not None,
    ),
    (
        re.compile(r"\b(?:pourquoi|pour quelle raison|a cause de quoi|comment ca se fait)\b"),
        _folded(re.compile(r"\b(?:expliqu\w*|parce qu\w*|car|en raison|du fait|a cause|cause\w*|responsables?|lie|liee|lies|liees)\b")),
    ),
    (
        # "c'est quoi X ?": a sentence that says what X is.
        re.compile(r"\b(?:c est quoi|c quoi|ce quoi|qu est ce que c est|qu est ce que|ca veut dire quoi|definition)\b"),
        _folded(re.compile(r"\b(?:est|sont) (?:un|une|des|l|le|la|les) \w+|\b(?:designe|correspond|consiste|s appelle)\b")),
    ),
    (
        # "qui" opening the question ("qui finance…", "et qui les paye ?"), not a relative
        # pronoun ("les gens qui ont une sep").
        re.compile(r"^(?:(?:et|mais|alors|c|c est|ce sont) )?qui\b"),
        lambda text: _NAMED.search(text) is not None,
    ),
)


def _answer_shape(question: str) -> Callable[[str], bool] | None:
    asked = " ".join(SMS_WORDS.get(w, w) for w in words(question))
    return next((shape for wanted, shape in _ANSWER_SHAPES if wanted.search(asked)), None)


class SentenceRanker:
    """Scores the sentences of the retrieved passages against the question."""

    def __init__(
        self,
        index: Index,
        passages: int = 4,
        lexical_weight: float = 0.15,
        # For a sentence of the shape the question asks for: an explicit "quand" or "tous les
        # combien" says more than e5's flat similarities (fact coverage 0.663 -> 0.684 with
        # 0.12; 0.03 changed nothing).
        shape_bonus: float = 0.12,
        passage_prior: float = 0.04,  # fact coverage 0.663 -> 0.653, citation precision 0.637 -> 0.738
        repeat_penalty: float = 0.1,  # for a sentence the previous answer already gave
    ) -> None:
        self.index = index
        self.passage_prior = passage_prior
        self.passages = passages
        self.lexical_weight = lexical_weight
        self.shape_bonus = shape_bonus
        self.repeat_penalty = repeat_penalty
        # Folding and stemming a sentence costs more than scoring it: done once per sentence.
        self._term_cache: dict[str, frozenset[str]] = {}

    def _terms(self, text: str) -> frozenset[str]:
        terms = self._term_cache.get(text)
        if terms is None:
            if len(self._term_cache) > 100_000:  # bounded: a large corpus must not grow it forever
                self._term_cache.clear()
            terms = self._term_cache[text] = frozenset(content_terms(text))
        return terms

    def rank(self, request: AnswerRequest) -> list[ScoredSentence]:
        shape = _answer_shape(request.question)
        # The message's own words (with the documents' words for its lay words) count twice
        # as much as the subject carried over from the conversation: in a follow-up such as
        # "Et ses effets secondaires ?" they are what is asked.
        lexical = self.index.lexical
        said = set(lexical.query_terms(request.question))
        # An equivalent the documents never use would only dilute the coverage.
        own = said | {t for t in lexical.query_terms(with_lay_terms(request.question)) if t in lexical.terms}
        terms = list(dict.fromkeys([*own, *_query_terms(self.index, request)]))
        weights = {t: lexical.idf_of(t) * (2.0 if t in own else 1.0) for t in terms}
        total = sum(weights.values()) or 1.0
        # What the previous answer already said: a follow-up asks for something else.
        said_before = _last_answer_terms(request.history)
        seen: set[str] = set()
        scored: list[ScoredSentence] = []
        for hit in request.hits[: self.passages]:
            for i, sentence in enumerate(hit.chunk.sentences):
                if sentence.text in seen:
                    continue
                seen.add(sentence.text)
                row = self.index.sentence_ids.get(sentence.text)
                if row is None:  # only quotable sentences are indexed (index.py)
                    continue
                dense = float(self.index.sentence_vectors[row] @ request.query_vector)
                present = self._terms(sentence.text)
                coverage = sum(w for t, w in weights.items() if t in present) / total
                # A prior for the passage's rank: the best passage usually holds the answer.
                score = dense + self.lexical_weight * coverage - self.passage_prior * (hit.rank - 1)
                if shape is not None and shape(sentence.text):
                    score += self.shape_bonus
                if said_before and len(present & said_before) >= REPEATED_SHARE * len(present):
                    score -= self.repeat_penalty
                scored.append(ScoredSentence(hit, sentence, i, score, dense, coverage))
        scored.sort(key=lambda s: -s.score)
        return scored


# A sentence whose words were, for this share or more, in the previous answer repeats it.
REPEATED_SHARE = 0.7


def _last_answer_terms(history: list[dict[str, str]]) -> frozenset[str]:
    answers = [turn.get("content", "") for turn in history if turn.get("role") == "assistant"]
    return frozenset(content_terms(answers[-1])) if answers else frozenset()


def _query_terms(index: Index, request: AnswerRequest) -> list[str]:
    return list(dict.fromkeys(index.lexical.query_terms(request.search_query)))


def assess_support(
    index: Index, request: AnswerRequest, ranked: list[ScoredSentence], calibration: Calibration
) -> Support:
    """Do the documents answer? Combines several signals, as a dense score alone cannot."""
    features = support_features(index, request, ranked)
    p = calibration.probability(features)
    return Support(answered=p >= calibration.threshold, probability=p, features=features)


@lru_cache(maxsize=4096)
def _passage_terms(text: str) -> frozenset[str]:
    # The same few passages come first for many questions: stem each once.
    return frozenset(content_terms(text))


def support_features(
    index: Index, request: AnswerRequest, ranked: list[ScoredSentence]
) -> dict[str, float]:
    lexical = index.lexical
    # Unknown words are judged on the message itself (a follow-up's "et la vitamine D ?" must
    # not be hidden by the previous turn); coverage on the question completed by the history.
    weights = {t: lexical.idf_of(t) for t in _query_terms(index, request)}
    total = sum(weights.values()) or 1.0
    # An everyday word is not unknown when the documents use its equivalent: "bébé" for
    # "grossesse".
    translated = {
        t
        for lay in lay_words(request.search_query)
        if any(e in lexical.terms for e in lexical.query_terms(LAY_TERMS[lay]))
        for t in lexical.query_terms(lay)
    }
    unknown = sum(w for t, w in weights.items() if t not in lexical.terms and t not in translated) / total
    best = ranked[0] if ranked else None
    top_passage = _passage_terms(request.hits[0].chunk.text) if request.hits else frozenset()
    passage_cov = sum(w for t, w in weights.items() if t in top_passage) / total
    top = request.hits[0] if request.hits else None
    agree = 1.0 if top and top.dense_rank and top.lexical_rank and max(top.dense_rank, top.lexical_rank) <= 3 else 0.0
    # How much the best sentence stands out from the other candidates: when the documents do
    # not cover a topic, every sentence is about equally (un)related to the question.
    margin = best.dense - float(np.mean([s.dense for s in ranked])) if best else 0.0
    passage_dense = max((h.dense_score for h in request.hits if h.dense_score is not None), default=0.0)
    return {
        "passage_dense": passage_dense,
        "sentence_margin": margin,
        "sentence_dense": best.dense if best else 0.0,
        "sentence_coverage": best.coverage if best else 0.0,
        "passage_coverage": passage_cov,
        "unknown_terms": unknown,
        "rankings_agree": agree,
    }


class ExtractiveAnswerer:
    """Quotes the sentences that answer, each with its `[n]` citation."""

    name = "extractive"

    def __init__(
        self,
        ranker: SentenceRanker,
        max_sentences: int = 3,
        margin: float = 0.025,
        with_next: bool = True,
        # Fact coverage 0.714 -> 0.745 with 0.12 (0.724 with 0.06), citation precision 0.766
        # -> 0.768; answers grow from 516 to 607 characters (median).
        passage_margin: float = 0.12,
    ) -> None:
        if max_sentences <= 0:
            raise ValueError(f"max_sentences must be greater than 0. Currently, it is {max_sentences}")
        self.ranker = ranker
        self.max_sentences = max_sentences
        self.margin = margin
        # The sentence that matches a question best often sets the scene ("277 patients were
        # followed for 10 years") and the next one holds the answer ("51 % developed MS").
        self.with_next = with_next
        self.passage_margin = passage_margin
        self._positions: dict[str, int] | None = None  # chunk id -> row, made on first use

    def answer(self, request: AnswerRequest, ranked: list[ScoredSentence] | None = None) -> Answer:
        ranked = self.ranker.rank(request) if ranked is None else ranked
        chosen = self.choose(ranked)
        if not chosen:
            return Answer(text=texts_fr.REFUSAL, refused=True, retrieved=request.hits)
        return compose(chosen, request.hits)

    def choose(self, ranked: list[ScoredSentence]) -> list[ScoredSentence]:
        if not ranked:
            return []
        best = self._with_room_after(ranked[0])
        chosen = [best]
        # After a sentence that announces a list, "the next one" is the one after the list:
        # "…deux prix ont été décernés à de jeunes chercheurs :" | names | "Leurs recherches
        # portent sur…".
        listed = _announced(best)
        following = _next_sentence(listed[-1] if listed else best) if self.with_next else None
        chosen += listed
        if following is not None:
            chosen.append(following)
        taken = {s.sentence.text for s in chosen}
        for s in ranked[1:]:
            if len(chosen) >= self.max_sentences or s.score < best.score - self.margin:
                break
            if s.sentence.text not in taken:
                chosen.append(s)
                taken.add(s.sentence.text)
        # The best passage's next best sentence, within a wider margin: it costs no further
        # source, and often holds the figure the best one leads to.
        for s in ranked[1:]:
            if s.score < best.score - self.passage_margin:
                break
            if s.hit.chunk.chunk_id == best.hit.chunk.chunk_id and s.sentence.text not in taken:
                chosen.append(s)
                taken.add(s.sentence.text)
                break
        # A quote that opens on "Ce résultat…", "Ces patients…" or "Ils…" means nothing, or
        # something else, without the sentence it refers to: that sentence is quoted too. One
        # that ends on "…deux prix ont été décernés à de jeunes chercheurs :" comes with what
        # it announces.
        for k, s in enumerate(list(chosen)):
            if s.sentence.text.endswith(":"):
                s = chosen[k] = self._with_room_after(s)
            before = _previous_sentence(s) if _REFERS_BACK.match(s.sentence.text) else None
            context = ([before] if before else []) + _announced(s)
            for c in context:
                if c.sentence.text not in taken:
                    chosen.append(c)
                    taken.add(c.sentence.text)
        return chosen

    def _with_room_after(self, s: ScoredSentence) -> ScoredSentence:
        """`s`, or the same sentence in the document's next passage when `s` ends its own.

        Passages overlap, so a sentence cut off from what follows it ("…décernés à de jeunes
        chercheurs :" | "Nolwenn Jegou et Nilser Laines Medina") is whole in the next one.
        """
        if s.index + 1 < len(s.hit.chunk.sentences):
            return s
        following = self._next_chunk(s.hit.chunk)
        if following is None:
            return s
        for i, sentence in enumerate(following.sentences[:-1]):
            if sentence.text == s.sentence.text:
                return ScoredSentence(replace(s.hit, chunk=following), sentence, i, s.score, s.dense, s.coverage)
        return s

    def _next_chunk(self, chunk: Chunk) -> Chunk | None:
        chunks = self.ranker.index.chunks
        if self._positions is None:
            self._positions = {c.chunk_id: i for i, c in enumerate(chunks)}
        i = self._positions.get(chunk.chunk_id)
        if i is None or i + 1 >= len(chunks) or chunks[i + 1].doc_id != chunk.doc_id:
            return None
        return chunks[i + 1]


# Openings that refer to the sentence before.
# An impersonal "Il" ("Il a été montré", "Il existe", "Il faut") refers to nothing.
_REFERS_BACK = re.compile(
    r"^(?:Ce|Cet|Cette|Ces|Elle|Ils|Elles|Celui|Celle|Ceux|Celles|Ceci|Cela|Leurs?|En effet"
    r"|De plus|Par contre|Cependant|Toutefois|Néanmoins|Ainsi|Parmi eux|Parmi elles"
    r"|Il(?! (?:a |y a|est |existe|faut|s’agit|s'agit|semble|reste|convient|apparaît|importe|suffit)))\b"
)


def _announced(s: ScoredSentence, most: int = 4) -> list[ScoredSentence]:
    """The lines a sentence ending with a colon introduces: a list, names, a link."""
    if not s.sentence.text.endswith(":"):
        return []
    sentences = s.hit.chunk.sentences
    out: list[ScoredSentence] = []
    for i in range(s.index + 1, min(s.index + 1 + most, len(sentences))):
        text = sentences[i].text
        # What the colon announces may start a paragraph; a further paragraph is something else.
        new_paragraph = i > s.index + 1 and "\n\n" in s.hit.chunk.text[sentences[i - 1].end : sentences[i].start]
        if new_paragraph or BYLINE.match(text) or text.endswith("?") or looks_english(text):
            break
        out.append(ScoredSentence(s.hit, sentences[i], i, s.score, s.dense, 0.0))
        if text.endswith((".", "!", "…")):  # the end of the list
            break
    return out


def _next_sentence(s: ScoredSentence) -> ScoredSentence | None:
    return _neighbour(s, s.index + 1)


def _previous_sentence(s: ScoredSentence) -> ScoredSentence | None:
    return _neighbour(s, s.index - 1)


def _neighbour(s: ScoredSentence, i: int) -> ScoredSentence | None:
    sentences = s.hit.chunk.sentences
    if not 0 <= i < len(sentences) or not quotable(sentences[i].text):
        return None
    return ScoredSentence(s.hit, sentences[i], i, s.score, s.dense, 0.0)


def compose(chosen: list[ScoredSentence], hits: list[Hit]) -> Answer:
    """Lead-in, then the quoted sentences grouped by passage in reading order, with markers."""
    by_chunk: dict[str, list[ScoredSentence]] = {}
    for s in chosen:
        by_chunk.setdefault(s.hit.chunk.chunk_id, []).append(s)
    # Passages in the order of their best sentence; sentences in reading order inside each.
    citations: list[Citation] = []
    lines = [texts_fr.LEAD_IN, ""]
    for group in by_chunk.values():
        group.sort(key=lambda s: s.index)
        for run in _contiguous_runs(group):
            chunk: Chunk = run[0].hit.chunk
            n = len(citations) + 1
            quote = chunk.text[run[0].sentence.start : run[-1].sentence.end]
            citations.append(Citation(n=n, chunk=chunk, quote=quote))
            lines.append(f"{' '.join(s.sentence.text for s in run)} [{n}]")
            lines.append("")
    return Answer(text="\n".join(lines).rstrip(), citations=citations, retrieved=hits)


def _contiguous_runs(group: list[ScoredSentence]) -> list[list[ScoredSentence]]:
    """Adjacent sentences quoted together, as one span under one marker.

    A line that does not end like a sentence (a list of names, a list item) closes its span:
    "… Laines Medina (Marseille)" and "Leurs recherches portent sur…" would read as one
    sentence if joined.
    """
    runs: list[list[ScoredSentence]] = []
    for s in group:
        previous = runs[-1][-1] if runs else None
        if previous and s.index == previous.index + 1 and SENTENCE_END.search(previous.sentence.text):
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def sigmoid_fit(x: np.ndarray, y: np.ndarray, l2: float = 0.1, steps: int = 4000) -> tuple[np.ndarray, float]:
    """Logistic regression by gradient descent: the few weights `calibrate` stores."""
    w = np.zeros(x.shape[1])
    b = 0.0
    lr = 0.5
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        grad_w = x.T @ (p - y) / len(y) + l2 * w
        grad_b = float(np.mean(p - y))
        w -= lr * grad_w
        b -= lr * grad_b
    return w, b
