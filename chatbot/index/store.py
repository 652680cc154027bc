"""The built index: passages, their vectors in FAISS, a lexical index and sentence vectors.

It is a versioned artefact. `manifest.json` records the format version, the embedding model
and its weights hash, the chunking settings, the corpus hash and the size and sha256 of every
file; loading checks them and refuses an index that does not match, or a file that is
truncated, altered or inconsistent with the others, with the command that rebuilds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.errors import IndexMismatch, IndexMissing
from chatbot.index.chunk import ChunkSettings, chunk_documents, quotable
from chatbot.index.embed import Embedder
from chatbot.index.lexical import LexicalIndex
from chatbot.records import Chunk, Document, Sentence
from chatbot.text.normalize import BYLINE

# 2: sentence FAISS index beside the passage index. 3: no passage ends on an announcement
# cut from its list; author lines are not embedded nor indexed. 4: only quotable sentences.
# 5: the manifest records the size and sha256 of every file.
FORMAT_VERSION = 5
REBUILD_HINT = "Reconstruisez l'index : `make index` (ou `chatbot index --corpus DOSSIER`)."
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
# Up to this many bytes of vector files, they are hashed at load (sha256 runs at ~1 GB/s
# here: about 0.25 s); a larger index is served at once and hashed in the background.
HASH_AT_LOAD_BYTES = 256 * 1024 * 1024
# A FAISS file above this is memory-mapped rather than copied (900 MB at 100,000 passages);
# a smaller one is read into memory, so that a file truncated under the server cannot kill it
# (a memory-mapped page that no longer exists is a SIGBUS).
MMAP_FAISS_BYTES = 64 * 1024 * 1024
# Above this many passages an exact flat search gets slow; an HNSW graph keeps queries fast.
HNSW_THRESHOLD = 50_000


@dataclass
class Index:
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
            self.sentence_index = _make_faiss(vectors, vectors.shape[1])
        if not self.sentence_chunks:
            # Overlapping passages share sentences: a sentence row may belong to several.
            self.sentence_chunks = [[] for _ in range(len(self.sentence_vectors))]
            for i, chunk in enumerate(self.chunks):
                for s in chunk.sentences:
                    row = self.sentence_ids.get(s.text)
                    if row is not None and (not self.sentence_chunks[row] or self.sentence_chunks[row][-1] != i):
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
        if not self._doc_spans:
            for i, chunk in enumerate(self.chunks):
                start, _ = self._doc_spans.get(chunk.doc_id, (i, i))
                self._doc_spans[chunk.doc_id] = (start, i + 1)
        start, end = self._doc_spans.get(doc_id, (0, 0))
        return _joined(tuple(c.text for c in self.chunks[start:end]))


@lru_cache(maxsize=256)
def _joined(texts: tuple[str, ...]) -> str:
    return "\n\n".join(texts)


# Every file that ingestion may read; hashing a few extra files only costs a needless rebuild.
SUPPORTED_SUFFIXES = (".md", ".txt", ".html", ".htm", ".pdf")


def corpus_hash(corpus_dir: Path) -> str:
    """sha256 over the indexable files' relative paths and bytes: changes when a document does."""
    h = hashlib.sha256()
    files = sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    for path in files:
        h.update(path.relative_to(corpus_dir).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def passage_text(chunk: Chunk) -> str:
    """What is embedded and lexically indexed: the title helps short passages be found.

    Author paragraphs are left out: who wrote a passage says nothing of what it is about, and the
    author's "Médecine Physique et Réadaptation" made the article's introduction the best
    passage for every question on "activité physique". The shown passage keeps them.
    Titles are cut to 30 words so that title + passage stay inside the model's window.
    """
    text = "\n\n".join(p for p in chunk.text.split("\n\n") if not BYLINE.match(p.strip()))
    return f"{' '.join(chunk.title.split()[:30])}\n{text}"


def build_index(
    documents: list[Document],
    embedder: Embedder,
    chunk_settings: ChunkSettings,
    corpus_digest: str,
    progress: bool = False,
) -> Index:

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    chunks = chunk_documents(documents, embedder.count_tokens, chunk_settings)
    timings["chunk_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    vectors = _encode(embedder.encode_document, [passage_text(c) for c in chunks], progress)
    # Overlapping passages share sentences: each distinct sentence is embedded once. Only the
    # sentences an answer can quote: a heading or a reference ranks nothing and is never quoted.
    sentence_texts = list(dict.fromkeys(s.text for c in chunks for s in c.sentences if quotable(s.text)))
    sentence_vectors = _encode(embedder.encode_document, sentence_texts, progress)
    timings["embed_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lexical = LexicalIndex.build([passage_text(c) for c in chunks])
    faiss_index = _make_faiss(vectors, embedder.dim)
    timings["index_s"] = time.perf_counter() - t0

    manifest = {
        "format_version": FORMAT_VERSION,
        "model_id": embedder.model_id,
        "weights_sha256": embedder.weights_sha256,
        "dim": embedder.dim,
        "chunking": asdict(chunk_settings),
        "corpus_sha256": corpus_digest,
        "documents": len(documents),
        "chunks": len(chunks),
        "sentences": len(sentence_texts),
        "faiss": type(faiss_index).__name__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_timings": {k: round(v, 2) for k, v in timings.items()},
    }
    return Index(
        chunks=chunks,
        faiss_index=faiss_index,
        lexical=lexical,
        sentence_vectors=sentence_vectors,
        sentence_ids={t: i for i, t in enumerate(sentence_texts)},
        manifest=manifest,
    )


def _encode(encode: Any, texts: list[str], progress: bool, batch: int = 64) -> np.ndarray:
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    # Sorting by length keeps padding low inside a batch; the order is restored afterwards.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = []
    steps = range(0, len(order), batch)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="vecteurs", unit="lot", leave=False)
    for start in steps:
        parts.append(encode([texts[i] for i in order[start : start + batch]]))
    stacked = np.vstack(parts).astype(np.float32)
    out = np.empty_like(stacked)
    out[np.asarray(order)] = stacked
    return out


def _make_faiss(vectors: np.ndarray, dim: int) -> Any:
    import faiss

    if dim == 0:
        dim = 1  # an empty corpus still gets a (empty) valid index
    index: Any
    if len(vectors) > HNSW_THRESHOLD:
        # Vectors stored on 8 bits a component, a quarter of float32: at 100,000 passages and
        # their ~480,000 sentences that is ~650 MB less, for cosine errors around 1e-3.
        qt_8bit: Any = faiss.ScalarQuantizer.QT_8bit  # an int; the stubs say otherwise
        index = faiss.IndexHNSWSQ(dim, qt_8bit, 32, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(vectors, dtype=np.float32))
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


# --- persistence ----------------------------------------------------------------------------
class SentenceVectors:
    """The sentence table on disk, read a row at a time.

    A question reads the rows of a few dozen candidate sentences; at 100,000 passages the
    table is ~740 MB. Memory-mapping it is no cure: the page cache hands out large folios, so
    each row read maps hundreds of KB (measured: 1,000 random rows -> 500 MB resident).
    """

    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if fortran or len(shape) != 2 or np.dtype(dtype) != np.float32:
            raise ValueError(f"{path}: table float32 (n, dim) attendue, pas {shape} {dtype}")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)  # the file may be replaced (os.replace): this fd keeps the old one
        problem = self.problem()  # a table shorter or longer than its header says is refused
        if problem is not None:
            raise ValueError(problem)

    def problem(self) -> str | None:
        """Why the open file cannot hold the table its header announces, if it cannot."""
        expected = self._offset + self.shape[0] * self._row_bytes
        size = os.fstat(self._fd).st_size
        if size != expected:
            return f"{self.path.name} : {size} octets au lieu de {expected} (fichier tronqué ou modifié)"
        return None

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, row: int) -> np.ndarray:
        if not 0 <= row < self.shape[0]:
            raise IndexError(f"sentence row {row} outside 0..{self.shape[0] - 1}")
        data = os.pread(self._fd, self._row_bytes, self._offset + int(row) * self._row_bytes)
        if len(data) != self._row_bytes:  # the file was cut under the running server
            raise IndexMismatch(f"Index abîmé : {self.problem()}. {REBUILD_HINT}")
        return np.frombuffer(data, dtype=self.dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole table, read into memory (saving a loaded index, tests)."""
        table = np.frombuffer(
            os.pread(self._fd, self._row_bytes * self.shape[0], self._offset), dtype=self.dtype
        ).reshape(self.shape)
        return table if dtype is None else table.astype(dtype)

    def __del__(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.close(self._fd)


def save_index(index: Index, out_dir: Path) -> None:
    import faiss

    out_dir.mkdir(parents=True, exist_ok=True)
    # No manifest while the files change: an interrupted rebuild leaves no index, not a mix.
    (out_dir / "manifest.json").unlink(missing_ok=True)
    # Vector files are written aside and renamed: a running server memory-maps them (see
    # load_index), and truncating one in place under it would crash it (SIGBUS).
    for name, faiss_index in (("passages.faiss", index.faiss_index), ("sentences.faiss", index.sentence_index)):
        faiss.write_index(faiss_index, str(out_dir / f"{name}.partial"))
        os.replace(out_dir / f"{name}.partial", out_dir / name)
    with (out_dir / "chunks.jsonl").open("w", encoding="utf-8") as f:
        for c in index.chunks:
            f.write(json.dumps(_chunk_to_dict(c), ensure_ascii=False) + "\n")
    partial = out_dir / "sentences.npy.partial"
    with partial.open("wb") as f:
        np.save(f, index.sentence_vectors)
    os.replace(partial, out_dir / "sentences.npy")
    with (out_dir / "sentences.json").open("w", encoding="utf-8") as f:
        json.dump(sorted(index.sentence_ids, key=index.sentence_ids.__getitem__), f, ensure_ascii=False)
    arrays: dict[str, Any] = index.lexical.to_arrays()
    np.savez(out_dir / "lexical.npz", **arrays)
    # The manifest is written last: a build interrupted half-way leaves no valid index.
    manifest = {**index.manifest, "files": {name: _describe(out_dir / name) for name in INDEX_FILES}}
    partial = out_dir / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(partial, out_dir / "manifest.json")
    index.manifest = manifest


def _describe(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = index_dir / "manifest.json"
    if not path.is_file():
        raise IndexMissing(f"Aucun index dans {index_dir}. {REBUILD_HINT}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMismatch(f"Manifeste illisible ({path} : {exc}). {REBUILD_HINT}") from exc
    if not isinstance(manifest, dict):
        kind = type(manifest).__name__
        raise IndexMismatch(f"Manifeste mal formé ({path} : un objet JSON attendu, pas {kind}). {REBUILD_HINT}")
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
            problems.append(f"modèle {_shown(manifest.get('model_id'))} au lieu de {embedder.model_id!r}")
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


class Integrity:
    """The check of an index's files against its manifest: sizes at once, sha256 once.

    `problem` is None while nothing is wrong; `pending` while a background check runs.
    """

    def __init__(self, index_dir: Path, manifest: dict[str, Any]) -> None:
        self.index_dir = index_dir
        self.problem: str | None = None
        self.pending = False
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise IndexMismatch(f"Manifeste sans liste de fichiers dans {index_dir}. {REBUILD_HINT}")
        self.files: dict[str, tuple[int, str]] = {}
        for name in INDEX_FILES:
            entry = files.get(name)
            size = entry.get("bytes") if isinstance(entry, dict) else None
            digest = entry.get("sha256") if isinstance(entry, dict) else None
            if not isinstance(size, int) or not isinstance(digest, str) or len(digest) != 64:
                raise IndexMismatch(f"Manifeste mal formé : {name} sans taille ni empreinte. {REBUILD_HINT}")
            self.files[name] = (size, digest)
        for name, (size, _) in self.files.items():
            path = index_dir / name
            try:
                found = path.stat().st_size
            except OSError as exc:
                raise IndexMismatch(f"Index incomplet : {path} illisible ({exc}). {REBUILD_HINT}") from exc
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
            raise IndexMismatch(f"Index abîmé : {path} a été modifié depuis sa construction. {REBUILD_HINT}")
        return data

    def vector_bytes(self) -> int:
        return sum(size for name, (size, _) in self.files.items() if name not in _READ_WHOLE)

    def check_vectors(self) -> None:
        """Hash the vector files; raises IndexMismatch (and keeps it in `problem`) on a change."""
        try:
            for name in self.files:
                if name not in _READ_WHOLE:
                    digest = _describe(self.index_dir / name)["sha256"]
                    if digest != self.files[name][1]:
                        raise IndexMismatch(
                            f"Index abîmé : {self.index_dir / name} a été modifié depuis sa "
                            f"construction. {REBUILD_HINT}"
                        )
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
        self.pending = True
        self._thread = threading.Thread(target=self._background, name="index-sha256", daemon=True)
        self._thread.start()

    def _background(self) -> None:
        with contextlib.suppress(IndexMismatch):  # kept in `problem`, read by /api/health
            self.check_vectors()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


def load_index(index_dir: Path, embedder: Embedder, corpus_digest: str | None = None) -> Index:
    manifest = read_manifest(index_dir)
    check_manifest(manifest, embedder, corpus_digest)
    integrity = Integrity(index_dir, manifest)  # every file present, at its size
    hash_now = integrity.vector_bytes() <= HASH_AT_LOAD_BYTES
    if hash_now:
        integrity.check_vectors()
    try:
        chunks = [
            _chunk_from_dict(json.loads(line))
            for line in integrity.read("chunks.jsonl").decode("utf-8").split("\n")
            if line  # split on "\n" only: a passage may hold U+2028, which splitlines() cuts at
        ]
        sentence_texts = [sys.intern(t) for t in json.loads(integrity.read("sentences.json").decode("utf-8"))]
        sentence_vectors = SentenceVectors(index_dir / "sentences.npy")
        with np.load(io.BytesIO(integrity.read("lexical.npz")), allow_pickle=True) as arrays:
            lexical = LexicalIndex.from_arrays(dict(arrays))
        faiss_index = _read_faiss(index_dir / "passages.faiss")
        sentence_index = _read_faiss(index_dir / "sentences.faiss")
    except IndexMismatch:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError,
            EOFError, zipfile.BadZipFile) as exc:
        raise IndexMismatch(f"Index abîmé dans {index_dir} ({type(exc).__name__} : {exc}). {REBUILD_HINT}") from exc
    problem = _inconsistency(manifest, chunks, sentence_texts, sentence_vectors, lexical, faiss_index, sentence_index)
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


def _read_faiss(path: Path) -> Any:
    import faiss

    if path.stat().st_size > MMAP_FAISS_BYTES:
        # The vectors inside stay on disk (IO_FLAG_MMAP_IFC): at 100,000 passages they are
        # ~900 MB the server would otherwise copy into its memory.
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    return faiss.read_index(str(path))


def _inconsistency(
    manifest: dict[str, Any],
    chunks: list[Chunk],
    sentence_texts: list[str],
    sentence_vectors: SentenceVectors,
    lexical: LexicalIndex,
    faiss_index: Any,
    sentence_index: Any,
) -> str | None:
    """What does not add up between the files and the manifest, if anything."""
    n_chunks, n_sentences, dim = manifest.get("chunks"), manifest.get("sentences"), manifest.get("dim")
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


def _chunk_to_dict(c: Chunk) -> dict[str, Any]:
    d = asdict(c)
    d["sentences"] = [[s.start, s.end] for s in c.sentences]
    return d


def _chunk_from_dict(d: dict[str, Any]) -> Chunk:
    text = d["text"]
    # Interned: the same string object as the key of `sentence_ids` (see load_index), not a
    # second copy of every sentence (measured: 150 MB less at 100,000 passages).
    sentences = tuple(Sentence(text=sys.intern(text[a:b]), start=a, end=b) for a, b in d["sentences"])
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
    )


__all__ = [
    "FORMAT_VERSION",
    "INDEX_FILES",
    "Integrity",
    "SUPPORTED_SUFFIXES",
    "Index",
    "build_index",
    "check_manifest",
    "corpus_hash",
    "load_index",
    "read_manifest",
    "save_index",
]
