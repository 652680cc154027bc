"""Hybrid retrieval: three rankings of the passages fused by (weighted) reciprocal rank.

- dense: the passage's vector against the question's (FAISS);
- lexical: BM25 on accent-folded stems, typos mended (lexical.py);
- sentence: the passage's best sentence against the question (sentence vectors, FAISS) —
  a passage that holds one sentence answering the question ranks well even if the rest of
  it is about something else. Only sentences an answer could quote are indexed (index/store.py):
  a heading or the English title of a reference answers nothing.
Neither dense nor lexical alone is enough on French patients' questions (../shared/MODELS.md).
The weights and the RRF constant were chosen on the development questions (README, numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from chatbot.index.embed import Embedder
from chatbot.index.store import Index
from chatbot.records import Hit
from chatbot.text.normalize import content_terms, fold, words

Mode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    query_vector: np.ndarray  # (dim,) embedding of the query, reused to rank sentences
    query_terms: list[str]  # lexical terms of the query after typo correction


class Retriever:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        candidates: int,
        rrf_k: int,
        weights: tuple[float, float, float],  # dense, lexical, sentence
        subject_weight: float,
    ) -> None:
        if candidates <= 0:
            raise ValueError(f"candidates must be greater than 0. Currently, it is {candidates}")
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.weights = weights
        self.subject_weight = subject_weight
        self._brands: dict[str, str] | None = None  # read from the documents on first use

    def search(
        self,
        query: str,
        top_k: int = 10,
        mode: Mode = "hybrid",
        subject: str = "",
        vector: np.ndarray | None = None,
        documents: frozenset[str] = frozenset(),
    ) -> Retrieval:
        """The `top_k` best passages for `query`.

        `subject` is what a follow-up question is about, carried over from the conversation
        (a drug's name for « Et ça se prend comment ? »): passages of the documents whose
        title names it form one more ranking, so that an article *about* the subject comes
        before one that only compares something else with it. `documents` are those the
        previous answer quoted: « et elle est sortie quand, cette étude ? » is about one of them,
        and their passages form one more ranking, of the same weight. `vector` is the query's
        embedding when the caller computed it already (with others, in one forward pass).
        """
        if top_k <= 0:
            raise ValueError(f"top_k must be greater than 0. Currently, it is {top_k}")
        if vector is None:
            vector = self.embedder.encode_query([query])[0]
        terms = self.index.lexical.query_terms(query)
        depth = max(self.candidates, top_k)
        dense = self._dense(vector, depth) if mode != "lexical" else []
        sentence = self._by_sentence(vector, depth) if mode != "lexical" else []
        lexical = self.index.lexical.search(terms, depth) if mode != "dense" else []

        dense_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        dense_score = dict(dense)
        lexical_rank = {i: r for r, (i, _) in enumerate(lexical, 1)}
        sentence_rank = {i: r for r, (i, _) in enumerate(sentence, 1)}
        rankings = [
            (dense_rank, self.weights[0]),
            (lexical_rank, self.weights[1]),
            (sentence_rank, self.weights[2]),
        ]
        if subject and mode == "hybrid":
            rankings.append(
                (
                    self._by_title(
                        subject,
                        set(dense_rank) | set(lexical_rank) | set(sentence_rank),
                    ),
                    self.subject_weight,
                )
            )
        if documents and mode == "hybrid":
            pool = set(dense_rank) | set(lexical_rank) | set(sentence_rank)
            quoted = {i: 1 for i in pool if self.index.chunks[i].doc_id in documents}
            rankings.append((quoted, self.subject_weight))
        fused = self._fuse(rankings)
        order = sorted(fused, key=lambda i: (-fused[i], i))[:top_k]
        hits = [
            Hit(
                chunk=self.index.chunks[i],
                score=fused[i],
                rank=rank,
                dense_rank=dense_rank.get(i),
                lexical_rank=lexical_rank.get(i),
                dense_score=dense_score.get(i),
            )
            for rank, i in enumerate(order, 1)
        ]
        return Retrieval(hits=hits, query_vector=vector, query_terms=terms)

    def _fuse(self, rankings: list[tuple[dict[int, int], float]]) -> dict[int, float]:
        """Weighted reciprocal rank fusion: each ranking adds weight / (rrf_k + rank)."""
        fused: dict[int, float] = {}
        for ranks, weight in rankings:
            for i, r in ranks.items():
                fused[i] = fused.get(i, 0.0) + weight / (self.rrf_k + r)
        return fused

    def _by_title(self, subject: str, candidates: set[int]) -> dict[int, int]:
        """Rank of each candidate passage by the share of the subject's words in its title.

        Passages of one document share their title, hence their rank (ties rank alike).
        """
        lexical = self.index.lexical
        # A brand names its molecule: the brand is the subject of the article titled with it.
        aliases = self._aliases()
        subject += " " + " ".join(aliases[w] for w in words(subject) if w in aliases)
        weights = {t: lexical.idf_of(t) for t in lexical.query_terms(subject) if t in lexical.terms}
        total = sum(weights.values())
        if not total:
            return {}
        share = {}
        for i in candidates:
            named = _title_terms(self.index.chunks[i].title)
            value = sum(w for t, w in weights.items() if t in named) / total
            if value > 0:
                share[i] = value
        values = sorted(share.values(), reverse=True)
        return {i: 1 + values.index(v) for i, v in share.items()}

    def _aliases(self) -> dict[str, str]:
        """Brand -> molecule, as documents write them: « la molécule (ou Marque®) »."""
        if self._brands is None:
            self._brands = {}
            for chunk in self.index.chunks:
                if "®" not in chunk.text:  # a substring test is cheap even on 100,000 passages
                    continue
                for molecule, brand in _BRAND.findall(chunk.text):
                    self._brands[fold(brand)] = fold(molecule)
        return self._brands

    def _by_sentence(self, vector: np.ndarray, depth: int) -> list[tuple[int, float]]:
        """Passages ranked by their best sentence's similarity to the question."""
        n = self.index.sentence_index.ntotal
        if n == 0:
            return []
        # Several sentences per passage: look deeper so that `depth` passages come out.
        scores, rows = self.index.sentence_index.search(
            vector[None, :].astype(np.float32), min(depth * 4, n)
        )
        best: dict[int, float] = {}
        for row, score in zip(rows[0], scores[0], strict=True):
            if row < 0:
                continue
            for chunk in self.index.sentence_chunks[row]:
                best.setdefault(chunk, float(score))
        return sorted(best.items(), key=lambda kv: -kv[1])[:depth]

    def _dense(self, vector: np.ndarray, depth: int) -> list[tuple[int, float]]:
        n = self.index.faiss_index.ntotal
        if n == 0:
            return []
        scores, ids = self.index.faiss_index.search(
            vector[None, :].astype(np.float32), min(depth, n)
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


_BRAND = re.compile(r"\b(\w{4,})\s*\((?:ou\s+)?(\w{3,})®\)")


@lru_cache(maxsize=4096)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(content_terms(title))
