"""Text repair for text extracted from a page layout (PDF): words first, then paragraphs.

Such text arrives with a hard line break every few words and words hyphenated at line ends.
`repair_text` normalizes it (NFC, ligatures, invisible characters, spaces), joins each word
cut at a line end or keeps its hyphen, using the corpus's own vocabulary as evidence for
each hyphen, then hands the lines to `paragraphs.rebuild_paragraphs`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from chatbot.ingest.paragraphs import LIST_ITEM, is_markup, rebuild_paragraphs

__all__ = ["Vocabulary", "build_vocabulary", "normalize", "repair", "repair_text", "words_of"]

_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_LIGATURE = re.compile("[ﬀ-ﬆ]")
# Control characters (tab, newline, form feed, carriage return apart) and zero-width marks.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_LETTERS = r"[^\W\d_]+"
_WORD = re.compile(rf"{_LETTERS}(?:-{_LETTERS})*")
_CUT = re.compile(r"-[ \t]*\n\s*")  # a hyphen at a line end
_LEADING_LETTERS = re.compile(r"[^\W\d_]*")
_LINE_END_HYPHEN = re.compile(rf"({_LETTERS})-$")

# Evidence for a hyphen at a line end, when the vocabulary has none. French typesetting cuts
# words between syllables, so a line-end hyphen is a cut unless the pieces say otherwise.
_ALWAYS_HYPHENATED = {"sous", "semi", "non", "demi", "vice", "médico"}  # sous-cutanée
# Hyphenated when what follows is itself a word (anti-inflammatoire), welded otherwise
# (préférez, antigrippale): the vocabulary tells the two apart.
_PREFIXES = {"anti", "auto", "post", "pré", "contre", "quasi", "pseudo", "ultra"}
_HYPHEN_SUFFIXES = {  # whole second parts that only ever follow a hyphen
    "t", "à", "là", "être", "même", "mêmes", "moi", "toi", "lui", "nous", "vous",
    "il", "ils", "elle", "elles", "on", "delà", "dessus", "dessous",
}  # fmt: skip
_AFTER = {"ce": {"est"}, "ci": {"celui", "celle", "ceux", "celles"}}  # est-ce, celle-ci


def repair_text(raw: str, vocabulary: set[str] | None = None) -> str:
    """Rebuild words and paragraphs of text extracted from a page layout.

    Joins words hyphenated at line ends (keeping real hyphens), joins hard-wrapped lines
    into paragraphs, normalizes whitespace and applies NFC. Idempotent on its own output.

    Args:
        raw: the extracted text.
        vocabulary: lower-cased words and hyphenated compounds of the corpus (see
            `build_vocabulary`); the text's own words are always added.

    Returns:
        The text, one paragraph per line, paragraphs separated by a blank line.
    """
    text = normalize(raw)
    return repair(text, Vocabulary(words_of(text), vocabulary or set()))


def repair(text: str, vocab: Vocabulary) -> str:
    """`repair_text` on text already normalized."""
    lines = _dehyphenate(_collapse_blank_lines(text.split("\n")), vocab)
    return "\n\n".join(rebuild_paragraphs(lines))


def build_vocabulary(texts: Iterable[str]) -> set[str]:
    """Lower-cased words and hyphenated compounds (and their pairs) of the texts."""
    vocab: set[str] = set()
    for text in texts:
        vocab |= words_of(normalize(text))
    return vocab


def words_of(normalized: str) -> set[str]:
    """The words of a normalized text, as `build_vocabulary` counts them."""
    words = set(_WORD.findall(_without_cut_words(normalized).lower()))
    for compound in [w for w in words if "-" in w]:
        parts = compound.split("-")
        words.update(parts)
        words.update(f"{a}-{b}" for a, b in zip(parts, parts[1:], strict=False))
    return words


def _without_cut_words(text: str) -> str:
    """The text less the two fragments of every word cut at a line end: they are no words."""
    pieces = _CUT.split(text)
    for k in range(len(pieces)):
        piece = pieces[k]
        start = _LEADING_LETTERS.match(piece).end() if k else 0  # type: ignore[union-attr]
        end = len(piece)
        if k < len(pieces) - 1:
            while end > start and piece[end - 1].isalpha():
                end -= 1
        pieces[k] = piece[start:end]
    return " ".join(pieces)


class Vocabulary:
    """The text's own words and the corpus's, without copying the corpus's for every text."""

    def __init__(self, own: set[str], shared: set[str]) -> None:
        self.own, self.shared = own, shared

    def __contains__(self, word: str) -> bool:
        return word in self.own or word in self.shared


def normalize(raw: str) -> str:
    """NFC, ligatures undone, invisible characters dropped, one plain space between words."""
    text = _LIGATURE.sub(
        lambda m: _LIGATURES.get(m.group(), m.group()), unicodedata.normalize("NFC", raw)
    )
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = re.sub(r"\u00ad[ \t]*\n[ \t]*", "", text).replace("\u00ad", "")  # soft hyphens: cuts
    text = _INVISIBLE.sub("", text)
    # str.split() knows every Unicode space (no-break, narrow no-break...): one plain space.
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


def _collapse_blank_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def _dehyphenate(lines: list[str], vocab: Vocabulary) -> list[str]:
    """Join each word cut at a line end (across one blank line too) or keep its hyphen."""
    out = list(lines)
    i = 0
    while i < len(out):
        cut = _LINE_END_HYPHEN.search(out[i]) if out[i].endswith("-") else None
        j = i + 1 if i + 1 < len(out) and out[i + 1] else i + 2
        # Across a blank line only a lower-case continuation is a column break; a capital
        # there starts something else (a heading, a signature).
        if (
            not cut
            or j >= len(out)
            or not (out[j][:1].islower() if j == i + 2 else out[j][:1].isalnum())
        ):
            i += 1
            continue
        token, _, rest = out[j].partition(" ")
        right = re.match(r"[^\W_]+", token)
        assert right  # out[j] starts with a letter or digit
        if _keeps_hyphen(cut.group(1), right.group(), vocab):
            out[i] += token
        else:
            out[i] = out[i][:-1] + token
        # The paragraph goes on: the blank line of a column break goes, and an emptied line.
        if LIST_ITEM.match(rest) or is_markup(rest):
            out[i], rest = f"{out[i]} {rest}", ""  # "Biosta- | tistique - Bioinformatique"
        out[j] = rest
        if not rest:
            del out[j]
        if j == i + 2:
            del out[i + 1]
        # out[i] is examined again: its new last word may itself end with a cut.
    return out


def _keeps_hyphen(left: str, right: str, vocab: Vocabulary | set[str]) -> bool:
    if right[0].isdigit():
        return True
    if right[0].isupper():
        if len(left) > 1 and left.isupper() and right.isupper():  # a cut in a capitals heading
            return (left + right).lower() not in vocab
        return True  # Etats-Unis, Saint-Etienne, anti-TNF
    lo_left, lo_right = left.lower(), right.lower()
    if f"{lo_left}-{lo_right}" in vocab:
        return True
    if lo_left + lo_right in vocab:
        return False
    if lo_left in _ALWAYS_HYPHENATED or lo_right in _HYPHEN_SUFFIXES:
        return True
    if lo_left in _AFTER.get(lo_right, ()):
        return True
    if lo_left in _PREFIXES and lo_left[-1] == lo_right[0] and lo_right[0] in "aeiouy":
        return True  # French keeps the hyphen between two identical vowels: anti-inflammatoire
    return lo_left in _PREFIXES and len(lo_right) > 2 and lo_right in vocab
