"""Step 4: how well each cross-encoder separates answerable questions and picks the sentence.

AUC of the best score among the ranker's first 3 (and 8) candidates, per validation set and
pooled; the same combined with the shipped refusal's probability (logistic regression,
5-fold cross-validated on the pooled validation questions: an estimate, not a fit to ship);
the share of answerable questions whose highest-scored candidate holds the facts (corpus), and
of PIAF validation questions whose highest-scored sentence of the paragraph holds the span.
Usage: .venv/bin/python scripts/experiments/cross_encoder/analyse.py FOLDER_OF_NPZ
"""

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

DATA = Path("build/ce_exp")
VAL = ("heldback", "bank", "story2", "conv", "short", "pairs2", "blind40", "brands")


def main(folder: Path) -> None:
    d = np.load(DATA / "data.npz")
    with open(DATA / "meta.json", encoding="utf-8") as f:
        meta = json.load(f)
    qi, ci, labels = d["qi"], d["ci"], d["labels"].astype(int)
    qs = [i for i, m in enumerate(meta) if m["set"] in VAL]
    y = np.array([meta[i]["answerable"] for i in qs])
    p = np.array([meta[i]["p"] for i in qs])
    sets = np.array([meta[i]["set"] for i in qs])

    def by_set(score: np.ndarray) -> list[float]:
        return [roc_auc_score(y[sets == v], score[sets == v]) for v in VAL]

    print(
        "model          " + " ".join(f"{v[:7]:>7}" for v in VAL) + " | pooled max3 / max8 | with p"
    )
    print(
        f"{'shipped p':<14} "
        + " ".join(f"{a:7.3f}" for a in by_set(p))
        + f" | {roc_auc_score(y, p):.3f}"
    )
    print(f"ranker's first sentence holds the facts: {ranker_first(meta, qi, ci, labels):.3f}")
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for path in sorted(folder.glob("*.npz")):
        z = np.load(path)
        by: dict[int, list[tuple[int, float, int]]] = {}
        for r, x in zip(z["rows"], z["scores"], strict=True):
            by.setdefault(int(qi[r]), []).append((int(ci[r]), float(x), int(labels[r])))
        best3 = np.array([max(x for _, x, _ in sorted(by[i])[:3]) for i in qs])
        best8 = np.array([max(x for _, x, _ in by[i]) for i in qs])
        aucs = by_set(best3)
        x = np.column_stack([np.log(p / (1 - p)), best3, best8])
        combined = cross_val_predict(LogisticRegression(), x, y, cv=folds, method="predict_proba")
        first = {s: first_holds(meta, by, s) for s in ("corpus", "piafval")}
        print(
            f"{path.stem:<14} " + " ".join(f"{a:7.3f}" for a in aucs)
            + f" | {roc_auc_score(y, best3):.3f} / {roc_auc_score(y, best8):.3f}"
            + f" | {roc_auc_score(y, combined[:, 1]):.3f}"
            + f" | first sentence {first['corpus']:.3f} corpus, {first['piafval']:.3f} PIAF"
        )  # fmt: skip


def ranker_first(meta: list[dict], qi: np.ndarray, ci: np.ndarray, labels: np.ndarray) -> float:
    hits = []
    for i, m in enumerate(meta):
        rows = np.where(qi == i)[0]
        if m["set"] in VAL and m["answerable"] and labels[rows].any():
            best = rows[int(np.argmax([m["scores"][c] for c in ci[rows]]))]
            hits.append(labels[best])
    return float(np.mean(hits))


def first_holds(meta: list[dict], by: dict, which: str) -> float:
    hits = []
    for i, candidates in by.items():
        m = meta[i]
        in_set = m["set"] in VAL if which == "corpus" else m["set"] == which
        if in_set and m["answerable"] and any(label for _, _, label in candidates):
            hits.append(max(candidates, key=lambda t: t[1])[2])
    return float(np.mean(hits))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
