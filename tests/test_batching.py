"""Questions embedded together: a question that makes the model fail fails alone."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from chatbot.serve.batching import QueryBatcher


class GatedEmbedder:
    """Raises on any text holding "POISON"; holds its first call until `gate` is set, so that
    the requests sent meanwhile wait in one batch."""

    dim = 4

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.batches: list[int] = []

    def encode_query(self, texts: list[str]) -> np.ndarray:
        self.gate.wait()
        self.batches.append(len(texts))
        if any("POISON" in t for t in texts):
            raise TypeError("the tokenizer cannot take this text")
        return np.ones((len(texts), self.dim), dtype=np.float32)


def test_a_failing_question_fails_alone_and_its_batch_neighbours_get_their_vectors():
    embedder = GatedEmbedder()
    batcher = QueryBatcher(embedder, workers=1)
    results: dict[str, object] = {}

    def ask(text: str) -> None:
        try:
            results[text] = batcher.encode_query([text]).shape
        except TypeError as exc:
            results[text] = exc

    first = threading.Thread(target=ask, args=("warm-up",))
    first.start()  # taken by the worker, which now waits at the gate
    deadline = time.monotonic() + 10
    while batcher._queue and time.monotonic() < deadline:
        time.sleep(0.01)
    texts = [f"question {k}" for k in range(9)] + ["POISON"]
    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    while len(batcher._queue) < len(texts) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(batcher._queue) == len(texts), "the ten requests never waited together"
    embedder.gate.set()
    for t in [first, *threads]:
        t.join(timeout=10)

    assert embedder.batches[1] == 10  # they were one batch...
    assert isinstance(results["POISON"], TypeError)  # ...the bad one fails alone
    assert [results[t] for t in texts[:-1]] == [(1, 4)] * 9


def test_a_single_failing_question_gets_its_own_error():
    embedder = GatedEmbedder()
    embedder.gate.set()
    batcher = QueryBatcher(embedder, workers=1)
    with pytest.raises(TypeError):
        batcher.encode_query(["POISON"])
    assert batcher.encode_query(["ok"]).shape == (1, 4)  # the worker lives on
