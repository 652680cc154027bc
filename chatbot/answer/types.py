"""Typed answers: the kind of value a question asks for, and whether a sentence holds one.

« Combien de temps dure… » is answered by a sentence that holds a duration, « combien de
centres » by one that holds a figure — « Douze centres » counts: number words are figures.
A sentence of the right subject without the asked value is a near miss: the sentence ranker
and the refusal decision both see it. The patterns are data (profile/lang/answer_types.tsv,
number_words.tsv), general French with their sources; this module only applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chatbot.config import PROFILE_DIR
from chatbot.text.lexicon import standard_words
from chatbot.text.normalize import fold_words
from chatbot.text.tables import read_table

_MONTH = r"(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre)"
_YEAR = r"(?:1[89]|20)\d\d"
# A figure on its own ("34 %", "0,3", "10" of "10 mars"), not a digit inside a name ("PHASE3"),
# not a year ("le congrès de 2019").
_FIGURE = rf"(?<![\w])(?!{_YEAR}(?![\d.,]))\d+(?:[.,]\d+)?(?![\w])"


@dataclass(frozen=True)
class AnswerTypes:
    asks: tuple[tuple[str, re.Pattern[str]], ...]  # (type, question pattern), in priority order
    holds: dict[str, tuple[re.Pattern[str], bool]]  # type -> (answer pattern, on cased text)

    def asked(self, question: str) -> str | None:
        """The type of value `question` asks for, if it asks for one."""
        folded = standard_words(question)
        return next((kind for kind, pattern in self.asks if pattern.search(folded)), None)

    def holds_type(self, kind: str | None, sentence: str) -> bool:
        """Whether `sentence` holds a value of type `kind` (False for an unknown type)."""
        found = self.holds.get(kind or "")
        if found is None:
            return False
        pattern, cased = found
        return pattern.search(sentence if cased else fold_words(sentence)) is not None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for kind, _ in self.asks))


@lru_cache(maxsize=4)
def load_answer_types(profile: Path = PROFILE_DIR) -> AnswerTypes:
    numbers = [row["word"] for row in read_table("number_words", profile)]
    number = rf"(?:{_FIGURE}|\b(?:{'|'.join(map(re.escape, numbers))})\b)"
    asks: list[tuple[str, re.Pattern[str]]] = []
    holds: dict[str, list[str]] = {}
    cased: dict[str, bool] = {}
    for row in read_table("answer_types", profile):
        pattern = (
            row["pattern"]
            .replace("{NUMBER}", number)
            .replace("{MONTH}", _MONTH)
            .replace("{YEAR}", _YEAR)
        )
        if row["side"] == "question":
            asks.append((row["type"], re.compile(pattern)))
        else:
            holds.setdefault(row["type"], []).append(pattern)
            cased[row["type"]] = row["side"] == "answer_cased"
    return AnswerTypes(
        asks=tuple(asks),
        holds={
            k: (re.compile("|".join(f"(?:{p})" for p in v)), cased[k]) for k, v in holds.items()
        },
    )
