"""Fitting the learned risk detector, and measuring it where it was not fitted.

The bank (eval/safety/bank.jsonl) holds French messages labelled `suicide`, `emergency`,
`treatment_decision` or `none`, written from public clinical guidance (eval/safety/SOURCES.md),
each with its `split`: `train` or `test`, fixed before anything was fitted. Only `train`
messages are fitted on, with PIAF's training questions (general French questions) as more
ordinary messages. Thresholds come from cross-validated probabilities on the training part:
- `certain` (the fixed message answers instead of the documents): above every ordinary
  message but a `FALSE_ALARM` share of them;
- `notice` (the answer comes with the numbers): low enough to flag `TARGET_RECALL` of each
  category's training messages; the share of ordinary messages it flags is reported.
- `certain` is set on ordinary patients' messages (the bank's and the development
  questions'), never on PIAF's, whose tidy questions the detector finds easy.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import PROJECT_ROOT
from chatbot.errors import QuestionFileError
from chatbot.evaluation.metrics import Question, facts_covered, read_questions, urgent_message
from chatbot.safety.detector import RISKS, Detector, LinearDetector
from chatbot.text.augment import phone_typed
from chatbot.text.normalize import fold

# The bank, split once before anything was fitted (eval/safety/README.md): one file a part.
BANK_TRAIN = PROJECT_ROOT / "eval" / "safety" / "bank_train.jsonl"
BANK_TEST = PROJECT_ROOT / "eval" / "safety" / "bank_test.jsonl"
LABELS = ("none", *(c.value for c in RISKS))
FALSE_ALARM = 0.005  # ordinary messages above the `certain` threshold, at most
# Training messages of a category the `notice` threshold keeps (cross-validated). A product
# choice between missing a risk and a needless notice under an ordinary answer, measured on the
# development questions (README, safety): for suicide, 0.98 puts the 3114 under about one
# ordinary answer in five; missing a suicidal message is worse.
TARGET_RECALL = {"suicide": 0.98, "emergency": 0.98, "treatment_decision": 0.95}
C_GRID = (3.0, 10.0, 30.0, 100.0)  # inverse L2 strength, chosen by cross-validated log loss
NGRAMS = (2, 5)  # character n-grams inside words, on folded text
MIN_DF = 3  # n-grams of fewer training texts are left out
MIN_NOTICE = 0.005  # no notice threshold below this probability
FOLDS = 5
SEED = 0


def read_bank(path: Path) -> list[Question]:
    """A bank file: the shared question format, each message with its expected `safety`."""
    bank = read_questions(path)
    unlabelled = [q.id for q in bank if q.safety is None]
    if unlabelled:
        raise QuestionFileError(f"{path}: messages sans champ 'safety' : {', '.join(unlabelled[:5])}")
    return bank


Encode = Callable[[list[str]], np.ndarray]


def _rows(detector: Detector, texts: Sequence[str], encode: Encode) -> tuple[np.ndarray, list[list[int]]]:
    """The vectors the detector would see for each text: the text, then its sentences."""
    groups: list[list[int]] = []
    flat: list[str] = []
    for text in texts:
        parts = detector.texts_to_embed(text)
        groups.append(list(range(len(flat), len(flat) + len(parts))))
        flat.extend(parts)
    return encode(flat), groups


def fit_detector(
    train: Sequence[Question],
    ordinary: Sequence[str],
    encode: Encode,
    weights_sha256: str,
    sources: dict[str, str],
    patients: Sequence[str] = (),
) -> dict[str, Any]:
    """The detector file's content: weights, thresholds and a manifest of how it was made.

    `ordinary` are general French questions added as "none" messages to fit on; `patients`
    are ordinary patients' questions (the development set) never fitted on: with the bank's
    own "none" messages, they set how sure the detector must be for its fixed message.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    rng = random.Random(SEED)
    texts = [m.question for m in train] + list(ordinary)
    labels = [LABELS.index(str(m.safety)) for m in train] + [0] * len(ordinary)
    # Every text also as typed on a phone, whatever its label: spelling must not tell risk.
    texts += [phone_typed(t, rng) for t in texts]
    y = np.array(labels + labels)
    pair = np.arange(len(y)) % len(labels)  # a text and its variant share a fold
    from_bank = (np.arange(len(y)) % len(labels)) < len(train)
    probe = Detector([], _placeholder())  # only its sentence splitting is used here
    vectors, groups = _rows(probe, texts, encode)
    row_texts = [part for text in texts for part in probe.texts_to_embed(text)]
    whole = np.array([g[0] for g in groups])

    def features(grams: Any) -> Any:
        return sparse.hstack([sparse.csr_matrix(vectors), grams.transform(row_texts)]).tocsr()

    def fitted(c: float, rows: np.ndarray) -> tuple[Any, Any]:
        grams = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAMS, min_df=MIN_DF, sublinear_tf=True, preprocessor=fold
        ).fit([row_texts[whole[i]] for i in rows])
        x = features(grams)
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x[whole[rows]], y[rows])
        return model, x

    folds = list(StratifiedGroupKFold(FOLDS, shuffle=True, random_state=SEED).split(whole, y, groups=pair))
    best_c, best_loss = C_GRID[0], float("inf")
    cv = cv_whole = np.zeros((len(texts), len(LABELS)))
    for c in C_GRID:
        probs = np.zeros((len(texts), len(LABELS)))  # highest over the message and its sentences
        whole_probs = np.zeros((len(texts), len(LABELS)))  # the whole message's
        for fit_rows, held in folds:
            model, x = fitted(c, fit_rows)
            for i in held:
                p = model.predict_proba(x[groups[i]])
                probs[i], whole_probs[i] = p.max(axis=0), p[0]
        # Judged on the bank's messages: the patients' style, not PIAF's.
        own = np.clip(whole_probs[np.arange(len(y)), y], 1e-9, 1.0)
        loss = float(-np.log(own[from_bank]).mean())
        if loss < best_loss:
            best_c, best_loss, cv, cv_whole = c, loss, probs, whole_probs
    final, _ = fitted(best_c, np.arange(len(y)))
    grams = TfidfVectorizer(
        analyzer="char_wb", ngram_range=NGRAMS, min_df=MIN_DF, sublinear_tf=True, preprocessor=fold
    ).fit([row_texts[i] for i in whole])

    thresholds: dict[str, dict[str, float]] = {"notice": {}, "certain": {}}
    cv_report: dict[str, Any] = {}
    negatives = y == 0
    # Ordinary patients' messages: the bank's (cross-validated) and the development questions
    # (never fitted on); the fixed message must stay off almost all of them.
    patient_whole = _whole_probabilities(final, grams, probe, patients, encode)
    for k, label in enumerate(LABELS[1:], 1):
        p, whole_p, positives = cv[:, k], cv_whole[:, k], y == k
        # Only the whole message may be certain (safety.py); any sentence may raise a notice.
        ordinary_patients = np.concatenate([whole_p[negatives & from_bank], patient_whole[:, k]])
        certain = max(0.5, float(np.quantile(ordinary_patients, 1 - FALSE_ALARM)))
        notice = min(certain, max(float(np.quantile(p[positives], 1 - TARGET_RECALL[label])), MIN_NOTICE))
        thresholds["certain"][label] = round(certain, 4)
        thresholds["notice"][label] = round(notice, 4)
        cv_report[label] = {
            "recall_notice": round(float((p[positives] >= notice).mean()), 4),
            "recall_certain": round(float((whole_p[positives] >= certain).mean()), 4),
            "ordinary_notice": round(float((p[negatives] >= notice).mean()), 4),
            "ordinary_certain": round(float((whole_p[negatives] >= certain).mean()), 4),
            "patients_notice": round(float((ordinary_patients >= notice).mean()), 4),
        }
    flagged = np.zeros(len(y), dtype=bool)
    for k, label in enumerate(LABELS[1:], 1):
        flagged |= cv[:, k] >= thresholds["notice"][label]
    cv_report["ordinary_any_notice"] = round(float(flagged[negatives].mean()), 4)
    vocabulary = sorted(grams.vocabulary_, key=grams.vocabulary_.__getitem__)
    return {
        "classes": list(LABELS),
        "coef": np.round(final.coef_, 5).tolist(),
        "intercept": np.round(final.intercept_, 5).tolist(),
        "ngrams": {"ngram_range": list(NGRAMS), "vocabulary": vocabulary, "idf": np.round(grams.idf_, 5).tolist()},
        "thresholds": thresholds,
        "manifest": {
            "what": "risk detector: multinomial logistic regression over e5 query vectors and character n-grams",
            "weights_sha256": weights_sha256,
            "C": best_c,
            "cv_log_loss": round(best_loss, 4),
            "cross_validated": cv_report,
            "training_messages": {label: int((y == k).sum()) for k, label in enumerate(LABELS)},
            "augmentation": "every text twice: as written and phone-typed (chatbot/augment.py)",
            "sources": sources,
            "code_commit": _git_commit(),
            "scikit_learn": _version("sklearn"),
            "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    }


def _whole_probabilities(model: Any, grams: Any, probe: Detector, texts: Sequence[str], encode: Encode) -> np.ndarray:
    """The final model's probabilities for whole messages it was not fitted on."""
    from scipy import sparse

    if not texts:
        return np.zeros((0, len(LABELS)))
    vectors, groups = _rows(probe, texts, encode)
    rows = [g[0] for g in groups]
    x = sparse.hstack([sparse.csr_matrix(vectors[rows]), grams.transform([texts[k] for k in range(len(texts))])]).tocsr()
    return np.asarray(model.predict_proba(x))


def _placeholder() -> LinearDetector:
    """A detector with no weights: `texts_to_embed` only needs to know one exists."""
    return LinearDetector((), np.zeros((0, 0)), np.zeros(0), None, {}, {}, "", {})


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(module: str) -> str:
    import importlib

    return str(getattr(importlib.import_module(module), "__version__", ""))


# --- measuring ------------------------------------------------------------------------------
def engine_safety_report(engine: Any, probes: Sequence[Question], ordinary: Sequence[Question]) -> dict[str, Any]:
    """The detector as patients meet it: every message through `Engine.ask`.

    Probes are labelled messages (a category, or "none"); ordinary messages are questions of
    a question set and the corpus's own quotable sentences, typed as messages. Recall counts
    the answers that name the probe's category (fixed message or notice, the numbers are on
    screen); a false alarm is an emergency or suicide message in place of an answer.
    """
    from chatbot.errors import InvalidQuestion

    def ask(text: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        try:
            return dict(engine.ask(text, history or []).to_result("", text))
        except InvalidQuestion:
            return {"safety": None, "citations": [], "refused": True}

    sentences = list(dict.fromkeys(s.text for c in engine.index.chunks for s in c.sentences if s.text in engine.index.sentence_ids))
    report: dict[str, Any] = {"missed": [], "false_alarms": []}
    for category in LABELS[1:]:
        mine = [q for q in probes if q.safety == category]
        results = [ask(q.question, q.history) for q in mine]
        if not mine:
            continue
        # Recalled: a safety answer that shows what this category needs (3114, 112, neurologue).
        report[f"recall_{category}"] = _share(
            bool(r.get("safety")) and facts_covered(r.get("answer", ""), q.facts) for q, r in zip(mine, results, strict=True)
        )
        report[f"named_{category}"] = _share(r.get("safety") == category for r in results)
        if category in ("suicide", "emergency"):
            report[f"recall_{category}_message"] = _share(
                r.get("safety") == category and urgent_message(r) for r in results
            )
        report[f"plain_refusal_{category}"] = _share(bool(r.get("refused")) and not r.get("safety") for r in results)
        report["missed"] += [
            {"id": q.id, "question": q.question, "label": category, "found": r.get("safety")}
            for q, r in zip(mine, results, strict=True)
            if not (r.get("safety") and facts_covered(r.get("answer", ""), q.facts))
        ]
    groups: dict[str, list[tuple[str, str, list[dict[str, str]]]]] = {
        "bank_none": [(q.id, q.question, q.history) for q in probes if q.safety == "none"],
        "questions": [(q.id, q.question, q.history) for q in ordinary],
        "corpus_sentences": [(f"corpus-{k}", text, []) for k, text in enumerate(sentences)],
    }
    everything: list[tuple[tuple[str, str, list[dict[str, str]]], dict[str, Any]]] = []
    for name, items in groups.items():
        results = [ask(text, history) for _, text, history in items]
        everything += list(zip(items, results, strict=True))
        if items:
            report[f"false_alarm_{name}"] = _share(urgent_message(r) for r in results)
            report[f"notice_rate_{name}"] = _share(r.get("safety") in LABELS[1:] for r in results)
    report["ordinary_messages"] = len(everything)
    report["false_alarm"] = _share(urgent_message(r) for _, r in everything)
    report["notice_rate"] = _share(r.get("safety") in LABELS[1:] for _, r in everything)
    report["false_alarms"] = [
        {"id": qid, "question": text, "found": r.get("safety")}
        for (qid, text, _), r in everything
        if urgent_message(r)
    ]
    return report


def _share(flags: Any) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


def write_detector(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
