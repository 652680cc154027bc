"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank.

Neither alone is enough on French patients' questions (see ../shared/MODELS.md): dense
vectors find reworded questions, the lexical index finds drug names, numbers and rare words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .index import Embedder, Index
from .records import Hit

Mode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    query_vector: np.ndarray  # (dim,) embedding of the query, reused to rank sentences
    query_terms: list[str]  # lexical terms of the query after typo correction


class Retriever:
    def __init__(
        self, index: Index, embedder: Embedder, candidates: int = 40, rrf_k: int = 60
    ) -> None:
        if candidates <= 0:
            raise ValueError(f"candidates must be greater than 0. Currently, it is {candidates}")
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k

    def search(self, query: str, top_k: int = 10, mode: Mode = "hybrid") -> Retrieval:
        if top_k <= 0:
            raise ValueError(f"top_k must be greater than 0. Currently, it is {top_k}")
        vector = self.embedder.encode_query([query])[0]
        terms = self.index.lexical.query_terms(query)
        depth = max(self.candidates, top_k)
        dense = self._dense(vector, depth) if mode != "lexical" else []
        lexical = self.index.lexical.search(terms, depth) if mode != "dense" else []

        fused: dict[int, float] = {}
        dense_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        lexical_rank = {i: r for r, (i, _) in enumerate(lexical, 1)}
        for ranks in (dense_rank, lexical_rank):
            for i, r in ranks.items():
                fused[i] = fused.get(i, 0.0) + 1.0 / (self.rrf_k + r)
        order = sorted(fused, key=lambda i: (-fused[i], i))[:top_k]
        hits = [
            Hit(
                chunk=self.index.chunks[i],
                score=fused[i],
                rank=rank,
                dense_rank=dense_rank.get(i),
                lexical_rank=lexical_rank.get(i),
            )
            for rank, i in enumerate(order, 1)
        ]
        return Retrieval(hits=hits, query_vector=vector, query_terms=terms)

    def _dense(self, vector: np.ndarray, depth: int) -> list[tuple[int, float]]:
        n = self.index.faiss_index.ntotal
        if n == 0:
            return []
        scores, ids = self.index.faiss_index.search(vector[None, :].astype(np.float32), min(depth, n))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
