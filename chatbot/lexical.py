"""A French-aware BM25 index over the passages, with typo tolerance for patients' spelling.

Terms are Snowball stems of accent-folded words without stop words (see textnorm). Unknown
query words are corrected to the nearest corpus word within one or two edits, so that
"ocrelizumabe", "fatigeu" or "sclerose" still meet the documents.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .textnorm import STOP_WORDS, stem, words

BM25_K1 = 1.2
BM25_B = 0.75


@dataclass
class LexicalIndex:
    terms: dict[str, int]  # stem -> term id
    postings_ptr: np.ndarray  # CSR row pointers, one row per term id
    postings_doc: np.ndarray  # passage indices
    postings_weight: np.ndarray  # precomputed BM25 weight of the term in that passage
    idf: np.ndarray  # per term id
    vocabulary: frozenset[str]  # folded surface words of the corpus, for typo correction
    n_docs: int
    _corrections: dict[str, str | None] = field(default_factory=dict, repr=False)
    _sorted_vocabulary: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        # Shortest words first, so that among equally close words the shorter one wins.
        self._sorted_vocabulary = sorted(self.vocabulary, key=lambda w: (len(w), w))

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        rows: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(len(texts), dtype=np.float32)
        vocabulary: set[str] = set()
        for i, text in enumerate(texts):
            tokens = words(text)
            vocabulary.update(t for t in tokens if not t[:1].isdigit())
            counts = Counter(stem(t) for t in tokens if t not in STOP_WORDS)
            lengths[i] = sum(counts.values())
            for term, tf in counts.items():
                rows[term].append((i, tf))
        n = len(texts)
        avg = float(lengths.mean()) if n else 1.0
        terms = {t: k for k, t in enumerate(sorted(rows))}
        ptr = np.zeros(len(terms) + 1, dtype=np.int64)
        docs, weights, idf = [], [], np.zeros(len(terms), dtype=np.float32)
        for term, k in terms.items():
            entries = rows[term]
            df = len(entries)
            idf[k] = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for doc, tf in entries:
                norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * lengths[doc] / avg)
                docs.append(doc)
                weights.append(tf * (BM25_K1 + 1) / norm)
            ptr[k + 1] = ptr[k] + df
        return cls(
            terms=terms,
            postings_ptr=ptr,
            postings_doc=np.asarray(docs, dtype=np.int32),
            postings_weight=np.asarray(weights, dtype=np.float32),
            idf=idf,
            vocabulary=frozenset(vocabulary),
            n_docs=n,
        )

    def query_terms(self, text: str) -> list[str]:
        """Stems of the query's content words, typos corrected against the corpus vocabulary."""
        out = []
        for w in words(text):
            if w in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
                continue
            term = stem(w)
            if term not in self.terms and not w[:1].isdigit():
                fixed = self.correct(w)
                if fixed is not None:
                    term = stem(fixed)
            out.append(term)
        return out

    def correct(self, word: str) -> str | None:
        """The corpus word closest to an unknown `word` (1 edit, or 2 for long words)."""
        if len(word) < 5:
            return None
        if word not in self._corrections:
            from rapidfuzz import process
            from rapidfuzz.distance import OSA

            budget = 1 if len(word) < 8 else 2
            match = process.extractOne(
                word, self._sorted_vocabulary, scorer=OSA.distance, score_cutoff=budget
            )
            self._corrections[word] = match[0] if match else None
        return self._corrections[word]

    def idf_of(self, term: str) -> float:
        k = self.terms.get(term)
        return float(self.idf[k]) if k is not None else float(np.log(1.0 + self.n_docs + 0.5))

    def search(self, terms: Iterable[str], top_k: int) -> list[tuple[int, float]]:
        """Passage indices and BM25 scores, best first."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for term in set(terms):
            k = self.terms.get(term)
            if k is None:
                continue
            lo, hi = self.postings_ptr[k], self.postings_ptr[k + 1]
            scores[self.postings_doc[lo:hi]] += self.idf[k] * self.postings_weight[lo:hi]
        nonzero = np.flatnonzero(scores)
        if nonzero.size == 0:
            return []
        top = nonzero[np.argsort(-scores[nonzero], kind="stable")[:top_k]]
        return [(int(i), float(scores[i])) for i in top]

    # --- persistence: plain arrays, so loading is a few numpy reads -------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "terms": np.asarray(sorted(self.terms, key=self.terms.__getitem__), dtype=object),
            "postings_ptr": self.postings_ptr,
            "postings_doc": self.postings_doc,
            "postings_weight": self.postings_weight,
            "idf": self.idf,
            "vocabulary": np.asarray(sorted(self.vocabulary), dtype=object),
            "n_docs": np.asarray(self.n_docs),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LexicalIndex:
        return cls(
            terms={str(t): k for k, t in enumerate(arrays["terms"])},
            postings_ptr=arrays["postings_ptr"],
            postings_doc=arrays["postings_doc"],
            postings_weight=arrays["postings_weight"],
            idf=arrays["idf"],
            vocabulary=frozenset(str(w) for w in arrays["vocabulary"]),
            n_docs=int(arrays["n_docs"]),
        )
