"""Split documents into passages sized in the embedding model's tokens, and passages into sentences.

Passages are what retrieval ranks; sentences are what the extractive answer quotes. Both keep
their document, position and metadata so every quoted sentence can be cited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatbot.records import Chunk, Document, Sentence
from chatbot.text.normalize import BYLINE, looks_english, words

# A sentence ends at . ! ? … (optionally followed by a closing quote or bracket) when the next
# character starts a new sentence. Abbreviations common in the corpus are protected below.
_BOUNDARY = re.compile(r"(?<=[.!?…])[»\")\]]?\s+(?=[«\"(\[•\-–]?\s*[A-ZÀ-ÖØ-Ý0-9])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:Dr|Pr|Prof|Mr|Mme|Mlle|St|vs|cf|p|n°|No|Vol|al|etc|env|ex|fig|éd|ed)\.|\b[A-Z]\.)$"
)
# Lines that are items of a list or short headings end a sentence even without a full stop.
_LINE_BREAK = re.compile(r"\n+")


# e5 reads 512 tokens; the passage is embedded with its title and the "passage: " prefix.
MAX_CHUNK_TOKENS = 440


@dataclass(frozen=True)
class ChunkSettings:
    chunk_tokens: int
    chunk_overlap_tokens: int

    def __post_init__(self) -> None:
        if not 16 <= self.chunk_tokens <= MAX_CHUNK_TOKENS:
            raise ValueError(
                f"chunk_tokens must be between 16 and {MAX_CHUNK_TOKENS}. Currently, it is {self.chunk_tokens}"
            )
        if not 0 <= self.chunk_overlap_tokens < self.chunk_tokens:
            raise ValueError(
                "chunk_overlap_tokens must be at least 0 and less than chunk_tokens. "
                f"Currently, it is {self.chunk_overlap_tokens}"
            )


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


def chunk_documents(
    documents: Sequence[Document],
    count_tokens: Callable[[list[str]], list[int]],
    settings: ChunkSettings,
) -> list[Chunk]:
    """Cut every document into overlapping passages of at most `chunk_tokens` model tokens.

    `count_tokens` is the embedding model's own counter, so no passage is truncated by its
    512-token window. The splitter prefers paragraph, then line, then sentence boundaries.
    """
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    def length(text: str) -> int:
        return count_tokens([text])[0]

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap_tokens,
        length_function=length,
        separators=["\n\n", "\n", r"(?<=[.!?…])\s+", r"(?<=[;:])\s+", r"(?<=,)\s+", " ", ""],
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    for doc in documents:
        pieces = splitter.create_documents([doc.text])
        texts = _without_dangling_announcements([p.page_content for p in pieces])
        for position, text in enumerate(texts):
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}#{position}",
                    doc_id=doc.doc_id,
                    position=position,
                    text=text,
                    sentences=tuple(split_sentences(text)),
                    source=doc.source,
                    title=doc.title,
                    authors=doc.authors,
                    publication=doc.publication,
                    date=doc.date,
                )
            )
    return chunks


def _without_dangling_announcements(texts: list[str]) -> list[str]:
    """Drop a passage's last paragraph when it announces what only the next passage holds.

    "…deux prix ont été décernés à de jeunes chercheurs :" at the end of a passage, with the
    names in the next one, makes the passage rank for a question it cannot answer. When the
    overlap already opens the next passage with that paragraph, nothing is lost.
    """
    kept = list(texts)
    for i, text in enumerate(texts[:-1]):
        cut = text.rfind("\n\n")
        last = text[cut:].strip()
        if cut > 0 and last.endswith(":") and texts[i + 1].startswith(last):
            kept[i] = text[:cut].rstrip()
    return kept


# What an answer can quote: a sentence of the documents' own, not a heading, a byline, a
# question or a bibliographic reference. Only these are embedded as sentences (index.py).
MIN_SENTENCE_WORDS = 5  # shorter lines are headings, author lines or captions

# A short line that does not end like a sentence, nor announces something after a colon
# ("Retrouvez les infos sur : sfsep.org"), is a heading or a caption: "Transplantation de
# Cellules Souches Hématopoïétiques Autologues (AHSCT)".
HEADING_MAX_WORDS = 14
SENTENCE_END = re.compile(r"[.!…:;»\"”]\s*$")


_WORD_AS_WRITTEN = re.compile(r"[^\W\d_][\w’'-]*")


def _mostly_names(text: str) -> bool:
    """Author lists and affiliations ("Emmanuelle Leray, EA 7449 REPERES, Ecole des Hautes
    Etudes…"): most of their words are capitalised; a sentence's words are not."""
    tokens = _WORD_AS_WRITTEN.findall(text)
    return len(tokens) >= 10 and sum(t[0].isupper() for t in tokens) >= 0.6 * len(tokens)


# A journal's volume, year and pages: "Multiple Sclerosis and Related Disorders 28 (2019) 199–212",
# "Volume 100, Issue 3, March 2019, Pages 391-400", "2019 May;291(2):429-435".
_REFERENCE = re.compile(
    r"\b\d+\s*\((?:19|20)\d\d\)\s*\d+\s*[–-]\s*\d+|\bVolume \d+, Issue \d+|\bPages? \d+\s*[–-]\s*\d+"
    r"|;\s*\d+\s*\(\d+\)\s*:\s*\d+"
)


def quotable(text: str) -> bool:
    tokens = words(text)
    # Too short: headings, signatures, captions. A question (an interview's heading) answers
    # nothing either.
    if len(tokens) < MIN_SENTENCE_WORDS or text.rstrip().endswith("?"):
        return False
    heading = len(tokens) <= HEADING_MAX_WORDS and ":" not in text and not SENTENCE_END.search(text)
    if heading or BYLINE.match(text) or _mostly_names(text):
        return False
    # Bibliographic references (English titles, journal volumes) are no answer for a patient.
    return not looks_english(text) and "doi" not in tokens and not _REFERENCE.search(text)
