"""The built index: passages, their vectors in FAISS, a lexical index and sentence vectors.

`build_index` cuts documents into passages and embeds them, `save_index` writes the index
as a versioned artefact (its manifest written last, see manifest.py), `load_index` reads it
back, refusing an index that does not match the model or corpus, or a file that is truncated,
altered or inconsistent with the others (integrity.py), with the command that rebuilds it.
The vectors and the sentence table on disk are in vectors.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.errors import IndexMismatch
from chatbot.index.chunk import ChunkSettings, chunk_documents, passage_text
from chatbot.index.chunks_file import read_chunks, write_chunks
from chatbot.index.embed import Embedder
from chatbot.index.integrity import INDEX_FILES, Integrity, describe, inconsistency
from chatbot.index.lexical import LexicalIndex
from chatbot.index.manifest import (
    FORMAT_VERSION,
    REBUILD_HINT,
    SUPPORTED_SUFFIXES,
    check_manifest,
    corpus_hash,
    new_manifest,
    read_manifest,
)
from chatbot.index.vectors import (
    HNSW_THRESHOLD,
    MMAP_FAISS_BYTES,
    SentenceVectors,
    encode_in_batches,
    make_faiss,
    read_faiss,
    write_faiss,
    write_sentence_table,
)
from chatbot.records import Chunk, Document
from chatbot.text.sentences import quotable

# The manifest, integrity and vector names are re-exported: the engine, the CLI, the tests
# and the benchmarks import them from here.
__all__ = [
    "FORMAT_VERSION",
    "HASH_AT_LOAD_BYTES",
    "HNSW_THRESHOLD",
    "INDEX_FILES",
    "MMAP_FAISS_BYTES",
    "REBUILD_HINT",
    "SUPPORTED_SUFFIXES",
    "Index",
    "Integrity",
    "SentenceVectors",
    "build_index",
    "check_manifest",
    "corpus_hash",
    "load_index",
    "passage_text",
    "read_manifest",
    "save_index",
]

# Up to this many bytes of vector files, they are hashed at load (sha256 runs at ~1 GB/s
# here: about 0.25 s); a larger index is served at once and hashed in the background.
HASH_AT_LOAD_BYTES = 256 * 1024 * 1024


@dataclass
class Index:
    """A built index in memory: what retrieval, ranking and answers read."""

    chunks: list[Chunk]
    faiss_index: Any  # faiss.Index over the passage vectors (inner product = cosine)
    lexical: LexicalIndex
    sentence_vectors: np.ndarray | SentenceVectors  # (n_unique_sentences, dim) float32
    sentence_ids: dict[str, int]  # sentence text -> row of sentence_vectors
    manifest: dict[str, Any]
    sentence_index: Any = None  # faiss.Index over sentence_vectors, for sentence-level ranking
    sentence_chunks: list[list[int]] = field(default_factory=list)  # row -> chunks holding it
    integrity: Integrity | None = None  # the files' check, for an index loaded from disk
    _doc_spans: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.sentence_index is None:
            vectors = np.asarray(self.sentence_vectors)
            self.sentence_index = make_faiss(vectors, vectors.shape[1])
        if not self.sentence_chunks:
            # Overlapping passages share sentences: a sentence row may belong to several.
            self.sentence_chunks = [[] for _ in range(len(self.sentence_vectors))]
            for i, chunk in enumerate(self.chunks):
                for s in chunk.sentences:
                    row = self.sentence_ids.get(s.text)
                    if row is not None and (
                        not self.sentence_chunks[row] or self.sentence_chunks[row][-1] != i
                    ):
                        self.sentence_chunks[row].append(i)

    def __len__(self) -> int:
        return len(self.chunks)

    def problem(self) -> str | None:
        """Why this index cannot be served now, if it cannot: its files' check failed, or the
        sentence table read at each question was cut under the server (for /api/health)."""
        if self.integrity is not None and self.integrity.problem:
            return self.integrity.problem
        if isinstance(self.sentence_vectors, SentenceVectors):
            problem = self.sentence_vectors.problem()
            return f"Index abîmé : {problem}. {REBUILD_HINT}" if problem else None
        return None

    def checking(self) -> bool:
        """True while the files' sha256 are checked in the background (large indexes)."""
        return self.integrity is not None and self.integrity.pending

    def document_text(self, doc_id: str) -> str:
        """A document's whole text, from its passages (which follow each other in `chunks`)."""
        return _joined(tuple(c.text for c in self.document_chunks(doc_id)))

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's passages, in reading order."""
        if not self._doc_spans:
            for i, chunk in enumerate(self.chunks):
                start, _ = self._doc_spans.get(chunk.doc_id, (i, i))
                self._doc_spans[chunk.doc_id] = (start, i + 1)
        start, end = self._doc_spans.get(doc_id, (0, 0))
        return self.chunks[start:end]


@lru_cache(maxsize=256)
def _joined(texts: tuple[str, ...]) -> str:
    return "\n\n".join(texts)


def build_index(
    documents: list[Document],
    embedder: Embedder,
    chunk_settings: ChunkSettings,
    corpus_digest: str,
    progress: bool = False,
) -> Index:
    """Cut the documents into passages, embed passages and sentences, index them.

    Args:
        documents: the corpus (see `chatbot.ingest.corpus.load_corpus`).
        embedder: the embedding model; its name and weights hash go into the manifest.
        chunk_settings: passage size and overlap, in the model's tokens.
        corpus_digest: `corpus_hash` of the corpus folder, recorded to detect a change.
        progress: show a progress bar while embedding.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    chunks = chunk_documents(documents, embedder.count_tokens, chunk_settings)
    timings["chunk_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    vectors = encode_in_batches(
        embedder.encode_document, [passage_text(c) for c in chunks], progress
    )
    # Overlapping passages share sentences: each distinct sentence is embedded once. Only the
    # sentences an answer can quote: a heading or a reference ranks nothing and is never quoted.
    sentence_texts = list(
        dict.fromkeys(s.text for c in chunks for s in c.sentences if quotable(s.text))
    )
    sentence_vectors = encode_in_batches(embedder.encode_document, sentence_texts, progress)
    timings["embed_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lexical = LexicalIndex.build([passage_text(c) for c in chunks])
    faiss_index = make_faiss(vectors, embedder.dim)
    timings["index_s"] = time.perf_counter() - t0

    counts = {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentence_texts)}
    manifest = new_manifest(embedder, chunk_settings, corpus_digest, counts, faiss_index, timings)
    return Index(
        chunks=chunks,
        faiss_index=faiss_index,
        lexical=lexical,
        sentence_vectors=sentence_vectors,
        sentence_ids={t: i for i, t in enumerate(sentence_texts)},
        manifest=manifest,
    )


def save_index(index: Index, out_dir: Path) -> None:
    """Write the index's files into `out_dir`, its manifest (with their sha256) last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # No manifest while the files change: an interrupted rebuild leaves no index, not a mix.
    (out_dir / "manifest.json").unlink(missing_ok=True)
    write_faiss(out_dir / "passages.faiss", index.faiss_index)
    write_faiss(out_dir / "sentences.faiss", index.sentence_index)
    write_chunks(out_dir / "chunks.jsonl", index.chunks)
    write_sentence_table(out_dir / "sentences.npy", index.sentence_vectors)
    with (out_dir / "sentences.json").open("w", encoding="utf-8") as f:
        json.dump(
            sorted(index.sentence_ids, key=index.sentence_ids.__getitem__), f, ensure_ascii=False
        )
    arrays: dict[str, Any] = index.lexical.to_arrays()
    np.savez(out_dir / "lexical.npz", **arrays)
    # The manifest is written last: a build interrupted half-way leaves no valid index.
    manifest = {**index.manifest, "files": {name: describe(out_dir / name) for name in INDEX_FILES}}
    partial = out_dir / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(partial, out_dir / "manifest.json")
    index.manifest = manifest


def load_index(index_dir: Path, embedder: Embedder, corpus_digest: str | None = None) -> Index:
    """Read the index in `index_dir`, checked against the model, the corpus and its files.

    Raises:
        IndexMissing: there is no index in `index_dir`.
        IndexMismatch: it was built by other code, model or documents, or a file is damaged.
    """
    manifest = read_manifest(index_dir)
    check_manifest(manifest, embedder, corpus_digest)
    integrity = Integrity(index_dir, manifest)  # every file present, at its size
    hash_now = integrity.vector_bytes() <= HASH_AT_LOAD_BYTES
    if hash_now:
        integrity.check_vectors()
    try:
        chunks = read_chunks(integrity.read("chunks.jsonl"))
        sentence_texts = [
            sys.intern(t) for t in json.loads(integrity.read("sentences.json").decode("utf-8"))
        ]
        sentence_vectors = SentenceVectors(index_dir / "sentences.npy")
        with np.load(io.BytesIO(integrity.read("lexical.npz")), allow_pickle=True) as arrays:
            lexical = LexicalIndex.from_arrays(dict(arrays))
        faiss_index = read_faiss(index_dir / "passages.faiss")
        sentence_index = read_faiss(index_dir / "sentences.faiss")
    except IndexMismatch:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
    ) as exc:
        raise IndexMismatch(
            f"Index abîmé dans {index_dir} ({type(exc).__name__} : {exc}). {REBUILD_HINT}"
        ) from exc
    problem = inconsistency(
        manifest, chunks, sentence_texts, sentence_vectors, lexical, faiss_index, sentence_index
    )
    if problem:
        raise IndexMismatch(f"Index incohérent dans {index_dir} : {problem}. {REBUILD_HINT}")
    if not hash_now:
        integrity.check_in_background()
    return Index(
        chunks=chunks,
        faiss_index=faiss_index,
        lexical=lexical,
        sentence_vectors=sentence_vectors,
        sentence_ids={t: i for i, t in enumerate(sentence_texts)},
        manifest=manifest,
        sentence_index=sentence_index,
        integrity=integrity,
    )
