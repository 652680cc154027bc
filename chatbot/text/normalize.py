"""French text normalisation shared by the lexical index, the answer selection and the metrics.

Patients type on phones: without accents, with typos, in lower case. Everything lexical is
therefore compared on an accent-folded, lower-cased, stemmed form.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from chatbot.text.tables import read_table

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)?|[^\W\d_]+", re.UNICODE)


# French function words and the words that wrap a question, folded (no accents): neither
# retrieval nor the refusal decision uses them.
STOP_WORDS = frozenset(row["word"] for row in read_table("stop_words"))


def fold(text: str) -> str:
    """Lower case, accents removed, ligatures expanded (NFKD): `Sclérose` -> `sclerose`."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("œ", "oe")


def fold_words(text: str) -> str:
    """Folded text where apostrophes and hyphens are spaces: « qu'est-ce » -> « qu est ce ».

    The form the profile's patterns are written for (safety, answer types, conversation).
    """
    return re.sub(r"[\s'’`\-_]+", " ", fold(text)).strip()


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
