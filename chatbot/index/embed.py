"""The embedding model at run time: multilingual-e5-small, from the folder the setup assembled.

`load_embedder` loads the folder `chatbot/build/assemble.py` wrote (the base model, or the
base model with the fine-tuned top layers of models/e5-small-piaf over it) and refuses a
missing or altered one (see model_folder.py) with the command that rebuilds it; it never
downloads. The vectors are e5's: mean pooling over the tokens, L2 norm, `query: ` /
`passage: ` prefixes.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from chatbot.errors import ModelError
from chatbot.index.model_folder import (
    MODEL_DIRNAME,
    MODEL_ID,
    ONNX_FILE,
    SETUP_HINT,
    WEIGHTS_SHA256,
    TunedLayers,
    folder_problem,
)
from chatbot.index.xlmr_tokenizer import XlmrTokenizer

if TYPE_CHECKING:  # heavy imports stay inside the functions that need them
    import torch
    from transformers import BertModel

# The model folder's names, hashes and checks are in model_folder.py (build time shares them).
__all__ = [
    "EMBEDDING_DIM",
    "MAX_SEQ_LENGTH",
    "PASSAGE_PREFIX",
    "QUERY_PREFIX",
    "E5Embedder",
    "Embedder",
    "check_texts",
    "load_embedder",
    "open_session",
    "padded",
    "padded_arrays",
]

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 512
# e5 was trained with these prefixes; without them its scores degrade.
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


class Embedder(Protocol):
    """What the index, the retriever and the risk detector need from an embedding model."""

    dim: int
    model_id: str
    weights_sha256: str

    def encode_query(self, texts: list[str]) -> np.ndarray: ...

    def encode_document(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


# --- embedders --------------------------------------------------------------------------


def load_embedder(
    cache_dir: Path, *, layers: Path | None = None, batch_size: int = 8
) -> E5Embedder:
    """The real embedder, from the folder `assemble_model` built; never downloads.

    Raises:
        ModelError: the folder is missing, incomplete or altered.
    """
    if layers is None:
        return E5Embedder(Path(cache_dir) / MODEL_DIRNAME, batch_size=batch_size)
    tuned = TunedLayers(Path(layers))
    folder = Path(cache_dir) / f"{MODEL_DIRNAME}-{tuned.folder.name}"
    return E5Embedder(
        folder, batch_size=batch_size, model_id=tuned.model_id, weights_sha256=tuned.weights_sha256
    )


class E5Embedder:
    """multilingual-e5-small (BertModel, mean pooling, L2 norm); the model loads on first use."""

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 8,
        model_id: str = MODEL_ID,
        weights_sha256: str = WEIGHTS_SHA256,
    ) -> None:
        """
        Args:
            path: an assembled model folder (see `assemble_model`).
            batch_size: texts per forward pass (sorted by length, so a batch pads little).
                On 2 cores, the corpus's 80 passages + 391 sentences took 13 s with 8,
                14 s with 16 and 17 s with 32: smaller batches stay in the CPU caches.

        Raises:
            ModelError: the folder is missing, incomplete or altered.
        """
        if batch_size <= 0:
            raise ValueError(f"batch_size must be greater than 0. Currently, it is {batch_size}")
        problem = folder_problem(Path(path), model_id, weights_sha256)
        if problem is not None:
            raise ModelError(f"{problem} : {SETUP_HINT}.")
        self.path = Path(path)
        self.batch_size = batch_size
        self.dim = EMBEDDING_DIM
        self.model_id = model_id
        self.weights_sha256 = weights_sha256
        self._model: BertModel | None = None
        self._tokenizer: XlmrTokenizer | None = None
        self._sessions: dict[int, Any] = {}  # threads -> ONNX Runtime session
        self._helper: ThreadPoolExecutor | None = None  # a long message's second core

    def encode_query(self, texts: list[str]) -> np.ndarray:
        """Embed questions. Returns L2-normalized float32 vectors, shape (len(texts), dim).

        On one thread: a question is a few dozen tokens, where a second thread gains little,
        and when the machine is busy each layer would wait for it (measured with PyTorch on 2
        cores at load 6: 309 ms per question with 2 threads, 38 ms with 1). Requests served
        at the same time each take their own core.

        A long message is embedded whole and sentence by sentence (five to seven texts, in
        two to four batches): when a core is free at that instant, its batches are shared
        between this thread and a helper, each on the same one-thread session (ONNX Runtime
        runs concurrent calls of one session; the model is held once). The vectors are the
        same; dev's p95 on an idle 2-core machine 123 -> 72 ms, unchanged beside a busy
        process (docs/history.md).
        """
        return self._encode(texts, QUERY_PREFIX, threads=1)

    def encode_document(self, texts: list[str]) -> np.ndarray:
        """Embed passages, on every core. Returns L2-normalized float32 vectors."""
        return self._encode(texts, PASSAGE_PREFIX, threads=os.cpu_count() or 1)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of `"passage: " + text`, <s> and </s> included, before any truncation
        (so a count above 512 shows the model would cut the text)."""
        check_texts(texts)
        return [
            len(ids)
            for ids in self._tokens().encode([PASSAGE_PREFIX + t for t in texts], truncate=False)
        ]

    def _encode(self, texts: list[str], prefix: str, threads: int) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        session, tokenizer = self._session(threads), self._tokens()
        encodings = tokenizer.encode([prefix + t for t in texts])
        out = np.empty((len(texts), self.dim), np.float32)

        def run(batches: list[list[int]]) -> None:
            for rows in batches:
                # Padding is on the right, to each batch's own longest text; the graph pools
                # over the real tokens (build/onnx_model.py), the norm is taken here.
                ids, mask = padded_arrays([encodings[i] for i in rows], tokenizer.pad_id)
                pooled = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
                norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                out[rows] = pooled / np.maximum(norms, 1e-12)

        lengths = [len(ids) for ids in encodings]
        batches = _batches(lengths, self.batch_size)
        if threads == 1 and len(batches) > 1 and core_free():
            mine, helped = _shared(batches, lengths)
            if self._helper is None:
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="embed-helper")
            done = self._helper.submit(run, helped)
            run(mine)
            done.result()
        else:
            run(batches)
        return out

    def _session(self, threads: int) -> Any:
        """The ONNX Runtime session on `threads` threads, made on first use (one per count)."""
        session = self._sessions.get(threads)
        if session is None:
            session = self._sessions[threads] = open_session(self.path / ONNX_FILE, threads)
        return session

    def _tokens(self) -> XlmrTokenizer:
        """The tokenizer alone, loaded on first use (counting tokens needs no model)."""
        if self._tokenizer is None:
            self._tokenizer = XlmrTokenizer(self.path, MAX_SEQ_LENGTH)
        return self._tokenizer

    def _loaded(self) -> tuple[BertModel, XlmrTokenizer]:
        """The PyTorch model — the reference the ONNX graph was checked against at assembly —
        and the tokenizer: for fine-tuning and the tests, never for serving.

        transformers' BertModel is called directly, without sentence-transformers: the
        vectors are the same (cosine 1.0).
        """
        if self._model is None:
            import torch
            from transformers import BertModel

            # torch defaults to half the cores on some machines; encoding is CPU-bound.
            torch.set_num_threads(os.cpu_count() or 1)
            # local_files_only: a local folder must never turn into a hub lookup, even when
            # HF_HUB_OFFLINE is not set.
            self._model = BertModel.from_pretrained(str(self.path), local_files_only=True).eval()
        return self._model, self._tokens()


def open_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session over `path`, on `threads` threads that never spin.

    A spinning thread keeps a core busy between two runs, taken from the other request or
    process on a 2-core machine.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # the graph optimizer's notes are not the user's
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def padded_arrays(rows: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded on the right to the longest row, and the attention mask (int64)."""
    longest = max(map(len, rows))
    ids = np.full((len(rows), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for k, row in enumerate(rows):
        ids[k, : len(row)] = row
        mask[k, : len(row)] = 1
    return ids, mask


def padded(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`padded_arrays` as torch tensors, for the PyTorch model (fine-tuning)."""
    import torch

    ids, mask = padded_arrays(rows, pad_id)
    return torch.from_numpy(ids), torch.from_numpy(mask)


def core_free() -> bool:
    """Whether a second core is idle right now: fewer runnable tasks than cores, this one
    included (the kernel's instantaneous count; the load average would notice a busy core a
    minute late). A second thread beside a busy process waits for it: measured with PyTorch,
    a p95 of 359 ms and a maximum of 794 ms instead of 178 ms (docs/history.md)."""
    cores = os.cpu_count() or 1
    return cores > 1 and running_tasks() < cores


def running_tasks() -> int:
    """Tasks runnable right now on the machine, the caller's included (Linux)."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 1 << 16  # not Linux, or unreadable: count the machine as busy


def _shared(
    batches: list[list[int]], lengths: list[int]
) -> tuple[list[list[int]], list[list[int]]]:
    """The batches in two shares of about equal work (rows times padded length), the
    costliest first, each to the share with less work so far."""
    shares: tuple[list[list[int]], list[list[int]]] = ([], [])
    work = [0, 0]

    def cost(rows: list[int]) -> int:
        return len(rows) * max(lengths[i] for i in rows)

    for rows in sorted(batches, key=cost, reverse=True):
        lighter = 0 if work[0] <= work[1] else 1
        shares[lighter].append(rows)
        work[lighter] += cost(rows)
    return shares


def _batches(lengths: list[int], size: int) -> list[list[int]]:
    """Rows grouped by token length, so that a batch pads little: a long message and its short
    sentences are not padded to the same length (measured on one thread, a 400-character
    message and its four sentences: 200-270 ms grouped, 310-540 ms in one padded batch)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        if current is None or len(current) >= size or lengths[i] > 1.3 * lengths[current[0]] + 8:
            batches.append([i])
        else:
            current.append(i)
    return batches


def check_texts(texts: list[str]) -> None:
    # A bare string would be embedded character by character: refuse it at the edge.
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"texts must be a list of str. Currently, it is {type(texts).__name__}")
