"""A deterministic stand-in for the embedding model, for fast unit tests: no torch, no weights.

Texts sharing word stems get close vectors, so retrieval behaves sensibly on a toy corpus.
"""

from __future__ import annotations

import hashlib

import numpy as np

from chatbot.index.embed import check_texts
from chatbot.text.normalize import words


class FakeEmbedder:
    """Deterministic stand-in for unit tests: texts sharing word stems get close vectors."""

    def __init__(self, dim: int = 256) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be greater than 0. Currently, it is {dim}")
        self.dim = dim
        self.model_id = f"fake-stem-hash-{dim}"
        self.weights_sha256 = hashlib.sha256(self.model_id.encode()).hexdigest()

    def encode_query(self, texts: list[str]) -> np.ndarray:
        """Embed questions (same vectors as documents: the fake has no prefixes)."""
        return self._encode(texts)

    def encode_document(self, texts: list[str]) -> np.ndarray:
        """Embed passages."""
        return self._encode(texts)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Roughly what XLM-R gives for French: 1.3 tokens a word, plus <s> and </s>."""
        check_texts(texts)
        return [int(1.3 * len(t.split())) + 2 for t in texts]

    def _encode(self, texts: list[str]) -> np.ndarray:
        check_texts(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            # Stems of 6 letters so "traitement" and "traitements" share a bucket; words of
            # fewer than 3 letters ("de", "la") carry no meaning here.
            tokens = words(text)
            stems = [w[:6] for w in tokens if len(w) >= 3] or [" ".join(tokens) or text]
            for stem in stems:
                out[i, _bucket(stem, self.dim)] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _bucket(word: str, dim: int) -> int:
    # blake2b, not hash(): Python salts str hashes per process, tests need stable vectors
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little") % dim
