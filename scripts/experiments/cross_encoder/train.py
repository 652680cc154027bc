"""Step 3, on the GPU machine: fine-tune e5 as a cross-encoder, score the validation rows.

One binary head over the mean of the last layer (binary cross-entropy, positives weighed 3),
AdamW, bf16; each configuration writes its validation scores to $OUT/<name>.npz.
Environment: DATA (pack.py's folder), OUT, ONLY (names, comma-separated), BUDGET_S (skip the
configurations that would start later), SMOKE=1 (a few batches, on a CPU too).
"""

import json
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import BertConfig, BertModel

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SMOKE = os.environ.get("SMOKE") == "1"


@dataclass(frozen=True)
class Config:
    name: str
    layers: int
    epochs: int
    piaf_share: float  # share of PIAF's rows per epoch
    corpus_repeat: int  # times dev and the pairs are repeated per epoch
    lr: float = 4e-5
    # the word table frozen, so that a shipped model could share the served one
    frozen: bool = False


CONFIGS = (
    Config("B12_mix", 12, 3, 1.0, 3),
    Config("C6_mix", 6, 3, 1.0, 3),
    Config("A12_corpus", 12, 6, 0.0, 1),
    Config("D4_mix", 4, 3, 1.0, 3),
    Config("E12_piaf", 12, 2, 1.0, 0),
    Config("F12_mix_long", 12, 5, 1.0, 3),
    # sizes a 2-core machine could train in the 45-minute budget (H4 is 1.5 times over it)
    Config("G4_frozen_half", 4, 2, 0.5, 3, frozen=True),
    Config("H4_frozen", 4, 3, 1.0, 3, frozen=True),
    Config("I6_frozen_third", 6, 2, 0.33, 2, frozen=True),
    Config("J4_frozen_3q", 4, 2, 0.75, 3, frozen=True),
    Config("K4_frozen_half_lr8", 4, 2, 0.5, 3, 8e-5, frozen=True),
)


@dataclass
class Data:
    state: dict[str, torch.Tensor]
    config: BertConfig
    ids: torch.Tensor
    lens: torch.Tensor
    labels: torch.Tensor
    train_piaf: np.ndarray
    train_corpus: np.ndarray
    val: np.ndarray


def load(folder: str) -> Data:
    w = np.load(f"{folder}/weights.npz")
    d = np.load(f"{folder}/data.npz")
    with open(f"{folder}/meta.json", encoding="utf-8") as f:
        meta = json.load(f)
    state = {}
    for k in w.files:
        if k.endswith(".q"):
            state[k[:-2]] = torch.tensor(w[k].astype(np.float32) * w[k[:-2] + ".s"])
        elif not k.endswith(".s"):
            state[k] = torch.tensor(w[k])
    config = BertConfig.from_json_file(f"{folder}/config.json")
    config.vocab_size = state["embeddings.word_embeddings.weight"].shape[0]
    split = np.array([meta[q]["split"] for q in d["qi"]])
    sets = np.array([meta[q]["set"] for q in d["qi"]])
    return Data(
        state,
        config,
        torch.tensor(d["ids"].astype(np.int64)),
        torch.tensor(d["lens"].astype(np.int64)),
        torch.tensor(d["labels"].astype(np.float32)),
        np.where((split == "train") & (sets == "piaf"))[0],
        np.where((split == "train") & (sets != "piaf"))[0],
        np.where(split == "val")[0],
    )


class CrossEncoder(torch.nn.Module):
    """e5's first `layers` layers reading question and sentence together, a linear head."""

    def __init__(self, data: Data, layers: int) -> None:
        super().__init__()
        config = BertConfig.from_dict(data.config.to_dict())
        config.num_hidden_layers = layers
        self.bert = BertModel(config, add_pooling_layer=False)
        kept = {
            k: v
            for k, v in data.state.items()
            if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < layers
        }
        missing = self.bert.load_state_dict(kept, strict=False).missing_keys
        if missing:
            raise ValueError(f"weights missing: {missing}")
        self.head = torch.nn.Linear(config.hidden_size, 1)

    def forward(self, ids: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        width = int(lens.max())
        ids = ids[:, :width]
        mask = (torch.arange(width, device=ids.device)[None, :] < lens[:, None]).long()
        hidden = self.bert(
            input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
        ).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * m).sum(1) / m.sum(1)).squeeze(-1)


def scores(model: CrossEncoder, data: Data, rows: np.ndarray, batch: int = 256) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad(), torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
        for i in range(0, len(rows), batch):
            r = rows[i : i + batch]
            out.append(model(data.ids[r].to(DEVICE), data.lens[r].to(DEVICE)).float().cpu())
    model.train()
    return torch.cat(out).numpy()


def run(data: Data, out: str, c: Config, batch: int = 128, seed: int = 0) -> None:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CrossEncoder(data, c.layers).to(DEVICE)
    if c.frozen:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.bert.parameters() if p.requires_grad], "lr": c.lr},
            {"params": model.head.parameters(), "lr": 1e-3},
        ],
        weight_decay=0.01,
    )
    positive_weight = torch.tensor(3.0, device=DEVICE)
    t0, steps = time.time(), 0
    for _ in range(c.epochs):
        piaf = rng.permutation(data.train_piaf)[: int(len(data.train_piaf) * c.piaf_share)]
        rows = rng.permutation(np.concatenate([piaf] + [data.train_corpus] * c.corpus_repeat))
        if SMOKE:
            rows = rows[:128]
        for i in range(0, len(rows), batch):
            r = rows[i : i + batch]
            with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
                logit = model(data.ids[r].to(DEVICE), data.lens[r].to(DEVICE))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit.float(), data.labels[r].to(DEVICE), pos_weight=positive_weight
            )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            steps += 1
    train_s = time.time() - t0
    val = data.val[:200] if SMOKE else data.val
    np.savez_compressed(f"{out}/{c.name}.npz", rows=val, scores=scores(model, data, val))
    report = {"name": c.name, "layers": c.layers, "epochs": c.epochs, "steps": steps}
    print(json.dumps({**report, "train_rows": steps * batch, "train_s": round(train_s, 1)}))


def main() -> None:
    start = time.time()
    out = os.environ.get("OUT", "/tmp/ce_out")
    os.makedirs(out, exist_ok=True)
    data = load(os.environ.get("DATA", "build/ce_exp"))
    only = os.environ.get("ONLY")
    budget = float(os.environ.get("BUDGET_S", "1e9"))
    for config in CONFIGS:
        if only and config.name not in only.split(","):
            continue
        if time.time() - start > budget:
            print("skip", config.name, flush=True)
            continue
        run(data, out, config)


if __name__ == "__main__":
    main()
