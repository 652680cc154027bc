"""The risk detector, run by the engine before retrieval, for every entry point.

Two parts, both data (profile/safety/):
- explicit patterns (`patterns.tsv`), for wordings whose meaning is exact (« idées
  suicidaires », « j'arrête mon traitement »);
- a learned detector (`detector.json`): one logistic regression per category over the
  message's e5 vector — the vector the engine computes anyway —, its character n-grams and
  its word n-grams, the categories judged each on its own, trained on a labelled bank of French
  messages written from public clinical guidance (eval/safety/, `chatbot safety fit`). It
  catches what no list of wordings holds: hopelessness said indirectly, a sudden loss of sight
  described by what one sees, a reaction after an infusion.

A long message is also judged sentence by sentence (the red flag may sit in its middle).
The detector says which category is at risk, the most serious first (suicide, then
emergency, then a personal treatment decision), and how sure it is: `certain` risks get the
fixed safety message instead of retrieval; the others get their answer with a visible notice
(with lower thresholds: `Assessment.with_possible`).
Instructions injected into a question are recognised and cut out, and the question is answered.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import numpy as np

from chatbot.config import PROFILE_DIR
from chatbot.safety.linear import LinearDetector
from chatbot.text.lexicon import without_opener
from chatbot.text.normalize import fold_words, words
from chatbot.text.sentences import split_sentences

log = logging.getLogger(__name__)


class Category(StrEnum):
    SUICIDE = "suicide"
    EMERGENCY = "emergency"
    TREATMENT_DECISION = "treatment_decision"
    INJECTION = "injection"


# The most serious first: when several categories match, the first one answers.
RISKS = (Category.SUICIDE, Category.EMERGENCY, Category.TREATMENT_DECISION)
# Risks whose fixed message replaces the answer when certain.
URGENT = (Category.SUICIDE, Category.EMERGENCY)


@dataclass(frozen=True)
class Assessment:
    """What the detector found in one message."""

    flagged: tuple[Category, ...] = ()  # risk categories found, the most serious first
    certain: tuple[Category, ...] = ()  # those a pattern, or a sure detector, found
    pattern: str = ""  # the explicit pattern that fired, for logs and tests
    probabilities: dict[str, float] = field(default_factory=dict)  # learned detector, per category
    injection: bool = False  # instructions were injected; `cleaned_question` is without them
    cleaned_question: str = ""
    # risks above the lower thresholds of a notice, the most serious first
    possible: tuple[Category, ...] = ()
    # those still certain if the message ends the conversation (`as_closing`)
    certain_closing: tuple[Category, ...] = ()

    @property
    def category(self) -> Category | None:
        """The category the answer names: the most serious risk, else an injection, else None."""
        if self.flagged:
            return self.flagged[0]
        return Category.INJECTION if self.injection else None

    def with_possible(self) -> Assessment:
        """What counts under an answer or « je n'ai pas trouvé »: the possible risks too.

        Whether a red flag gets its numbers, or a treatment decision its neurologist, must not
        depend on whether the documents answer: a refusal that learns to answer more would take
        them away (measured: one suicide message, then four treatment decisions, lost theirs).
        """
        return replace(self, flagged=self.possible)  # `possible` holds every flagged risk too

    def as_closing(self) -> Assessment:
        """The same risks for a message that ends the conversation: its fixed message only
        above the closings' thresholds (a pattern's risk stays certain); below, a notice."""
        return replace(self, certain=self.certain_closing)

    @property
    def urgent(self) -> Category | None:
        """The urgent risk whose fixed message answers instead of the documents, if any."""
        return next((c for c in self.certain if c in URGENT), None)


@dataclass(frozen=True)
class Pattern:
    category: str
    regex: re.Pattern[str]
    source: str


def read_patterns(path: Path) -> list[Pattern]:
    """The explicit patterns of a profile (`category`, `pattern`, `source`, tab-separated)."""
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Pattern(r["category"], re.compile(r["pattern"]), r["source"]) for r in rows]


class Detector:
    """Explicit patterns, then the learned detector when it was fitted for this embedder."""

    def __init__(self, patterns: list[Pattern], model: LinearDetector | None = None) -> None:
        self.patterns = patterns
        self.model = model

    @classmethod
    def load(cls, profile: Path = PROFILE_DIR, weights_sha256: str | None = None) -> Detector:
        """The profile's detector; its learned part only if fitted on the embedder in use.

        A detector fitted on other weights would read vectors it never saw: it is left out,
        with a warning, and the explicit patterns alone answer.
        """
        patterns = read_patterns(profile / "safety" / "patterns.tsv")
        model_path = profile / "safety" / "detector.json"
        model = LinearDetector.load(model_path) if model_path.is_file() else None
        if (
            model is not None
            and weights_sha256 is not None
            and model.weights_sha256 != weights_sha256
        ):
            log.warning(
                "%s a été ajusté pour un autre modèle d'embedding : seuls les motifs explicites "
                "servent. Réajustez-le : `make safety-model`.",
                model_path,
            )
            model = None
        return cls(patterns, model)

    def texts_to_embed(self, message: str) -> list[str]:
        """The message, then each of its sentences when it has several (a red flag may be one),
        read without the greeting it opens with."""
        if self.model is None:
            return []
        message = without_opener(message)
        sentences = [s.text for s in split_sentences(message)]
        parts = [s for s in sentences if len(words(s)) >= 3] if len(sentences) > 1 else []
        return [message, *parts[:MAX_SENTENCES]]

    def assess(self, message: str, vectors: np.ndarray | None = None) -> Assessment:
        """The risks of `message`; `vectors` are the e5 query vectors of `texts_to_embed`."""
        folded = fold_words(message)
        fired = {p.category: p for p in reversed(self.patterns) if p.regex.search(folded)}
        injection = "injection" in fired
        cleaned = self._without_instructions(folded) if injection else message
        whole: dict[str, float] = {}
        probabilities: dict[str, float] = {}
        if self.model is not None and vectors is not None and len(vectors):
            whole, probabilities = self.model.probabilities(self.texts_to_embed(message), vectors)
        flagged, certain, possible, pattern = [], [], [], ""
        certain_closing: list[Category] = []
        for category in RISKS:
            fired_here = fired.get(category.value)
            p = probabilities.get(category.value, 0.0)
            if fired_here is not None:
                m = fired_here.regex.search(folded)
                pattern = pattern or (m.group(0) if m else "")
                flagged.append(category)
                certain.append(category)
                certain_closing.append(category)
            elif self.model is not None and p >= self.model.notice[category.value]:
                flagged.append(category)
                sure = whole.get(category.value, 0.0)
                if sure >= self.model.certain[category.value]:
                    certain.append(category)
                closing = self.model.certain_closing.get(
                    category.value, self.model.certain[category.value]
                )
                if sure >= closing:
                    certain_closing.append(category)
            if category in flagged or (
                self.model is not None and p >= self.model.possible_from(category.value)
            ):
                possible.append(category)
        return Assessment(
            tuple(flagged),
            tuple(certain),
            pattern,
            probabilities,
            injection,
            cleaned,
            tuple(possible),
            tuple(certain_closing),
        )

    def _without_instructions(self, folded: str) -> str:
        """The question left once injected instructions are cut out, for retrieval to see."""
        injections = [p.regex for p in self.patterns if p.category == "injection"]
        leads = [p.regex for p in self.patterns if p.category == "instruction_lead"]
        for regex in injections:
            folded = regex.sub(" ", folded)
        kept = []
        for segment in re.split(r"[.?!:;\n]+", folded):
            segment = re.sub(r"\s+", " ", segment).strip(" ,")
            for lead in leads:
                segment = lead.sub("", segment)
            if len(segment.split()) >= 2:
                kept.append(segment)
        return " ? ".join(kept) if kept else folded


# A message of more sentences is judged on its first ones (and as a whole): bounded work.
MAX_SENTENCES = 8


@lru_cache(maxsize=4)
def patterns_only(profile: Path = PROFILE_DIR) -> Detector:
    """The explicit patterns alone: for callers without an embedder (tests, scripts)."""
    return Detector(read_patterns(profile / "safety" / "patterns.tsv"))
