"""The manifest of a built index: what built it, and the check that it still fits.

`manifest.json` records the format version, the embedding model and its weights hash, the
chunking settings and the corpus hash (and, see integrity.py, the size and sha256 of every
file). Loading refuses an index built by other code, another model or other documents, with
the command that rebuilds it (`REBUILD_HINT`).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from chatbot.errors import IndexMismatch, IndexMissing
from chatbot.index.chunk import ChunkSettings
from chatbot.index.embed import Embedder
from chatbot.ingest.readers import SUPPORTED_EXTENSIONS

__all__ = [
    "FORMAT_VERSION",
    "REBUILD_HINT",
    "SUPPORTED_SUFFIXES",
    "check_manifest",
    "corpus_hash",
    "new_manifest",
    "read_manifest",
]

# 2: sentence FAISS index beside the passage index. 3: no passage ends on an announcement
# cut from its list; author lines are not embedded nor indexed. 4: only quotable sentences.
# 5: the manifest records the size and sha256 of every file.
# 8: the lexical index holds the abbreviations the documents define; a sentence without any
# French function word (an English article title) is not indexed as quotable. 9: texts are
# tokenized word by word, as tokenizer.json's Metaspace does (xlmr_tokenizer.py): a few
# near-tied words were cut otherwise.
FORMAT_VERSION = 9
REBUILD_HINT = "Reconstruisez l'index : `make index` (ou `chatbot index --corpus DOSSIER`)."
# Every file that ingestion may read; hashing a few extra files only costs a needless rebuild.
SUPPORTED_SUFFIXES = SUPPORTED_EXTENSIONS


def corpus_hash(corpus_dir: Path) -> str:
    """sha256 over the indexable files' relative paths and bytes: changes when a document does."""
    h = hashlib.sha256()
    files = sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    for path in files:
        h.update(path.relative_to(corpus_dir).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def new_manifest(
    embedder: Embedder,
    chunk_settings: ChunkSettings,
    corpus_digest: str,
    counts: dict[str, int],
    faiss_index: Any,
    timings: dict[str, float],
) -> dict[str, Any]:
    """What a fresh index records of what built it; `save_index` adds its files' entries.

    `counts` holds the numbers of documents, chunks and sentences, in that order.
    """
    return {
        "format_version": FORMAT_VERSION,
        "model_id": embedder.model_id,
        "weights_sha256": embedder.weights_sha256,
        "dim": embedder.dim,
        "chunking": asdict(chunk_settings),
        "corpus_sha256": corpus_digest,
        **counts,
        "faiss": type(faiss_index).__name__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_timings": {k: round(v, 2) for k, v in timings.items()},
    }


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """The manifest of the index in `index_dir`; IndexMissing when there is none."""
    path = index_dir / "manifest.json"
    if not path.is_file():
        raise IndexMissing(f"Aucun index dans {index_dir}. {REBUILD_HINT}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMismatch(f"Manifeste illisible ({path} : {exc}). {REBUILD_HINT}") from exc
    if not isinstance(manifest, dict):
        kind = type(manifest).__name__
        raise IndexMismatch(
            f"Manifeste mal formé ({path} : un objet JSON attendu, pas {kind}). {REBUILD_HINT}"
        )
    return manifest


def check_manifest(
    manifest: dict[str, Any], embedder: Embedder, corpus_digest: str | None = None
) -> None:
    """Raise IndexMismatch when the index was built by other code, model or documents."""
    problems = []
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        problems.append(f"format {_shown(found)} au lieu de {FORMAT_VERSION}")
    if manifest.get("weights_sha256") != embedder.weights_sha256:
        if manifest.get("model_id") == embedder.model_id:  # same name, other weights
            problems.append(
                f"poids du modèle {embedder.model_id!r} différents (empreinte "
                f"{str(manifest.get('weights_sha256'))[:12]} au lieu de {embedder.weights_sha256[:12]})"
            )
        else:
            problems.append(
                f"modèle {_shown(manifest.get('model_id'))} au lieu de {embedder.model_id!r}"
            )
    if corpus_digest is not None and manifest.get("corpus_sha256") != corpus_digest:
        problems.append("les documents du corpus ont changé depuis la construction")
    if problems:
        raise IndexMismatch("Index périmé : " + " ; ".join(problems) + ". " + REBUILD_HINT)


def _shown(value: Any) -> str:
    """A manifest value as the reader can tell it apart: « '4' (texte) », not « 4 »."""
    if value is None:
        return "absent"
    if isinstance(value, str):
        return f"{value[:60]!r}" + (" (texte)" if value.isdigit() else "")
    return repr(value)[:60]
