"""Step 2: tokenize the rows as pairs and pack the served model's weights for the GPU machine.

The word table keeps only the tokens the rows use, and every matrix is stored in 8 bits with a
scale per row, so that weights and data travel in about 24 MB (the device tool's limit is 64 MB
with the repository).
"""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
from chatbot.config import Settings  # noqa: E402

OUT = Path("build/ce_exp")
MAX_TOKENS = 160  # question and sentence together
PAD = 1  # XLM-R's padding id


def model_folder() -> Path:
    """The served model's folder (the embedder loads nothing until it embeds)."""
    return Path(Settings().embedder().path)


def quantized(weights: dict[str, np.ndarray], used: list[int]) -> dict[str, np.ndarray]:
    """Every matrix in 8 bits with a scale per row; the word table's used rows only."""
    out = {}
    for k, v in weights.items():
        if k.endswith("word_embeddings.weight"):
            v = v[used]
        if v.ndim == 2:
            scale = np.abs(v).max(axis=1, keepdims=True) / 127 + 1e-12
            out[k + ".q"] = np.round(v / scale).astype(np.int8)
            out[k + ".s"] = scale.astype(np.float32)
        else:
            out[k] = v.astype(np.float32)
    return out


def main() -> None:
    folder = model_folder()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    with open(OUT / "rows.json", encoding="utf-8") as f:
        data = json.load(f)
    qi, ci, seqs, labels = [], [], [], []
    for d_i, d in enumerate(data):
        for c_i, c in enumerate(d["cands"]):
            seqs.append(tokenizer.encode("query: " + d["q"], "passage: " + c["s"]).ids)
            labels.append(int(c["pos"]))
            qi.append(d_i)
            ci.append(c_i)
    used = sorted({i for s in seqs for i in s} | {0, 1, 2, 3})
    remap = {t: k for k, t in enumerate(used)}
    ids = np.full((len(seqs), max(len(s) for s in seqs)), remap[PAD], dtype=np.uint16)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = [remap[t] for t in s]
    weights = load_file(str(folder / "model.safetensors"))
    np.savez_compressed(OUT / "weights.npz", **quantized(weights, used))
    np.savez_compressed(
        OUT / "data.npz",
        ids=ids,
        lens=np.array([len(s) for s in seqs], dtype=np.int16),
        labels=np.array(labels, np.int8),
        qi=np.array(qi, np.int32),
        ci=np.array(ci, np.int16),
        pad=np.array([remap[PAD]]),
    )
    meta = [
        {
            "set": d["set"],
            "split": d["split"],
            "id": d["id"],
            "answerable": d["answerable"],
            "p": d.get("p"),
            "scores": [c.get("score") for c in d["cands"]],
        }
        for d in data
    ]
    with open(OUT / "meta.json", "w", encoding="utf-8") as f:
        json.dump(meta, f)
    shutil.copy(folder / "config.json", OUT / "config.json")
    print(f"{len(seqs)} pairs, {len(used)} tokens used, written to {OUT}")


if __name__ == "__main__":
    main()
