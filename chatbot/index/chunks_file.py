"""The passages file of a built index, chunks.jsonl: one JSON object a passage.

A passage keeps its document, position and metadata, so that every sentence it quotes can
be cited; its sentences are stored as offsets into its text, not as second copies.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatbot.records import Chunk, Sentence

__all__ = ["chunk_from_dict", "chunk_to_dict", "read_chunks", "write_chunks"]


def write_chunks(path: Path, chunks: list[Chunk]) -> None:
    """Write the passages, one JSON line each."""
    with path.open("w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(chunk_to_dict(c), ensure_ascii=False) + "\n")


def read_chunks(data: bytes) -> list[Chunk]:
    """The passages of the file's bytes (checked against their sha256 by the caller)."""
    return [
        chunk_from_dict(json.loads(line))
        for line in data.decode("utf-8").split("\n")
        if line  # split on "\n" only: a passage may hold U+2028, which splitlines() cuts at
    ]


def chunk_to_dict(c: Chunk) -> dict[str, Any]:
    """The passage as stored: its sentences as [start, end] offsets into its text."""
    d = asdict(c)
    d["sentences"] = [[s.start, s.end] for s in c.sentences]
    return d


def chunk_from_dict(d: dict[str, Any]) -> Chunk:
    """The passage back from its stored form."""
    text = d["text"]
    # Interned: the same string object as the key of `sentence_ids` (see load_index), not a
    # second copy of every sentence (measured: 150 MB less at 100,000 passages).
    sentences = tuple(
        Sentence(text=sys.intern(text[a:b]), start=a, end=b) for a, b in d["sentences"]
    )
    return Chunk(
        chunk_id=d["chunk_id"],
        doc_id=d["doc_id"],
        position=d["position"],
        text=text,
        sentences=sentences,
        source=d["source"],
        title=d["title"],
        authors=tuple(d["authors"]),
        publication=d["publication"],
        date=d["date"],
        section=d.get("section", ""),
    )
