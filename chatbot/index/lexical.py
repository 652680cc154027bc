"""A French-aware BM25 index over the passages, with typo tolerance for patients' spelling.

Terms are Snowball stems of accent-folded words without stop words (see textnorm). Unknown
query words are corrected to the nearest corpus word within one or two edits, so that
"cortisonne", "fatigeu" or "sclerose" still meet the documents.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chatbot.text.abbreviations import find_abbreviations
from chatbot.text.lexicon import SMS_WORDS
from chatbot.text.normalize import STOP_WORDS, content_terms, fold, stem, words

BM25_K1 = 1.2
BM25_B = 0.75
# A word as written, accents kept (lower-cased text): what `with_accents` looks up.
_WRITTEN_WORD = re.compile(r"[^\W\d_]+")


@dataclass
class LexicalIndex:
    terms: dict[str, int]  # stem -> term id
    postings_ptr: np.ndarray  # CSR row pointers, one row per term id
    postings_doc: np.ndarray  # passage indices
    postings_weight: np.ndarray  # precomputed BM25 weight of the term in that passage
    idf: np.ndarray  # per term id
    vocabulary: frozenset[str]  # folded surface words of the corpus, for typo correction
    n_docs: int
    # A folded word the corpus only ever writes with accents -> how it writes it most often
    # (« poussees » -> « poussées »): the embedding model reads patients' words with them.
    accents: dict[str, str] = field(default_factory=dict)
    # The abbreviations the documents define, folded short form -> long form as written
    # (« irm » -> « imagerie par résonance magnétique »; text/abbreviations.py).
    abbreviations: dict[str, str] = field(default_factory=dict)
    _corrections: dict[str, str | None] = field(default_factory=dict, repr=False)
    _abbreviation_terms: dict[str, tuple[str, frozenset[str]]] | None = field(
        default=None, repr=False
    )
    _by_initial: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _stems_by_initial: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _sorted_terms: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Shortest words first, so that among equally close words the shorter one wins.
        for w in sorted(self.vocabulary, key=lambda w: (len(w), w)):
            self._by_initial.setdefault(w[0], []).append(w)

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
        written: dict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            for w in _WRITTEN_WORD.findall(text.lower()):
                written[fold(w)][w] += 1
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
            # Only where the corpus never writes the word without its accents: « a » and « à »,
            # « ou » and « où » are both words, and stay as typed.
            accents={k: c.most_common(1)[0][0] for k, c in written.items() if k not in c},
            abbreviations=find_abbreviations(texts),
        )

    def with_accents(self, text: str) -> str:
        """`text` with the corpus's accents on the words typed without them: « les poussees de
        la sclerose » -> « les poussées de la sclérose ». Words with a capital stay as typed."""
        return _WRITTEN_WORD.sub(lambda m: self.accents.get(m.group(0), m.group(0)), text)

    def uses(self, phrase: str) -> bool:
        """Whether the documents use every word of `phrase`, as written (no typo mended)."""
        stems = [stem(w) for w in words(phrase) if w not in STOP_WORDS]
        return bool(stems) and all(t in self.terms for t in stems)

    def equivalent_terms(self, asked: Collection[str], present: Collection[str]) -> set[str]:
        """The terms `asked` (a query's `query_terms`) that are one form of an abbreviation whose
        other form is in `present`: « irm » when a passage writes « imagerie par résonance
        magnétique », and back."""
        out: set[str] = set()
        for short_term, long_terms in self._forms().values():
            if short_term in asked and all(t in present for t in long_terms):
                out.add(short_term)
        for _, short_term, long_terms in self._spelled_out(asked):
            if short_term in present:
                out |= long_terms
        return out

    def with_equivalents(self, terms: frozenset[str]) -> frozenset[str]:
        """`terms` with the long form of each abbreviation they hold the short form of."""
        more: set[str] = set()
        for short_term, long_terms in self._forms().values():
            if short_term in terms:
                more |= long_terms
        return terms | more if more else terms

    def _forms(self) -> dict[str, tuple[str, frozenset[str]]]:
        """Folded short form -> its term and its long form's terms, made on first use.

        Not the abbreviation of what the documents are about (« SEP » in more than half the
        passages): a word that common tells passages apart no better than a stop word (its
        Robertson–Spärck Jones weight, log((N - df + 0.5) / (df + 0.5)), is no longer
        positive), and writing it out would only add its words to every question."""
        if self._abbreviation_terms is None:
            self._abbreviation_terms = {
                short: (stem(short), frozenset(content_terms(long)))
                for short, long in self.abbreviations.items()
                if 2 * self._document_frequency(stem(short)) < self.n_docs
            }
        return self._abbreviation_terms

    def _document_frequency(self, term: str) -> int:
        k = self.terms.get(term)
        return 0 if k is None else int(self.postings_ptr[k + 1] - self.postings_ptr[k])

    def _spelled_out(self, terms: Collection[str]) -> list[tuple[str, str, frozenset[str]]]:
        """The abbreviations whose long form's terms are all among `terms`."""
        return [
            (short, short_term, long_terms)
            for short, (short_term, long_terms) in self._forms().items()
            if long_terms and all(t in terms for t in long_terms)
        ]

    def query_terms(self, text: str) -> list[str]:
        """Stems of the query's content words, typos and SMS spellings mended where possible."""
        out = []
        for raw in words(text):
            w = SMS_WORDS.get(raw, raw)
            if w in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
                continue
            term = self.known_term(w)
            if term is not None:
                out.append(term)
        return out

    def known_term(self, word: str) -> str | None:
        """The indexed stem for `word`, trying the usual ways patients misspell it.

        Returns the word's own stem when nothing matches: an unknown term, which the refusal
        decision counts as evidence that the documents do not cover the topic. Returns None
        when the mended word is a stop word ("lavoir" -> "l'avoir").
        """
        term = stem(word)
        if term in self.terms or word[:1].isdigit():
            return term
        candidates = []
        # An apostrophe left out: "lespace", "jarrete", "lirm".
        if len(word) > 3 and word[0] in "cdjlmnst" and word[1] in "aeiouyh":
            candidates.append(word[1:])
        if word.startswith("qu") and len(word) > 4:
            candidates.append(word[2:])
        # Phonetic SMS endings: "genetik" -> "genetique".
        if word.endswith("ik"):
            candidates.append(word[:-2] + "ique")
        candidates.append(word)
        for candidate in candidates:
            if candidate in STOP_WORDS:
                return None
            if stem(candidate) in self.terms:
                return stem(candidate)
        # A dropped apostrophe counts only when it gives a word of the documents as it is: with
        # a typo mended on top, "soutenu" would become "s'outenu", then "obtenu".
        fixed = self.correct(word)
        if fixed is not None:
            return stem(fixed)
        # Abbreviations: "kine" -> "kinesitherapie", "perfu" -> "perfusion", in the plural too
        # ("perfs" -> "perfusions").
        plural = word.endswith("s") and len(word) >= 5
        for short in (word, word[:-1]) if plural else (word,):
            if len(short) >= 4:
                longer = next(
                    (w for w in self._by_initial.get(short[0], []) if w.startswith(short)), None
                )
                if longer is not None:
                    return stem(longer)
        # Misspelt endings that the stemmer keeps: "fatig" -> stem "fatigu", "vacin" -> "vaccin".
        fixed_stem = self._correct_stem(term)
        if fixed_stem:
            return fixed_stem
        return self._same_family(term) or term

    def _same_family(self, term: str, shared: int = 7) -> str | None:
        """A known stem of the same word family: "temoignag" (témoignages) -> "temoignent".

        Both must share their first seven letters, so that "transport" is no "transplant".
        """
        if len(term) < shared:
            return None
        if self._sorted_terms is None:
            self._sorted_terms = sorted(self.terms)
        prefix = term[:shared]
        start = bisect.bisect_left(self._sorted_terms, prefix)
        family = []
        for known in self._sorted_terms[start:]:
            if not known.startswith(prefix):
                break
            family.append(known)
        # The closest relative: the longest common beginning, then the shortest stem.
        return max(
            family, key=lambda k: (len(os.path.commonprefix([k, term])), -len(k)), default=None
        )

    def _correct_stem(self, term: str) -> str | None:
        if len(term) < 5:
            return None
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        if not self._stems_by_initial:
            for t in sorted(self.terms, key=lambda t: (len(t), t)):
                self._stems_by_initial.setdefault(t[0], []).append(t)
        match = process.extractOne(
            term, self._stems_by_initial.get(term[0], []), scorer=OSA.distance, score_cutoff=1
        )
        return match[0] if match else None

    def correct(self, word: str) -> str | None:
        """The corpus word closest to an unknown `word` (1 edit, or 2 for long words)."""
        if len(word) < 5:
            return None
        if word not in self._corrections:
            from rapidfuzz import process
            from rapidfuzz.distance import OSA

            budget = 1 if len(word) < 8 else 2
            # Typos rarely hit the first letter, and a two-edit match across first letters
            # turns one drug into another ("rituximab" -> "cetuximab").
            same_start = self._by_initial.get(word[0], [])
            match = process.extractOne(word, same_start, scorer=OSA.distance, score_cutoff=budget)
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
            "accent_words": np.asarray(list(self.accents), dtype=object),
            "accent_forms": np.asarray(list(self.accents.values()), dtype=object),
            "short_forms": np.asarray(list(self.abbreviations), dtype=object),
            "long_forms": np.asarray(list(self.abbreviations.values()), dtype=object),
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
            accents=dict(
                zip(map(str, arrays["accent_words"]), map(str, arrays["accent_forms"]), strict=True)
            ),
            abbreviations=dict(
                zip(map(str, arrays["short_forms"]), map(str, arrays["long_forms"]), strict=True)
            ),
        )
