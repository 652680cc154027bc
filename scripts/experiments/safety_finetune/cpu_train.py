"""Step 2, on this machine's CPU: the served model's layers below the first trained one read
every row once (cached), and only its top layers are trained, with a head, on the cached states.

One sigmoid output per category (suicide, emergency, treatment decision) over the mean of the
last layer, binary cross-entropy with positives weighed as the detector's balanced classes,
AdamW. For each configuration: the out-of-fold probabilities of every training text (highest
over its rows, and of the whole text), then a model fitted on every row and its probabilities
for the validation texts (highest over each text's rows), written to OUT/<name>.npz.
Environment: DATA (prepare.py's folder), OUT, ONLY (T2, T4), THREADS.
"""

import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
from transformers import BertModel  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
CONFIGS = {"T2": (10, 6, 2e-4), "T4": (8, 5, 1e-4)}  # first trained layer, epochs, lr


def training_rows(groups, y, texts):
    """Each whole text, and each sentence of the ordinary ones (fit.Material.training_rows)."""
    rows = [groups[i][0] for i in texts]
    labels = [y[i] for i in texts]
    for i in texts:
        if y[i] == 0:
            rows += groups[i][1:]
            labels += [0] * (len(groups[i]) - 1)
    return np.array(rows), np.array(labels)


def served_folder() -> Path:
    from chatbot.config import Settings

    return Path(Settings().embedder().path)


def cache_states(model, ids, lens, layers, batch=64):
    """Hidden states entering each of `layers`, per row, trimmed to the row's length (fp16)."""
    out = {k: [None] * len(ids) for k in layers}
    order = np.argsort(lens)
    with torch.no_grad():
        for i in range(0, len(order), batch):
            r = order[i : i + batch]
            w = int(lens[r].max())
            x = torch.tensor(ids[r, :w].astype(np.int64))
            m = (torch.arange(w)[None, :] < torch.tensor(lens[r].astype(np.int64))[:, None]).long()
            hs = model(input_ids=x, attention_mask=m, output_hidden_states=True).hidden_states
            for k in layers:
                for j, row in enumerate(r):
                    out[k][row] = hs[k][j, : lens[row]].to(torch.float16)
    return out


class Top(torch.nn.Module):
    def __init__(self, model, first):
        super().__init__()
        cfg = copy.deepcopy(model.config)
        cfg.num_hidden_layers = model.config.num_hidden_layers - first
        self.top = BertModel(cfg, add_pooling_layer=False)
        for j in range(cfg.num_hidden_layers):
            self.top.encoder.layer[j].load_state_dict(model.encoder.layer[first + j].state_dict())
        del self.top.embeddings
        self.head = torch.nn.Linear(cfg.hidden_size, 3)

    def forward(self, states, lens):
        w = int(lens.max())
        x = torch.zeros((len(states), w, states[0].shape[1]))
        for j, s in enumerate(states):
            x[j, : len(s)] = s.float()
        mask = (torch.arange(w)[None, :] < lens[:, None]).float()
        ext = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        h = self.top.encoder(x, attention_mask=ext).last_hidden_state
        m = mask.unsqueeze(-1)
        return self.head((h * m).sum(1) / m.sum(1))


def batches(rows, lens, rng, size=64):
    """Batches of rows of similar length (sorted within random chunks), in random order."""
    perm = rng.permutation(rows)
    out = []
    for i in range(0, len(perm), size * 16):
        chunk = perm[i : i + size * 16]
        chunk = chunk[np.argsort(lens[chunk])]
        out += [chunk[j : j + size] for j in range(0, len(chunk), size)]
    return [out[k] for k in rng.permutation(len(out))]


def fit(model, first, states, lens, rows, labels, epochs, lr, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Top(model, first)
    y = np.zeros((len(lens), 3), dtype=np.float32)
    for k in range(3):
        y[rows, k] = labels == k + 1
    pos = np.array([(labels == k + 1).sum() for k in range(3)])
    weight = torch.tensor((len(rows) - pos) / np.maximum(pos, 1), dtype=torch.float32)
    opt = torch.optim.AdamW(
        [{"params": net.head.parameters(), "lr": 1e-3}, {"params": net.top.parameters(), "lr": lr}],
        weight_decay=0.01,
    )
    for _ in range(epochs):
        for b in batches(rows, lens, rng):
            logit = net([states[i] for i in b], torch.tensor(lens[b].astype(np.int64)))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit, torch.tensor(y[b]), pos_weight=weight
            )
            loss.backward()
            opt.step()
            opt.zero_grad()
    return net


def probabilities(net, states, lens, rows, size=128):
    net.eval()
    order = rows[np.argsort(lens[rows])]
    out = {}
    with torch.no_grad():
        for i in range(0, len(order), size):
            b = order[i : i + size]
            p = torch.sigmoid(net([states[j] for j in b], torch.tensor(lens[b].astype(np.int64))))
            for j, row in enumerate(b):
                out[row] = p[j].numpy()
    net.train()
    return np.array([out[r] for r in rows])


def main():
    data = Path(os.environ.get("DATA", "build/safety_exp"))
    out = Path(os.environ.get("OUT", "build/safety_out"))
    out.mkdir(parents=True, exist_ok=True)
    d = np.load(data / "data.npz")
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    ids = d["ids"]
    lens = d["lens"].astype(np.int64)
    model = BertModel.from_pretrained(str(served_folder()), add_pooling_layer=False).eval()
    only = os.environ.get("ONLY", "T2,T4").split(",")
    t0 = time.time()
    states = cache_states(model, ids, lens, sorted({CONFIGS[c][0] for c in only}))
    print(json.dumps({"cached_s": round(time.time() - t0, 1)}), flush=True)
    y, folds, groups = d["y"], d["folds"], meta["groups"]
    n = len(y)
    for name in only:
        first, epochs, lr = CONFIGS[name]
        st = states[first]
        t0 = time.time()
        highest, whole = np.zeros((n, 3)), np.zeros((n, 3))
        for k in range(int(folds.max()) + 1):
            train = np.where(folds != k)[0]
            held = np.where(folds == k)[0]
            rows, labels = training_rows(groups, y, train)
            net = fit(model, first, st, lens, rows, labels, epochs, lr)
            held_rows = np.array([r for i in held for r in groups[i]])
            p = probabilities(net, st, lens, held_rows)
            at = 0
            for i in held:
                g = len(groups[i])
                highest[i], whole[i] = p[at : at + g].max(0), p[at]
                at += g
            print(
                json.dumps({"name": name, "fold": k, "s": round(time.time() - t0, 1)}), flush=True
            )
        rows, labels = training_rows(groups, y, np.arange(n))
        net = fit(model, first, st, lens, rows, labels, epochs, lr)
        vg = meta["val_groups"]
        flat = np.array([r for g in vg for r in g])
        p = probabilities(net, st, lens, flat)
        val, at = np.zeros((len(vg), 3)), 0
        for j, g in enumerate(vg):
            val[j] = p[at : at + len(g)].max(0)
            at += len(g)
        np.savez_compressed(out / f"{name}.npz", highest=highest, whole=whole, val=val)
        torch.save(net.state_dict(), out / f"{name}.pt")
        print(json.dumps({"name": name, "seconds": round(time.time() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
