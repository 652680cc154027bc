"""Check a generated answer, sentence by sentence, against the passages it cites.

A sentence is kept only if it carries `[n]` markers, cites passages that were given, and
*every* passage it cites supports it on its own: every number and drug-like name of the
sentence appears in that passage, the sentence does not flip a negation of the passage, at
least 80 % of its content words are found there (stemmed, accents ignored), and it passes the
"grounded sentences" test of ../shared/EVAL_FORMAT.md, computed by the very function the
evaluation uses (`evaluate.sentence_grounded`), so a kept sentence always scores as grounded.

This is a lexical check, not entailment: a sentence made of the passage's own words that
changes its meaning without a negation (swapped subject and object, "plus" for "moins",
a condition dropped) can still pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from chatbot.evaluation.metrics import sentence_grounded
from chatbot.records import Chunk
from chatbot.text.markers import answer_sentences, marker_numbers, strip_markers
from chatbot.text.normalize import STOP_WORDS, fold, fold_words, stem, words
from chatbot.text.tables import read_table

# Why a sentence was removed: stable codes, in the order the checks run.
NO_MARKER = "no_marker"  # no [n] at all: nothing to verify it against
UNKNOWN_PASSAGE = "unknown_passage"  # cites a number that was not given to the model
NUMBER = "number"  # a number of the sentence is not in a cited passage
NAME = "name"  # a drug-like or proper name is not in a cited passage
CONTRADICTION = "contradiction"  # affirmative where the passage is negated, or the reverse
UNSUPPORTED = "unsupported"  # under 80 % of its content words are in a cited passage
NOT_GROUNDED = "not_grounded"  # fails EVAL_FORMAT.md's grounded-sentence test

_WORD = re.compile(r"[^\W\d_]+")
# Digits with an optional decimal part; "1 000" (space, no-break or thin space) is one number.
_NUMBER = re.compile(
    r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?(?!\d)|(?<!\d)\d+(?:[.,]\d+)?"
)
_REGISTERED = re.compile(r"([^\W\d_][\w-]*)\s*[®™]")
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]«»\"“”]|\s[-–—]\s|\bmais\b", re.IGNORECASE)
# Negations and drug-name endings: profile/lang/verification.tsv, with their sources.
_TABLE = read_table("verification")
_NEGATION = re.compile("|".join(f"(?:{r['value']})" for r in _TABLE if r["kind"] == "negation"))
_DRUG_ENDINGS = tuple(r["value"] for r in _TABLE if r["kind"] == "drug_ending")


@dataclass(frozen=True)
class Quote:
    """The span of a cited passage that best supports a kept sentence."""

    n: int  # the passage number the model was given
    start: int  # character offsets in the passage's chunk text
    end: int
    text: str  # == chunk.text[start:end]


@dataclass(frozen=True)
class CheckedSentence:
    """One sentence of the generated answer and the verifier's decision on it."""

    text: str  # as the model wrote it, markers included
    claim: str  # the same without its markers
    cited: tuple[int, ...]  # passage numbers it cites, first occurrence order
    reason: str | None  # None when kept, else one of the codes above
    detail: str = ""  # what exactly failed, for the notes and the logs
    quotes: tuple[Quote, ...] = ()  # kept sentences only: one per cited passage

    @property
    def kept(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Verification:
    """The decisions on every sentence of one generated answer, in answer order."""

    sentences: tuple[CheckedSentence, ...]

    @property
    def kept(self) -> list[CheckedSentence]:
        return [s for s in self.sentences if s.kept]

    @property
    def removed(self) -> list[CheckedSentence]:
        return [s for s in self.sentences if not s.kept]


def verify_answer(text: str, passages: Mapping[int, Chunk]) -> Verification:
    """Decide, for each sentence of `text`, whether the passages it cites support it.

    Args:
        text: the generated answer, sentences ending with `[n]` markers.
        passages: the passages given to the model, by the number it saw them under.
    Returns:
        A `Verification`: every sentence with its decision, reason and supporting quotes.
    """
    views = {n: _Passage(chunk) for n, chunk in passages.items()}
    return Verification(tuple(_check(s, views) for s in answer_sentences(text)))


def _check(sentence: str, passages: Mapping[int, _Passage]) -> CheckedSentence:
    cited, claim = marker_numbers(sentence), strip_markers(sentence)

    def removed(reason: str, detail: str) -> CheckedSentence:
        return CheckedSentence(sentence, claim, cited, reason, detail)

    if not cited:
        return removed(NO_MARKER, "no [n] marker")
    unknown = [n for n in cited if n not in passages]
    if unknown:
        given = ", ".join(f"[{n}]" for n in sorted(passages)) or "none"
        return removed(UNKNOWN_PASSAGE, f"cites {unknown} but the passages given were {given}")
    stems = _content_stems(claim)
    for n in cited:
        passage = passages[n]
        missing = [x for x in _numbers(claim) if x not in passage.numbers]
        if missing:
            return removed(NUMBER, f"{', '.join(missing)} not in passage [{n}]")
        missing = [x for x in _names(claim) if not set(_letter_words(x)) <= passage.name_words]
        if missing:
            return removed(NAME, f"{', '.join(missing)} not in passage [{n}]")
        clash = _contradiction(claim, passage)
        if clash:
            return removed(CONTRADICTION, f"passage [{n}] says the opposite: «{clash}»")
        found = [s for s in stems if passage.has_stem(s)]
        if not stems or len(found) * 5 < len(stems) * 4:  # under 80 %, in integers
            absent = sorted(set(stems) - set(found))
            return removed(UNSUPPORTED, f"not in passage [{n}]: {', '.join(absent) or '-'}")
        if not sentence_grounded(f"{claim} [{n}]", {n: {"text": passage.chunk.text}}):
            return removed(NOT_GROUNDED, f"fails the grounded-sentence test on passage [{n}]")
    quotes = tuple(passages[n].best_quote(n, stems) for n in cited)
    return CheckedSentence(sentence, claim, cited, None, "", quotes)


def _letter_words(text: str) -> list[str]:
    """Folded words, figures left out (they are checked as numbers)."""
    return [w for w in words(text) if not w[:1].isdigit()]


def _content_stems(text: str) -> list[str]:
    """Stems of the words of 4 letters or more that carry meaning, in order, once each."""
    kept = (w for w in _letter_words(text) if len(w) >= 4 and w not in STOP_WORDS)
    return list(dict.fromkeys(stem(w) for w in kept))


def _numbers(text: str) -> list[str]:
    return [re.sub(r"[ \u00a0\u202f]", "", m).replace(",", ".") for m in _NUMBER.findall(text)]


def _names(claim: str) -> list[str]:
    """Drug-like words, ®/™ names and capitalised words past the first: they must be quoted."""
    names = [m[1] for m in _REGISTERED.finditer(claim)]
    for i, word in enumerate(_WORD.findall(claim)):
        folded = fold(word)
        drug_like = folded.endswith(_DRUG_ENDINGS) and len(folded) >= 6
        proper = i > 0 and word[0].isupper() and len(word) >= 2 and folded not in STOP_WORDS
        if drug_like or proper:
            names.append(word)
    return list(dict.fromkeys(names))


def _is_negated(clause: str) -> bool:
    # On folded text, apostrophes as spaces: "n'a pas" -> "n a pas".
    return _NEGATION.search(fold_words(clause)) is not None


def _contradiction(claim: str, passage: _Passage) -> str:
    """The passage clause a clause of the claim flips, or "" when polarities agree.

    Each clause of the claim is compared with the passage clauses sharing the most content
    words with it; it contradicts them only when all of those have the opposite polarity.
    """
    for clause in _CLAUSE_BREAK.split(claim):
        stems = set(_content_stems(clause))
        if not stems:
            continue
        overlaps = [(len(stems & c_stems), text) for text, c_stems in passage.clauses]
        best = max((o for o, _ in overlaps), default=0)
        if best == 0:
            continue
        closest = [text for o, text in overlaps if o == best]
        if all(_is_negated(text) != _is_negated(clause) for text in closest):
            return closest[0].strip()
    return ""


class _Passage:
    """A cited chunk with what the checks look up in it, computed once per answer."""

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk

    @cached_property
    def numbers(self) -> set[str]:
        return set(_numbers(self.chunk.text))

    @cached_property
    def name_words(self) -> set[str]:
        # A name may come from the passage's title, shown to the model with it.
        return set(_letter_words(self.chunk.text)) | set(_letter_words(self.chunk.title))

    @cached_property
    def stems(self) -> set[str]:
        return {stem(w) for w in _letter_words(self.chunk.text)}

    @cached_property
    def spans(self) -> list[tuple[int, int]]:
        text = self.chunk.text
        spans = [(s.start, s.end) for s in self.chunk.sentences if text[s.start : s.end].strip()]
        return spans or [m.span() for m in re.finditer(r"[^.!?…]+(?:[.!?…]+|$)", text)]

    @cached_property
    def clauses(self) -> list[tuple[str, set[str]]]:
        text = self.chunk.text
        pieces = (p for a, b in self.spans for p in _CLAUSE_BREAK.split(text[a:b]))
        return [(p, set(_content_stems(p))) for p in pieces if p.strip()]

    def has_stem(self, target: str) -> bool:
        # Equal stems, or one a prefix of the other (5 letters or more): "efficac"~"efficacit".
        if target in self.stems:
            return True
        return any(
            min(len(target), len(s)) >= 5 and (s.startswith(target) or target.startswith(s))
            for s in self.stems
        )

    def best_quote(self, n: int, stems: list[str]) -> Quote:
        """The sentence covering most of the claim, with its neighbour if that adds words."""
        text, wanted = self.chunk.text, set(stems)

        def covered(span: tuple[int, int]) -> set[str]:
            return wanted & {stem(w) for w in _letter_words(text[span[0] : span[1]])}

        scores = [covered(span) for span in self.spans]
        best = max(range(len(scores)), key=lambda i: len(scores[i]))
        start, end = self.spans[best]
        neighbours = [i for i in (best - 1, best + 1) if 0 <= i < len(scores)]
        gains = [(len(scores[i] - scores[best]), i) for i in neighbours]
        gain, other = max(gains, default=(0, best))
        if gain > 0:
            start, end = min(start, self.spans[other][0]), max(end, self.spans[other][1])
        return Quote(n, start, end, text[start:end])
