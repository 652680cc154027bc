"""Step 2, on the GPU machine: fine-tune e5 as the risk reader, in the detector's five folds.

One sigmoid output per category (suicide, emergency, treatment decision) over the mean of the
last layer, binary cross-entropy with positives weighed as the detector's balanced classes,
AdamW, bf16. For each configuration: the out-of-fold probabilities of every training text
(highest over its rows, and of the whole text), then a model fitted on every row and its
probabilities for the validation texts (highest over each text's rows). Written to
$OUT/<name>.npz. Environment: DATA (prepare.py's folder), OUT, ONLY, SMOKE=1 (a few batches).
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
    trainable: int  # top layers trained; the others and the word table frozen
    epochs: int
    lr: float


CONFIGS = (
    Config("T12", 12, 4, 4e-5),
    Config("T4", 4, 5, 1e-4),
    Config("T2", 2, 6, 2e-4),
    Config("T0", 0, 8, 0.0),  # the encoder frozen: a linear head over the mean vector
)


def load(folder):
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
    return state, config, d, meta


class Reader(torch.nn.Module):
    def __init__(self, state, config, trainable):
        super().__init__()
        self.bert = BertModel(config, add_pooling_layer=False)
        self.bert.load_state_dict(state, strict=False)
        self.pad = 1
        for p in self.bert.parameters():
            p.requires_grad_(False)
        n = config.num_hidden_layers
        for layer in self.bert.encoder.layer[n - trainable :] if trainable else []:
            for p in layer.parameters():
                p.requires_grad_(True)
        self.head = torch.nn.Linear(config.hidden_size, 3)

    def forward(self, ids, lens):
        width = int(lens.max())
        ids = ids[:, :width]
        mask = (torch.arange(width, device=ids.device)[None, :] < lens[:, None]).long()
        hidden = self.bert(
            input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
        ).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return self.head((hidden * m).sum(1) / m.sum(1))


def probabilities(model, ids, lens, rows, batch=512):
    model.eval()
    out = []
    order = np.argsort(lens[rows].numpy())
    with torch.no_grad(), torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
        for i in range(0, len(rows), batch):
            r = rows[order[i : i + batch]]
            out.append(torch.sigmoid(model(ids[r].to(DEVICE), lens[r].to(DEVICE)).float()).cpu())
    model.train()
    p = torch.cat(out).numpy()
    back = np.empty_like(p)
    back[order] = p
    return back


def fit(state, config, ids, lens, rows, labels, c, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Reader(state, config, c.trainable).to(DEVICE)
    y = torch.zeros((len(rows), 3))
    for k in range(3):
        y[:, k] = torch.tensor(labels == k + 1, dtype=torch.float32)
    pos = y.sum(0)
    weight = ((len(rows) - pos) / pos.clamp(min=1)).to(DEVICE)
    params = [{"params": model.head.parameters(), "lr": 1e-3}]
    enc = [p for p in model.bert.parameters() if p.requires_grad]
    if enc:
        params.append({"params": enc, "lr": c.lr})
    optimizer = torch.optim.AdamW(params, weight_decay=0.01)
    batch = 64
    for _ in range(c.epochs):
        perm = rng.permutation(len(rows))
        if SMOKE:
            perm = perm[:128]
        for i in range(0, len(perm), batch):
            b = perm[i : i + batch]
            r = rows[b]
            with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=DEVICE == "cuda"):
                logit = model(ids[r].to(DEVICE), lens[r].to(DEVICE))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit.float(), y[b].to(DEVICE), pos_weight=weight
            )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return model


def training_rows(groups, y, texts):
    """Each whole text, and each sentence of the ordinary ones (fit.Material.training_rows)."""
    rows = [groups[i][0] for i in texts]
    labels = [y[i] for i in texts]
    for i in texts:
        if y[i] == 0:
            rows += groups[i][1:]
            labels += [0] * (len(groups[i]) - 1)
    return np.array(rows), np.array(labels)


def run(data, out, c):
    state, config, d, meta = data
    ids = torch.tensor(d["ids"].astype(np.int64))
    lens = torch.tensor(d["lens"].astype(np.int64))
    y, folds, groups = d["y"], d["folds"], meta["groups"]
    n = len(y)
    highest, whole = np.zeros((n, 3)), np.zeros((n, 3))
    t0 = time.time()
    for k in range(int(folds.max()) + 1):
        train = np.where(folds != k)[0]
        held = np.where(folds == k)[0]
        rows, labels = training_rows(groups, y, train)
        model = fit(state, config, ids, lens, rows, labels, c)
        held_rows = np.array([r for i in held for r in groups[i]])
        p = probabilities(model, ids, lens, held_rows)
        at = 0
        for i in held:
            g = len(groups[i])
            highest[i], whole[i] = p[at : at + g].max(0), p[at]
            at += g
        if SMOKE:
            break
    rows, labels = training_rows(groups, y, np.arange(n))
    model = fit(state, config, ids, lens, rows, labels, c)
    vg = meta["val_groups"]
    flat = np.array([r for g in vg for r in g])
    p = probabilities(model, ids, lens, flat)
    val, at = np.zeros((len(vg), 3)), 0
    for j, g in enumerate(vg):
        val[j] = p[at : at + len(g)].max(0)
        at += len(g)
    np.savez_compressed(f"{out}/{c.name}.npz", highest=highest, whole=whole, val=val)
    print(json.dumps({"name": c.name, "seconds": round(time.time() - t0, 1)}), flush=True)


def main():
    out = os.environ.get("OUT", "/tmp/safety_out")
    os.makedirs(out, exist_ok=True)
    data = load(os.environ.get("DATA", "build/safety_exp"))
    only = os.environ.get("ONLY")
    for c in CONFIGS:
        if only and c.name not in only.split(","):
            continue
        run(data, out, c)


if __name__ == "__main__":
    main()
