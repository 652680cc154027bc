"""The embedding model at run time: multilingual-e5-small, from the folder the setup assembled.

`load_embedder` loads the folder `chatbot/build/assemble.py` wrote (the base model, or the
base model with the fine-tuned top layers of models/e5-small-piaf over it) and refuses a
missing or altered one (see model_folder.py) with the command that rebuilds it; it never
downloads. The vectors are e5's: mean pooling over the tokens, L2 norm, `query: ` /
`passage: ` prefixes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from chatbot.errors import ModelError
from chatbot.index.model_folder import (
    MODEL_DIRNAME,
    MODEL_ID,
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
    "padded",
]

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 512
# e5 was trained with these prefixes; without them its scores degrade.
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# From this many texts at once (a long message and its sentences), a second thread may help.
PARALLEL_FROM_TEXTS = 3


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

    def encode_query(self, texts: list[str]) -> np.ndarray:
        """Embed questions. Returns L2-normalized float32 vectors, shape (len(texts), dim)."""
        return self._encode(texts, QUERY_PREFIX, threads=query_threads(len(texts)))

    def encode_document(self, texts: list[str]) -> np.ndarray:
        """Embed passages. Returns L2-normalized float32 vectors, shape (len(texts), dim)."""
        return self._encode(texts, PASSAGE_PREFIX)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of `"passage: " + text`, <s> and </s> included, before any truncation
        (so a count above 512 shows the model would cut the text)."""
        check_texts(texts)
        return [
            len(ids)
            for ids in self._tokens().encode([PASSAGE_PREFIX + t for t in texts], truncate=False)
        ]

    def _encode(self, texts: list[str], prefix: str, threads: int | None = None) -> np.ndarray:
        check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model, tokenizer = self._loaded()
        import torch

        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)  # costs under a microsecond
        try:
            encodings = tokenizer.encode([prefix + t for t in texts])
            lengths = [len(ids) for ids in encodings]
            out = np.empty((len(texts), self.dim), np.float32)
            for rows in _batches(lengths, self.batch_size):
                # Padding is on the right, to each batch's own longest text.
                ids, mask = padded([encodings[i] for i in rows], tokenizer.pad_id)
                with torch.inference_mode():
                    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                # Mean pooling over the real tokens, then L2 normalization: the
                # sentence-transformers pipeline of multilingual-e5 (modules.json).
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        finally:
            torch.set_num_threads(previous)
        return out

    def _tokens(self) -> XlmrTokenizer:
        """The tokenizer alone, loaded on first use (counting tokens needs no torch)."""
        if self._tokenizer is None:
            self._tokenizer = XlmrTokenizer(self.path, MAX_SEQ_LENGTH)
        return self._tokenizer

    def _loaded(self) -> tuple[BertModel, XlmrTokenizer]:
        """The model and the tokenizer, loaded on first use.

        transformers' BertModel is called directly, without sentence-transformers: the
        vectors are the same (cosine 1.0), and the first answer of a fresh process comes
        sooner (measured on 2 busy cores: import + load 6.7-9.7 s instead of 11.9-15.1 s).
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


def padded(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded on the right to the longest row, and the attention mask."""
    import torch

    longest = max(map(len, rows))
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for k, row in enumerate(rows):
        ids[k, : len(row)] = torch.tensor(row)
        mask[k, : len(row)] = 1
    return ids, mask


def query_threads(n_texts: int) -> int:
    """Threads for embedding a message's texts: one, or two for a long message when a core is free.

    A question is a few dozen tokens: a second thread gains nothing there, and when the machine
    is busy each layer waits for it (measured on 2 cores at load 6: 309 ms per question with 2
    threads, 38 ms with 1). A long message is judged sentence by sentence as well (five to seven
    texts): there a second thread cut dev's p95 from 181 to 130 ms on an idle 2-core machine,
    and raised it to 359 ms beside one busy process. So the second thread is taken only when
    nothing else is running at that instant (the kernel's count of runnable tasks, this one
    included); the load average would notice a busy core a minute late.
    """
    cores = os.cpu_count() or 1
    if n_texts < PARALLEL_FROM_TEXTS or cores < 2:
        return 1
    return 2 if running_tasks() < cores else 1


def running_tasks() -> int:
    """Tasks runnable right now on the machine, the caller's included (Linux)."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 1 << 16  # not Linux, or unreadable: count the machine as busy


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
