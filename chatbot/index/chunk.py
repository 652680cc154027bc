"""Split documents into passages sized in the embedding model's tokens, and passages into sentences.

Passages are what retrieval ranks; sentences are what the extractive answer quotes. Both keep
their document, position and metadata so every quoted sentence can be cited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatbot.records import Chunk, Document
from chatbot.text.sentences import BYLINE, split_sentences

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
        sections = _sections(doc, texts)
        for position, (text, section) in enumerate(zip(texts, sections, strict=True)):
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
                    section=section,
                )
            )
    return chunks


def _sections(doc: Document, texts: list[str]) -> list[str]:
    """For each passage, the heading of the section it opens in, unless it holds it itself.

    A passage in the middle of a section is about what its heading names, and often never
    names it again: under a heading naming a treatment, the passage with its trial's result
    may say only « les résultats étaient comparables ». The passages are consecutive pieces
    of `doc.text`.
    """
    headings = {h.strip() for h in doc.headings}
    heading_at: list[tuple[int, str]] = []  # each heading paragraph's offset in the text
    offset = 0
    for paragraph in doc.text.split("\n\n"):
        if paragraph.strip() in headings:
            heading_at.append((offset, paragraph.strip()))
        offset += len(paragraph) + 2
    sections, cursor = [], 0
    for text in texts:
        at = doc.text.find(text[:200], cursor)
        start = at if at >= 0 else cursor
        cursor = start + 1
        current = next((h for a, h in reversed(heading_at) if a <= start), "")
        sections.append("" if not current or current in text else current)
    return sections


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


def passage_text(chunk: Chunk) -> str:
    """What is embedded and lexically indexed: the title (and the section's heading when the
    passage does not hold it) helps short passages be found.

    Author paragraphs are left out: who wrote a passage says nothing of what it is about, and the
    author's "Médecine Physique et Réadaptation" made the article's introduction the best
    passage for every question on "activité physique". The shown passage keeps them.
    Titles are cut to 30 words so that title + passage stay inside the model's window.
    """
    text = "\n\n".join(p for p in chunk.text.split("\n\n") if not BYLINE.match(p.strip()))
    title = " ".join(chunk.title.split()[:30])
    return "\n".join(part for part in (title, chunk.section, text) if part)
