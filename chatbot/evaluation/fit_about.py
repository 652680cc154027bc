"""Fitting the model that reads a message as asking who answers (`chatbot fit about`).

Positives and look-alikes (« un robot de rééducation, ça aide ? ») are profile/about/
bank_train.jsonl, written by helpers for this purpose — messages alone, and messages that
follow a first question of the conversation (`first`), read alone as the engine reads them:
« c'est qui qui les produit ? » after a question on biosimilars is no question about the
assistant, « t'es qui toi ? » after one on Kesimpta is; the development questions are added as
ordinary messages, with the risk bank's training messages (a patient asking for someone to talk
to is no question about the assistant) and PIAF's first training questions (« qui… »). C is chosen by cross-validated log loss; the threshold keeps the
out-of-fold false alarms on ordinary messages at or below FALSE_ALARM: a patient's real
question answered « je suis un programme » is worse than a question about the assistant
searched like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.answer.about import ABOUT_PATH
from chatbot.config import PROFILE_DIR, PROJECT_ROOT
from chatbot.errors import QuestionFileError
from chatbot.evaluation.provenance import provenance, sha256_file, shown_path, write_json
from chatbot.evaluation.questions import read_jsonl
from chatbot.text.lexicon import without_opener
from chatbot.text.normalize import fold

BANK = PROFILE_DIR / "about" / "bank_train.jsonl"
ORDINARY = (PROJECT_ROOT / "eval" / "dev.jsonl", PROFILE_DIR / "safety" / "bank_train.jsonl")
PIAF_ORDINARY = 1000  # PIAF training questions added as ordinary messages
C_GRID = (1.0, 10.0, 100.0)
NGRAMS = (2, 5)  # character n-grams inside words, on folded text
MIN_DF = 2
FOLDS = 5
SEED = 0
FALSE_ALARM = 0.005

Encode = Callable[[list[str]], np.ndarray]


def read_messages(
    bank: Path, ordinary: Sequence[Path], general: Sequence[str] = ()
) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for _, row in read_jsonl(bank, QuestionFileError, "banque"):
        texts.append(row["message"])
        labels.append(row["label"] == "about_assistant")
    for path in ordinary:
        for _, row in read_jsonl(path, QuestionFileError, "fichier de questions"):
            texts.append(row["question"])
            labels.append(False)
    texts += general
    labels += [False] * len(general)
    # Read as the engine reads them: without the greeting they open with.
    return [without_opener(t) for t in texts], np.array(labels)


def fit_about(
    encode: Encode,
    weights_sha256: str,
    bank: Path = BANK,
    ordinary: Sequence[Path] = ORDINARY,
    out: Path = ABOUT_PATH,
    general: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Fit and write the model; `general` are ordinary questions of any domain (default: PIAF's
    first training questions)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    sources = {shown_path(p): sha256_file(p) for p in (bank, *ordinary)}
    if general is None:
        from chatbot.evaluation import piaf

        general = [q.question for q in list(piaf.questions("train"))[:PIAF_ORDINARY]]
        sources["piaf"] = (
            f"{len(general)} questions d'entraînement PIAF sha256:{sha256_file(piaf.PIAF_FILE)}"
        )
    texts, y = read_messages(bank, ordinary, general)
    vectors = np.asarray(encode(texts), dtype=np.float64)

    def fitted(rows: np.ndarray, c: float) -> tuple[Any, Any]:
        grams = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=NGRAMS,
            min_df=MIN_DF,
            sublinear_tf=True,
            preprocessor=fold,
        ).fit([texts[i] for i in rows])
        return grams, LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(
            features(grams, rows), y[rows]
        )

    def features(grams: Any, rows: np.ndarray) -> np.ndarray:
        return np.hstack([vectors[rows], grams.transform([texts[i] for i in rows]).toarray()])

    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, y))
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        oof = np.zeros(len(y))
        for fit_rows, held in folds:
            grams, model = fitted(fit_rows, c)
            oof[held] = model.predict_proba(features(grams, held))[:, 1]
        own = np.clip(np.where(y, oof, 1 - oof), 1e-9, 1.0)
        loss = float(-np.log(own).mean())
        if best is None or loss < best[1]:
            best = (c, loss, oof)
    assert best is not None
    c, loss, oof = best
    threshold = max(0.5, float(np.quantile(oof[~y], 1 - FALSE_ALARM)))
    grams, model = fitted(np.arange(len(y)), c)
    data = {
        "coef": np.round(model.coef_[0], 5).tolist(),
        "intercept": round(float(model.intercept_[0]), 5),
        "threshold": round(threshold, 4),
        "ngrams": {
            "ngram_range": list(grams.ngram_range),
            "vocabulary": sorted(grams.vocabulary_, key=grams.vocabulary_.__getitem__),
            "idf": np.round(grams.idf_, 5).tolist(),
        },
        "manifest": {
            "what": "asks who answers: logistic regression over e5 query vectors and character n-grams",
            "weights_sha256": weights_sha256,
            "C": c,
            "cv_log_loss": round(loss, 4),
            "cross_validated": {
                "caught": round(float((oof[y] >= threshold).mean()), 4),
                "false_alarms": round(float((oof[~y] >= threshold).mean()), 4),
            },
            "messages": {"about_assistant": int(y.sum()), "other": int((~y).sum())},
            "sources": sources,
            **provenance(),
        },
    }
    write_json(data, out)
    return data
