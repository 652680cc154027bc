"""Encode the questions of concurrent web requests together: one forward pass for many.

On a 2-core machine one question costs ~50 ms of model time but sixteen cost ~220 ms together,
so under load batching multiplies the throughput of the embedding step. `workers` background
threads (one per core: the model encodes a question on one thread) take what is waiting, up
to `max_batch`; each request waits for its own vector. With one request at a time the batch
is that request alone, and nothing waits. A request whose text makes the model fail gets the
error alone; the others of its batch get their vectors.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class _Pending:
    text: str
    done: threading.Event = field(default_factory=threading.Event)
    vector: np.ndarray | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Wraps an embedder; `encode_query([one question])` calls are batched across threads."""

    def __init__(self, embedder: Any, max_batch: int = 32, workers: int = 2) -> None:
        if max_batch <= 0:
            raise ValueError(f"max_batch must be greater than 0. Currently, it is {max_batch}")
        if workers <= 0:
            raise ValueError(f"workers must be greater than 0. Currently, it is {workers}")
        self.embedder = embedder
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        for k in range(workers):
            threading.Thread(target=self._run, name=f"query-batcher-{k}", daemon=True).start()

    def __getattr__(self, name: str) -> Any:  # dim, model_id, encode_document...
        return getattr(self.embedder, name)

    def encode_query(self, texts: list[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.embedder.encode_query(texts)
        item = _Pending(texts[0])
        with self._ready:
            self._queue.append(item)
            self._ready.notify()
        item.done.wait()
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector[None, :]

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
                batch = [
                    self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))
                ]
            self._encode(batch)
            for p in batch:
                p.done.set()

    def _encode(self, batch: list[_Pending]) -> None:
        """Fill in each request's vector, or its own error: one bad text fails alone."""
        try:
            vectors = self.embedder.encode_query([p.text for p in batch])
            for p, v in zip(batch, vectors, strict=True):
                p.vector = v
        except BaseException as exc:  # the worker must outlive any failure, or requests hang
            if len(batch) == 1:  # handed to the waiting request, which raises it
                batch[0].error = exc
                return
            # Which text failed is unknown: each is encoded again on its own, so that its
            # neighbours are answered (one failed batch once gave a 500 to 63 % of requests).
            for p in batch:
                self._encode([p])
