"""Vectors of a built index: embedding texts in batches, FAISS indexes, the sentence table.

Passages and sentences are embedded in batches of similar length; their vectors go into a
FAISS index (exact inner product, or an HNSW graph over 8-bit vectors for a large corpus).
The sentence table (`sentences.npy`) is read from disk a row at a time at each question
(`SentenceVectors`), and a large FAISS file is memory-mapped rather than copied.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.errors import IndexMismatch
from chatbot.index.manifest import REBUILD_HINT

__all__ = [
    "HNSW_THRESHOLD",
    "MMAP_FAISS_BYTES",
    "SentenceVectors",
    "encode_in_batches",
    "make_faiss",
    "read_faiss",
    "write_faiss",
    "write_sentence_table",
]

# A FAISS file above this is memory-mapped rather than copied (900 MB at 100,000 passages);
# a smaller one is read into memory, so that a file truncated under the server cannot kill it
# (a memory-mapped page that no longer exists is a SIGBUS).
MMAP_FAISS_BYTES = 64 * 1024 * 1024
# Above this many passages an exact flat search gets slow; an HNSW graph keeps queries fast.
HNSW_THRESHOLD = 50_000


def encode_in_batches(
    encode: Callable[[list[str]], np.ndarray], texts: list[str], progress: bool, batch: int = 64
) -> np.ndarray:
    """The texts' vectors as float32 rows, in the texts' order; `progress` shows a bar."""
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


def make_faiss(vectors: np.ndarray, dim: int) -> Any:
    """A FAISS index over the vectors: exact search, or HNSW above `HNSW_THRESHOLD` rows."""
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


def read_faiss(path: Path) -> Any:
    """A FAISS index from its file; a large one stays on disk, memory-mapped."""
    import faiss

    if path.stat().st_size > MMAP_FAISS_BYTES:
        # The vectors inside stay on disk (IO_FLAG_MMAP_IFC): at 100,000 passages they are
        # ~900 MB the server would otherwise copy into its memory.
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    return faiss.read_index(str(path))


def write_faiss(path: Path, index: Any) -> None:
    """Write a FAISS index aside, then rename it over `path`.

    A running server memory-maps a large FAISS file (see `read_faiss`): truncating it in place
    under the server would crash it (SIGBUS), while a renamed file leaves its open copy intact.
    """
    import faiss

    partial = path.with_name(f"{path.name}.partial")
    faiss.write_index(index, str(partial))
    os.replace(partial, path)


def write_sentence_table(path: Path, vectors: np.ndarray | SentenceVectors) -> None:
    """Write the table `SentenceVectors` reads, aside then renamed like the FAISS files."""
    partial = path.with_name(f"{path.name}.partial")
    with partial.open("wb") as f:
        np.save(f, vectors)
    os.replace(partial, path)


class SentenceVectors:
    """The sentence table on disk, read a row at a time.

    A question reads the rows of a few dozen candidate sentences; at 100,000 passages the
    table is ~740 MB. Memory-mapping it is no cure: the page cache hands out large folios, so
    each row read maps hundreds of KB (measured: 1,000 random rows -> 500 MB resident).
    """

    def __init__(self, path: Path) -> None:
        with path.open("rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(f)
            self._offset = f.tell()
        if fortran or len(shape) != 2 or np.dtype(dtype) != np.float32:
            raise ValueError(f"{path}: table float32 (n, dim) attendue, pas {shape} {dtype}")
        self.shape: tuple[int, int] = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        self.path = path
        self._fd = os.open(
            path, os.O_RDONLY
        )  # the file may be replaced (os.replace): this fd keeps the old one
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
