"""Indexing a corpus folder, and knowing when its index is still current (`chatbot index`).

An index is current when it was built from these documents, by this code, with this model and
these chunking settings, and its files are whole: `make run` and `make test` rebuild it only
when one of these changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.config import Settings
from chatbot.errors import ChatbotError, CorpusError
from chatbot.index.chunk import ChunkSettings
from chatbot.index.store import (
    FORMAT_VERSION,
    Integrity,
    build_index,
    corpus_hash,
    read_manifest,
    save_index,
)
from chatbot.ingest.corpus import SkippedFile, load_corpus


@dataclass(frozen=True)
class IndexRun:
    manifest: dict[str, Any] | None  # None when the index was current and left as it was
    skipped: tuple[SkippedFile, ...]  # files of the corpus left out, with a French reason
    seconds: float


def index_corpus(settings: Settings, if_stale: bool = False, progress: bool = False) -> IndexRun:
    """Build the index of `settings.corpus_dir` into `settings.index_dir` (unless current).

    Raises:
        CorpusError: bad chunking settings, or a corpus folder with nothing to index.
    """
    t0 = time.perf_counter()
    corpus_dir, out_dir = settings.corpus_dir.resolve(), settings.index_dir
    digest = corpus_hash(corpus_dir) if corpus_dir.is_dir() else ""
    if if_stale and index_is_current(out_dir, digest, settings):
        return IndexRun(None, (), time.perf_counter() - t0)
    try:
        chunking = ChunkSettings(settings.chunk_tokens, settings.chunk_overlap_tokens)
    except ValueError as exc:
        raise CorpusError(str(exc)) from exc
    report = load_corpus(corpus_dir)
    index = build_index(report.documents, settings.embedder(), chunking, digest, progress=progress)
    index.manifest["corpus_dir"] = str(corpus_dir)
    save_index(index, out_dir)
    return IndexRun(index.manifest, tuple(report.skipped), time.perf_counter() - t0)


def index_is_current(out_dir: Path, digest: str, settings: Settings) -> bool:
    """True when the index was built from these documents, by this code, model and chunking."""
    if not (out_dir / "manifest.json").is_file():
        return False
    try:
        m = read_manifest(out_dir)
        Integrity(out_dir, m).check_all()
    except ChatbotError:
        return False  # an unreadable manifest, a missing, cut or altered file: rebuilt
    return (
        m.get("format_version") == FORMAT_VERSION
        and m.get("corpus_sha256") == digest
        and m.get("weights_sha256") == settings.weights_sha256()
        and m.get("chunking")
        == {
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        }
    )
