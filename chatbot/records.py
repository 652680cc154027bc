"""The small typed records that travel between the stages of the pipeline.

ingest -> Document -> chunk -> Chunk -> index/retrieve -> Hit -> answer -> Answer(Citation)
The source and position of every chunk travel with it up to the citation shown to the patient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One article of the corpus, cleaned, with its metadata."""

    doc_id: str  # stable id derived from `source`
    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    text: str  # cleaned text; paragraphs separated by a blank line
    authors: tuple[str, ...] = ()
    publication: str = ""
    date: str = ""  # ISO date (YYYY-MM-DD or YYYY-MM or YYYY) when known
    original_source: str = ""  # the raw file the article was extracted from
    headings: tuple[str, ...] = ()  # its section headings, as they read in `text`, in order


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chunk: the unit the extractive answer quotes."""

    text: str
    start: int  # character offsets inside the chunk text
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, sized to fit the embedding model's window."""

    chunk_id: str  # f"{doc_id}#{position}"
    doc_id: str
    position: int  # 0-based rank of the chunk in its document
    text: str
    sentences: tuple[Sentence, ...]
    source: str
    title: str
    authors: tuple[str, ...] = ()
    publication: str = ""
    date: str = ""
    section: str = ""  # the heading of the section the passage opens in, when it is not in it

    @property
    def byline(self) -> str:
        """Who wrote it, where and when, as a source is shown: « A. Auteur · Revue · 2019 »."""
        return " · ".join(x for x in (", ".join(self.authors), self.publication, self.date) if x)

    def to_dict(self) -> dict[str, Any]:
        """Where the passage comes from and its text, as the result format shows a source."""
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "author": ", ".join(self.authors),
            "publication": self.publication,
            "date": self.date,
            "text": self.text,
        }


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and rank (1-based)."""

    chunk: Chunk
    score: float
    rank: int
    dense_rank: int | None = None  # rank in the dense list, None if absent from it
    lexical_rank: int | None = None
    dense_score: float | None = None  # cosine of the query and the passage, when ranked


@dataclass(frozen=True)
class Citation:
    """What a `[n]` marker points to: the passage and the exact quoted span."""

    n: int
    chunk: Chunk
    quote: str  # the exact span of `chunk.text` the answer relies on

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.chunk.to_dict(), "quote": self.quote}


@dataclass
class Answer:
    """The engine's reply to one question, in the shape of the shared result format."""

    text: str  # what the user sees, with its [n] markers
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Hit] = field(default_factory=list)
    refused: bool = False
    safety: str | None = None  # name of the safety rule that answered, else None
    timings_ms: dict[str, float] = field(default_factory=dict)
    backend: str = "extractive"  # which answer backend wrote `text`
    notes: list[str] = field(default_factory=list)  # e.g. why a generative answer fell back
    # A refusal's way on: one passage of each of the documents nearest the question, nearest
    # first (Engine.refusal). Not an answer (nothing is quoted from them): where to read on.
    nearby: list[Chunk] = field(default_factory=list)

    def to_result(self, qid: str, question: str) -> dict[str, Any]:
        """The result-file record of ../shared/EVAL_FORMAT.md."""
        return {
            "id": qid,
            "question": question,
            "answer": self.text,
            "refused": self.refused,
            "safety": self.safety,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [
                {
                    "rank": h.rank,
                    "chunk_id": h.chunk.chunk_id,
                    "source": h.chunk.source,
                    "score": round(h.score, 6),
                    "text": h.chunk.text,
                }
                for h in self.retrieved
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "backend": self.backend,
            "nearby": [c.to_dict() for c in self.nearby],
        }


def refusal_result(qid: str, question: str, message: str) -> dict[str, Any]:
    """The result record of a question refused before retrieval (empty, too long...)."""
    answer = Answer(
        text=message, refused=True, timings_ms={"retrieve": 0.0, "answer": 0.0, "total": 0.0}
    )
    return answer.to_result(qid, question)


@dataclass
class AnswerRequest:
    """Everything an answer backend gets for one question."""

    question: str  # the user's message, validated
    search_query: str  # the question completed with the conversation, used for retrieval
    hits: list[Hit]  # retrieved passages, best first
    query_vector: Any  # numpy (dim,) float32: the embedding of `search_query`
    history: list[dict[str, str]] = field(default_factory=list)  # earlier turns, oldest first
