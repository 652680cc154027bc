"""Document sentences: where they start and end, and which ones an answer may quote.

One splitter for every document sentence (passages, patients' long messages, PIAF paragraphs);
answers' sentences, with their `[n]`, are markers.py's. The conventions it relies on —
abbreviations, bylines, bibliographic references — are data: profile/lang/document_conventions.tsv.
"""

from __future__ import annotations

import re

from chatbot.records import Sentence
from chatbot.text.language import looks_english
from chatbot.text.normalize import STOP_WORDS, words
from chatbot.text.tables import read_table

_CONVENTIONS = read_table("document_conventions")


def _pattern(kind: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{r['pattern']})" for r in _CONVENTIONS if r["kind"] == kind))


# A sentence ends at . ! ? … (optionally followed by a closing quote or bracket) when the next
# character starts a new sentence, unless the word before is an abbreviation.
_BOUNDARY = re.compile(r"(?<=[.!?…])[»\")\]]?\s+(?=[«\"(\[•\-–]?\s*[A-ZÀ-ÖØ-Ý0-9])")
_ABBREVIATIONS = _pattern("abbreviation")
# Lines that are items of a list or short headings end a sentence even without a full stop.
_LINE_BREAK = re.compile(r"\n+")
# Author lines and declarations of interests: who wrote, not what about.
BYLINE = _pattern("byline")
# « l'article », « le texte »: in a question about who wrote it, not its subject (folded text).
DOCUMENT_NOUN = _pattern("document_noun")
# « qui a écrit l'article ? »: a question about the document itself (folded text).
ASKS_AUTHOR = _pattern("asks_author")
# A journal's volume, year and pages: "Multiple Sclerosis and Related Disorders 28 (2019) 199–212".
REFERENCE = _pattern("reference")


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of `text` with their character offsets (line breaks always end a sentence)."""
    sentences: list[Sentence] = []
    for line in _iter_spans(text, _LINE_BREAK):
        start, end = line
        cursor = start
        for m in _BOUNDARY.finditer(text, start, end):
            candidate = text[cursor : m.start()].rstrip()
            if _ABBREVIATIONS.search(candidate):
                continue
            _append(sentences, text, cursor, m.start())
            cursor = m.end()
        _append(sentences, text, cursor, end)
    return sentences


def _iter_spans(text: str, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for m in separator.finditer(text):
        spans.append((cursor, m.start()))
        cursor = m.end()
    spans.append((cursor, len(text)))
    return spans


def _append(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    # Trim whitespace but keep offsets exact, so `text[start:end] == sentence.text`.
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= 2 and any(ch.isalnum() for ch in text[start:end]):
        sentences.append(Sentence(text=text[start:end], start=start, end=end))


# What an answer can quote: a sentence of the documents' own, not a heading, a byline, a
# question or a bibliographic reference. Only these are embedded as sentences (chatbot/index/store.py).
MIN_SENTENCE_WORDS = 5  # shorter lines are headings, author lines or captions

# A short line that does not end like a sentence, nor announces something after a colon
# ("Retrouvez les infos sur : example.org"), is a heading or a caption: "Imagerie par
# Résonance Magnétique du Cerveau (IRM)".
HEADING_MAX_WORDS = 14
SENTENCE_END = re.compile(r"[.!…:;»\"”]\s*$")


_WORD_AS_WRITTEN = re.compile(r"[^\W\d_][\w’'-]*")


def mostly_names(text: str) -> bool:
    """Author lists and affiliations ("Marie Dupont, EA 1234 SANTE, Université de Lyon,
    Hôpital…"): most of their words are capitalised; a sentence's words are not."""
    tokens = _WORD_AS_WRITTEN.findall(text)
    return len(tokens) >= 10 and sum(t[0].isupper() for t in tokens) >= 0.6 * len(tokens)


def quotable(text: str) -> bool:
    tokens = words(text)
    # Too short: headings, signatures, captions. A question (an interview's heading) answers
    # nothing either.
    if len(tokens) < MIN_SENTENCE_WORDS or text.rstrip().endswith("?"):
        return False
    heading = len(tokens) <= HEADING_MAX_WORDS and ":" not in text and not SENTENCE_END.search(text)
    if heading or BYLINE.match(text) or mostly_names(text):
        return False
    # Bibliographic references (English titles, journal volumes) are no answer for a patient.
    # A title holds few of the English words `looks_english` counts (« Activated leukocyte cell
    # adhesion molecule regulates B lymphocyte migration… »), but no French sentence of five
    # words goes without one of French's function words (the Snowball stop list): none of the
    # corpus's sentences nor of PIAF's 3,465 does.
    french = any(t in STOP_WORDS for t in tokens)
    return french and not looks_english(text) and "doi" not in tokens and not REFERENCE.search(text)
