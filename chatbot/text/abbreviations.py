"""The abbreviations the documents define, read from the documents themselves.

« l’imagerie par résonance magnétique (IRM) », « L’ANSM, Agence nationale de sécurité du
médicament, … », « Les CHU sont les centres hospitaliers universitaires »: a patient asks with
one form and the sentence that answers uses the other (« il y en a combien, de centres
hospitaliers universitaires ? » is answered by a sentence that counts « CHU »). Neither the
embedding model nor the word index knows that the two are one thing, and no list written by
hand would follow what a new document defines.

A definition is kept when the short form is spelled by its long form, by the test of Schwartz
and Hearst (2003, « A simple algorithm for identifying abbreviation definitions in biomedical
text », Pacific Symposium on Biocomputing): every letter and digit of the short form appears,
in order, in the long form, the first one at the start of the long form's first word, read
from the end. Four ways French text defines one: « long (COURT) », « COURT (long) »,
« COURT, long, » and « les COURT sont les long ».
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from chatbot.text.normalize import STOP_WORDS, fold, words

# Two to ten characters, at least two capitals: « CHU », « ANSM », « HbA1c », « IL6R ».
_SHORT = r"(?=(?:[^\W\d_]*[A-Z]){2})[A-Z][A-Za-z0-9]{1,9}"
_BEFORE = re.compile(rf"([^()\n]{{3,300}}?)\s*\(\s*({_SHORT})\s*\)")  # long (COURT)
_INSIDE = re.compile(rf"\b({_SHORT})\s*\(([^()\n]{{3,150}})\)")  # COURT (long)
_APPOSED = re.compile(rf"\b({_SHORT}),\s+([^,.;:()\n]{{3,150}}),")  # COURT, long,
_COPULA = re.compile(rf"\b({_SHORT})\s+(?:sont|est)\s+(?:les|le|la|l[’'])\s*([^,.;:()\n]{{3,150}})")


def find_abbreviations(texts: Iterable[str]) -> dict[str, str]:
    """Folded short form -> its long form as the documents write it, for every definition the
    documents hold. A short form defined two ways keeps the way written most often."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for short, long in _definitions(text):
            seen[fold(short)][long] += 1
    return {short: forms.most_common(1)[0][0] for short, forms in sorted(seen.items())}


def _definitions(text: str) -> list[tuple[str, str]]:
    found = []
    for m in _BEFORE.finditer(text):
        long = _long_form(m.group(2), m.group(1).split(), from_end=True)
        if long:
            found.append((m.group(2), long))
    for pattern in (_INSIDE, _APPOSED, _COPULA):
        for m in pattern.finditer(text):
            long = _long_form(m.group(1), m.group(2).split(), from_end=False)
            if long:
                found.append((m.group(1), long))
    return found


def _long_form(short: str, candidate: list[str], from_end: bool) -> str | None:
    """The words of `candidate` next to `short` (its end when the long form comes before the
    short one, its start when it comes after) that spell `short`, or None. Of the spans that
    do, the one whose words' initials spell most of it: « centres hospitaliers universitaires »
    for CHU rather than « centres hospitaliers »; then the shortest."""
    most = min(len(short) + 5, 2 * len(short))
    best: tuple[int, int, str] | None = None
    for n in range(1, min(most, len(candidate)) + 1):
        span = candidate[-n:] if from_end else candidate[:n]
        long = re.sub(r"^(?:l|d)[’']", "", " ".join(span).strip(" «»\"“”’',;"), flags=re.I)
        ends = words(long)
        if not ends or ends[0] in STOP_WORDS or ends[-1] in STOP_WORDS:
            continue  # « de la sécurité militaire », « centres et »: not yet a name
        kept = [w for w in words(long) if w not in STOP_WORDS]
        if len(kept) < 2 or fold(short) in kept or not _spelled(fold(short), fold(long)):
            continue
        # Each word's initial that spells a letter counts for the span, each that does not
        # against it: « …de SEP ou tout neurologue peut être inscrit » is a sentence, not a name.
        common = _common_letters(fold(short), "".join(w[0] for w in kept))
        score = 2 * common - len(kept)
        if best is None or score > best[0]:
            best = (score, n, long)
    return best[2] if best else None


def _common_letters(a: str, b: str) -> int:
    """The length of the longest common subsequence of `a` and `b`."""
    row = [0] * (len(b) + 1)
    for ch in a:
        diagonal = 0
        for j, other in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if ch == other else max(row[j], row[j - 1])
    return row[-1]


def _spelled(short: str, long: str) -> bool:
    """Schwartz and Hearst's test: the short form's letters and digits found in `long` from
    the end, in order, the first one at the start of a word that opens `long`."""
    short = "".join(ch for ch in short if ch.isalnum())
    s, i = len(short) - 1, len(long) - 1
    while s >= 0:
        while i >= 0 and (long[i] != short[s] or (s == 0 and i > 0 and long[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return False
        s, i = s - 1, i - 1
    # The first letter must open the long form's first word, not a later one.
    return not re.search(r"\w", long[: i + 1] if i >= 0 else "")
