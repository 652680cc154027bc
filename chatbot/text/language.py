"""Which language a message is in: patients sometimes paste English; the engine answers French.

The marker words are data (profile/lang/language_markers.tsv, with their sources).
"""

from __future__ import annotations

from chatbot.text.tables import read_table

_MARKERS = read_table("language_markers")
_EN = frozenset(r["marker"] for r in _MARKERS if r["language"] == "en")
_FR = frozenset(r["marker"] for r in _MARKERS if r["language"] == "fr")
_EN_OPENERS = frozenset(r["marker"] for r in _MARKERS if r["language"] == "en_opener")


def looks_english(text: str) -> bool:
    """True for a text clearly written in English (patients may paste English text)."""
    tokens = words(text)
    if len(tokens) < 3:
        return False
    en = sum(t in _EN for t in tokens)
    fr = sum(t in _FR for t in tokens)
    return en >= 2 and en > 2 * fr


def is_english_question(text: str) -> bool:
    """A short question in English (« Does it hurt? »), too short for `looks_english`.

    Only for the patient's message: the quotable-sentence checks keep `looks_english` alone.
    """
    tokens = words(text)
    return len(tokens) >= 2 and tokens[0] in _EN_OPENERS and not any(t in _FR for t in tokens)


# At the end: normalize.py imports this module, which needs normalize's `words` only at call time.
from chatbot.text.normalize import words  # noqa: E402
