"""Step 1 of the fine-tuned risk reader experiment (README.md beside): texts, labels, folds.

The training texts are exactly those `chatbot safety fit` fits on (chatbot/safety/fit.py's
`material`: the bank's training part, 1,500 PIAF questions as ordinary messages, each text also
phone-typed; rows are each whole text and each sentence of the ordinary ones), with the same
five folds. The validation texts are the ordinary questions of the validation sets (never a
test set), read as the detector reads them (the message, then its sentences). The shipped
detector's probabilities for them are written beside, to compare at equal recall.

Run from the project root after `make index`: .venv/bin/python scripts/experiments/safety_finetune/prepare.py
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
import random  # noqa: E402

from chatbot.config import Settings  # noqa: E402
from chatbot.engine import Engine  # noqa: E402
from chatbot.evaluation import piaf  # noqa: E402
from chatbot.evaluation.questions import read_questions  # noqa: E402
from chatbot.safety import fit  # noqa: E402
from chatbot.safety.detector import Detector  # noqa: E402

OUT = Path("build/safety_exp")
VALIDATION_SETS = (
    "dev",
    "heldback",
    "bank",
    "story2",
    "conv",
    "short",
    "pairs2",
    "brands",
    "blind40",
)
MAX_TOKENS = 160
PAD = 1


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    engine = Engine.load(settings)
    probe = Detector([], fit._placeholder())
    questions = [q.question for q in piaf.questions("train")]
    general = random.Random(fit.SEED).sample(questions, min(fit.ORDINARY, len(questions)))
    zero = lambda texts: np.zeros((len(texts), 1))  # noqa: E731
    m = fit.material(fit.read_bank(fit.BANK_TRAIN), general, zero)
    from sklearn.model_selection import StratifiedGroupKFold

    folds = np.zeros(len(m.texts), dtype=np.int8)
    split = StratifiedGroupKFold(fit.FOLDS, shuffle=True, random_state=fit.SEED)
    for k, (_, held) in enumerate(split.split(m.whole, m.y, groups=m.pair)):
        folds[held] = k
    # validation: ordinary questions of the validation sets, read as the detector reads them
    val_texts, val_meta = [], []
    for name in VALIDATION_SETS:
        for q in read_questions(Path(f"eval/{name}.jsonl")):
            if q.kind == "safety" or q.safety:
                continue
            val_texts.append(q.question)
            a = engine.detector.assess(
                q.question, engine.embedder.encode_query(engine.detector.texts_to_embed(q.question))
            )
            val_meta.append({"set": name, "id": q.id, "p": a.probabilities})
    val_groups, flat = [], []
    for t in val_texts:
        parts = probe.texts_to_embed(t)
        val_groups.append(list(range(len(flat), len(flat) + len(parts))))
        flat.extend(parts)
    rows = list(m.row_texts) + flat
    folder = Path(settings.embedder().path)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    seqs = [tokenizer.encode("query: " + t).ids for t in rows]
    ids = np.full((len(seqs), max(map(len, seqs))), PAD, dtype=np.int32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
    n_train_rows = len(m.row_texts)
    np.savez_compressed(
        OUT / "data.npz",
        ids=ids,
        lens=np.array([len(s) for s in seqs], dtype=np.int16),
        n_train_rows=np.array([n_train_rows]),
        y=m.y,
        folds=folds,
        from_bank=m.from_bank,
    )
    with open(OUT / "meta.json", "w", encoding="utf-8") as f:
        json.dump(
            {
                "groups": m.groups,
                "val_groups": [[n_train_rows + r for r in g] for g in val_groups],
                "val": val_meta,
                "thresholds": json.loads(
                    Path("profile/safety/detector.json").read_text(encoding="utf-8")
                )["thresholds"],
            },
            f,
        )
    print(
        len(m.texts),
        "texts",
        n_train_rows,
        "train rows",
        len(flat),
        "val rows",
    )


if __name__ == "__main__":
    main()
