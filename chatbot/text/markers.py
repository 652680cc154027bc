"""The `[n]` citation markers of an answer, and the answer cut into sentences that keep them.

One marker pattern for everyone: the verifier of generated answers, the "grounded sentences"
metric, the chat page that links each marker to its source. « [2] », « [1, 3] », « [2;4] ».
"""

from __future__ import annotations

import re

MARKER = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_END = "[.!?…]+"
# A marker written after the full stop ("… efficace. [1]") belongs to the sentence before it.
_MARKER_AFTER_STOP = re.compile(rf"({_END})((?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+)")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#+)\s+")


def marker_numbers(sentence: str) -> tuple[int, ...]:
    """The passage numbers a sentence cites, in first-occurrence order."""
    numbers = (int(n) for m in MARKER.finditer(sentence) for n in re.split(r"[,;]", m[1]))
    return tuple(dict.fromkeys(numbers))


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s+", " ", MARKER.sub("", sentence)).strip()


def answer_sentences(text: str) -> list[str]:
    """An answer's sentences, each keeping its markers (list bullets and bold marks dropped)."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = _LIST_PREFIX.sub("", line.replace("**", "")).strip()
        if not line:
            continue
        line = _MARKER_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), line)
        for k, part in enumerate(re.split(r"(?<=[.!?…])\s+", line)):
            # "p. ex. la fatigue": a lower-case start continues the sentence before, on the
            # same line; a new line is a new sentence (a quoted list item under the lead-in).
            if k and part[:1].islower() and not _ends_with_marker(sentences[-1]):
                sentences[-1] += " " + part
            else:
                sentences.append(part)
    return sentences


def _ends_with_marker(sentence: str) -> bool:
    return re.search(rf"\]\s*{_END}$|\]$", sentence) is not None
