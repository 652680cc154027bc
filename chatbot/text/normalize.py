"""French text normalisation shared by the lexical index, the answer selection and the metrics.

Patients type on phones: without accents, with typos, in lower case. Everything lexical is
therefore compared on an accent-folded, lower-cased, stemmed form.
"""

from __future__ import annotations

import csv
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

from chatbot.config import PROFILE_DIR

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)?|[^\W\d_]+", re.UNICODE)

def read_table(name: str, profile: Path = PROFILE_DIR) -> list[dict[str, str]]:
    """A tab-separated word list of the profile (profile/lang/NAME.tsv), comments skipped.

    Every list has a `source` column: where each entry comes from.
    """
    path = profile / "lang" / f"{name}.tsv"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    missing = [k for k, row in enumerate(rows, 2) if not row.get("source")]
    if missing:
        raise ValueError(f"{path}: entrées sans source, lignes {missing[:5]}")
    return rows


# French function words and the words that wrap a question, folded (no accents): neither
# retrieval nor the refusal decision uses them.
STOP_WORDS = frozenset(row["word"] for row in read_table("stop_words"))

# SMS spellings of words, as patients type them on a phone.
SMS_WORDS = {row["sms"]: row["standard"] for row in read_table("sms")}


def fold(text: str) -> str:
    """Lower case, accents removed, ligatures expanded (NFKD): `Sclérose` -> `sclerose`."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("œ", "oe")


def fold_for_match(text: str) -> str:
    """The comparison form of ../shared/EVAL_FORMAT.md: NFKC, lower case, letters and digits."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def words(text: str) -> list[str]:
    """Folded word and number tokens, in order. Elided articles (l', d', qu') are split off."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball French stem of a folded word; numbers are kept as they are."""
    if word[:1].isdigit():
        return word.replace(",", ".")
    return _stemmer().stemWord(word)


_local = threading.local()


def _stemmer():  # type: ignore[no-untyped-def]
    # A Snowball stemmer keeps state between calls: one per thread, or the web server's
    # concurrent requests corrupt each other's words (IndexError inside snowballstemmer).
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("french")
    return stemmer


def content_terms(text: str) -> list[str]:
    """Stems of the words that carry meaning: stop words and one-letter words dropped."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


_EN_MARKERS = frozenset(
    ["the", "is", "are", "what", "which", "how", "does", "do", "can", "should", "my", "with", "and", "of", "to", "for", "side", "effects", "about"]
)
_FR_MARKERS = frozenset(
    ["le", "la", "les", "est", "sont", "quels", "quelles", "quel", "comment", "que", "qui", "une", "des", "du", "je", "mon", "ma", "mes", "pour", "avec", "et", "effets", "sur", "il", "elle", "on", "peut", "ca", "sep"]
)


def looks_english(text: str) -> bool:
    """True for a question clearly written in English (patients may paste English text)."""
    tokens = words(text)
    if len(tokens) < 3:
        return False
    en = sum(t in _EN_MARKERS for t in tokens)
    fr = sum(t in _FR_MARKERS for t in tokens)
    return en >= 2 and en > 2 * fr


# An English question opens on one of these; none of them starts a French sentence.
_EN_QUESTION_OPENERS = frozenset(
    ["does", "do", "did", "is", "are", "was", "were", "can", "could", "should", "would", "will", "what", "which", "how", "why", "where", "when", "who", "has", "have"]
)


def is_english_question(text: str) -> bool:
    """A short question in English (« Does biotin work? »), too short for `looks_english`.

    Only for the patient's message: the quotable-sentence checks keep `looks_english` alone.
    """
    tokens = words(text)
    return (
        len(tokens) >= 2
        and tokens[0] in _EN_QUESTION_OPENERS
        and not any(t in _FR_MARKERS for t in tokens)
    )


# Author lines: "Par le Dr Nicolas Collongues, Neurologue - Hôpitaux universitaires, Strasbourg",
# and the author's declaration of interests. They say who wrote, not what about.
BYLINE = re.compile(
    r"^(?:Par (?:le |la )?(?:Dr|Pr|Docteur|Professeure?)\b|Propos recueillis par|Entretien avec"
    r"|Conflits? d[’']intérêts?)"
)


# Patients' everyday words next to the words health documents use (a general French
# lexicon, profile/lang/lay_lexicon.tsv). A question holding the first is searched with the
# second too: « effets secondaires » -> « effets indésirables tolérance ».
LAY_TERMS = {row["lay"]: row["medical"] for row in read_table("lay_lexicon")}
_LAY_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, LAY_TERMS), key=len, reverse=True)) + r")\b")


def lay_words(text: str) -> list[str]:
    """The everyday words of `text` that LAY_TERMS gives the documents' words for."""
    return _LAY_PATTERN.findall(" ".join(words(text)))


def with_lay_terms(text: str) -> str:
    """`text` followed by the documents' words for the everyday words it uses."""
    found = dict.fromkeys(LAY_TERMS[m] for m in lay_words(text))
    return f"{text} ({' '.join(found)})" if found else text
