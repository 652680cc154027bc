"""The integrity of a built index's files: each at the size and sha256 its manifest records.

The manifest, written last, lists every file of the index with its size and sha256. Loading
checks every size at once and hashes the files it parses before parsing them; the vector
files are hashed before serving when the index is small, in the background otherwise. A file
truncated, altered or inconsistent with the others is refused, in French, with the command
that rebuilds the index.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot.errors import IndexMismatch
from chatbot.index.manifest import REBUILD_HINT

if TYPE_CHECKING:
    from chatbot.index.lexical import LexicalIndex
    from chatbot.index.vectors import SentenceVectors
    from chatbot.records import Chunk

__all__ = ["INDEX_FILES", "Integrity", "describe", "inconsistency"]

# Every file of a built index; the manifest, written last, lists them with size and sha256.
INDEX_FILES = (
    "passages.faiss",
    "sentences.faiss",
    "chunks.jsonl",
    "sentences.npy",
    "sentences.json",
    "lexical.npz",
)
# Read whole at load, so hashed from the bytes parsed, always (lexical.npz is a pickle: never
# parsed unverified). The vector files are hashed before serving when the index is small.
_READ_WHOLE = ("chunks.jsonl", "sentences.json", "lexical.npz")


def describe(path: Path) -> dict[str, Any]:
    """The file's entry in the manifest: its size and sha256."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


class Integrity:
    """The check of an index's files against its manifest: sizes at once, sha256 once.

    `problem` is None while nothing is wrong; `pending` while a background check runs.
    """

    def __init__(self, index_dir: Path, manifest: dict[str, Any]) -> None:
        """Checks at once that every file is listed in the manifest and has its size.

        Raises:
            IndexMismatch: a file is missing from the manifest or the folder, or its size differs.
        """
        self.index_dir = index_dir
        self.problem: str | None = None
        self.pending = False
        self.files = _listed_files(index_dir, manifest)  # name -> (size, sha256)
        for name, (size, _) in self.files.items():
            path = index_dir / name
            try:
                found = path.stat().st_size
            except OSError as exc:
                raise IndexMismatch(
                    f"Index incomplet : {path} illisible ({exc}). {REBUILD_HINT}"
                ) from exc
            if found != size:
                raise IndexMismatch(
                    f"Index abîmé : {path} fait {found} octets au lieu de {size} "
                    f"(tronqué ou remplacé). {REBUILD_HINT}"
                )
        self._thread: threading.Thread | None = None

    def read(self, name: str) -> bytes:
        """The file's bytes, checked against its size and sha256 before anything parses them."""
        path = self.index_dir / name
        data = path.read_bytes()
        size, digest = self.files[name]
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise self._altered(name)
        return data

    def vector_bytes(self) -> int:
        """Bytes of the files hashed apart from parsing: the vectors."""
        return sum(size for name, (size, _) in self.files.items() if name not in _READ_WHOLE)

    def check_vectors(self) -> None:
        """Hash the vector files; raises IndexMismatch (and keeps it in `problem`) on a change."""
        try:
            for name in self.files:
                if name not in _READ_WHOLE:
                    digest = describe(self.index_dir / name)["sha256"]
                    if digest != self.files[name][1]:
                        raise self._altered(name)
        except OSError as exc:
            self.problem = f"Index illisible dans {self.index_dir} ({exc}). {REBUILD_HINT}"
            raise IndexMismatch(self.problem) from exc
        except IndexMismatch as exc:
            self.problem = str(exc)
            raise
        finally:
            self.pending = False

    def check_all(self) -> None:
        """Hash every file now (e.g. before deciding that an index needs no rebuild)."""
        self.check_vectors()
        for name in _READ_WHOLE:
            self.read(name)

    def check_in_background(self) -> None:
        """`check_vectors` in a thread; `pending` until it ends, `problem` if it fails."""
        self.pending = True
        self._thread = threading.Thread(target=self._background, name="index-sha256", daemon=True)
        self._thread.start()

    def _background(self) -> None:
        with contextlib.suppress(IndexMismatch):  # kept in `problem`, read by /api/health
            self.check_vectors()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background check, if one runs."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _altered(self, name: str) -> IndexMismatch:
        return IndexMismatch(
            f"Index abîmé : {self.index_dir / name} a été modifié depuis sa construction. {REBUILD_HINT}"
        )


def _listed_files(index_dir: Path, manifest: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Each file of the index with the size and sha256 the manifest records for it."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexMismatch(f"Manifeste sans liste de fichiers dans {index_dir}. {REBUILD_HINT}")
    listed: dict[str, tuple[int, str]] = {}
    for name in INDEX_FILES:
        entry = files.get(name)
        size = entry.get("bytes") if isinstance(entry, dict) else None
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(size, int) or not isinstance(digest, str) or len(digest) != 64:
            raise IndexMismatch(
                f"Manifeste mal formé : {name} sans taille ni empreinte. {REBUILD_HINT}"
            )
        listed[name] = (size, digest)
    return listed


def inconsistency(
    manifest: dict[str, Any],
    chunks: list[Chunk],
    sentence_texts: list[str],
    sentence_vectors: SentenceVectors,
    lexical: LexicalIndex,
    faiss_index: Any,
    sentence_index: Any,
) -> str | None:
    """What does not add up between the files and the manifest, if anything."""
    n_chunks, n_sentences, dim = (
        manifest.get("chunks"),
        manifest.get("sentences"),
        manifest.get("dim"),
    )
    if len(chunks) != n_chunks or faiss_index.ntotal != n_chunks or lexical.n_docs != n_chunks:
        return (
            f"{len(chunks)} passages, {faiss_index.ntotal} vecteurs de passages, "
            f"{lexical.n_docs} dans l'index lexical, {n_chunks} selon le manifeste"
        )
    if not len(sentence_texts) == len(sentence_vectors) == sentence_index.ntotal == n_sentences:
        return (
            f"{len(sentence_texts)} phrases, {len(sentence_vectors)} vecteurs de phrases "
            f"({sentence_index.ntotal} dans FAISS), {n_sentences} selon le manifeste"
        )
    if n_chunks and (faiss_index.d != dim or (n_sentences and sentence_vectors.shape[1] != dim)):
        return f"vecteurs de dimension {faiss_index.d}, {dim} selon le manifeste"
    terms = len(lexical.terms)
    ptr = lexical.postings_ptr
    if (
        len(ptr) != terms + 1
        or len(lexical.idf) != terms
        or len(lexical.postings_doc) != len(lexical.postings_weight)
        or (terms and int(ptr[-1]) != len(lexical.postings_doc))
        or (len(lexical.postings_doc) and int(lexical.postings_doc.max()) >= n_chunks)
    ):
        return "index lexical incohérent"
    return None
