"""Fitting the refusal for one index (`make calibrate`, `chatbot calibrate`).

On the deployment's development questions — its own style of questions —, or, for a corpus
with none (PIAF), on PIAF questions asked twice, with and without the passages that hold their
answer (the article's other paragraphs are natural near misses). The result goes to the
profile's calibration.json with a manifest binding it to the index it was fitted for.

A bank of minimal pairs (`contrast`: two questions of the same voice asking the same kind of
thing about one document, one answered by the documents and one not) is a part of its own,
weighing as much as the development questions. With it, the model also weighs the question's
vector against its best sentences' (support.VECTOR_TERMS): the pairs make the question's
topic and style useless to tell answered from unanswered, so what those weights learn is what
the question asks that its sentences do not say. Their regularisation is the one with the
lowest cross-validated log loss.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.answer.rank import ScoredSentence
from chatbot.answer.support import FEATURES as SUPPORT_FEATURES
from chatbot.answer.support import (
    TOP_SENTENCES,
    VECTOR_TERMS,
    support_features,
    support_vector,
)
from chatbot.config import PROFILE_DIR, Settings
from chatbot.engine import Engine
from chatbot.evaluation import piaf
from chatbot.evaluation.examples import neutral_engine, piaf_examples, question_requests
from chatbot.evaluation.provenance import provenance, sha256_file, write_json
from chatbot.evaluation.questions import read_questions
from chatbot.records import AnswerRequest
from chatbot.safety.detector import RISKS, patterns_only

SEED = 0
FOLDS = 5
SIGNALS_C = 1.0  # the signals alone: the same cross-validated AUC for C from 0.01 to 10
VECTOR_C_GRID = (0.0003, 0.001, 0.003, 0.01, 0.03)  # with the vector terms: by log loss


def calibrate(
    settings: Settings,
    questions: Sequence[Path],
    piaf_index: Path | None,
    piaf_limit: int,
    out: Path,
    contrast: Sequence[Path] = (),
) -> dict[str, Any]:
    """Fit the refusal for `settings.index_dir` (or the PIAF index) and write it to `out`."""
    if not questions and piaf_index is None:
        raise ValueError(
            "calibrate needs development questions or a PIAF index. Currently, it has neither"
        )
    if contrast and not questions:
        raise ValueError("a contrast bank is weighed against development questions: give both")
    if contrast and piaf_index is not None:
        raise ValueError("PIAF's rows have no vector terms: use --contrast or --piaf-index")
    engine = neutral_engine(settings)
    vectors = bool(contrast)
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    sources: dict[str, str] = {}
    if questions:
        parts["questions"] = question_rows(engine, questions, vectors)
        sources.update({str(p): sha256_file(p) for p in questions})
    if contrast:
        parts["contrast"] = question_rows(engine, contrast, vectors)
        sources.update({str(p): sha256_file(p) for p in contrast})
    if piaf_index is not None:
        piaf_engine = (
            engine if not questions else neutral_engine(Settings.from_env(index_dir=piaf_index))
        )
        parts["piaf"], sources["piaf"] = piaf_rows(piaf_engine, piaf_limit)
    data = fit_support(
        parts,
        "questions" if questions else "piaf",
        engine.index.manifest,
        sources,
        vector_width=2 * engine.index.sentence_vectors.shape[1] if vectors else 0,
    )
    write_json(data, out)
    return data


def question_rows(
    engine: Engine, paths: Sequence[Path], vectors: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Support features (and vector terms) and labels (answerable or not) of questions."""
    questions = [
        q
        for path in paths
        for q in read_questions(path)
        # What a safety rule answers whatever the documents say teaches nothing here.
        if q.safety is None
        and q.kind != "safety"
        and patterns_only().assess(q.question).category not in RISKS
    ]
    rows = support_rows(engine, question_requests(engine, questions), vectors)
    return rows, np.array([int(q.answerable) for q in questions])


def piaf_rows(engine: Engine, limit: int) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """PIAF questions with their answer's passages (answerable) and without (near misses)."""
    examples = piaf_examples(engine, list(piaf.questions("train"))[:limit], sys.stderr.isatty())
    positives = support_rows(engine, [ex.request for ex in examples])
    negatives = support_rows(engine, [ex.masked for ex in examples])
    labels = np.array([1] * len(examples) + [0] * len(examples))
    source = f"{len(examples)} questions d'entraînement PIAF, avec et sans leur passage ; sha256:{sha256_file(piaf.PIAF_FILE)}"
    return (np.vstack([positives, negatives]), labels), source


# --- the refusal -------------------------------------------------------------------------------
def support_rows(
    engine: Engine, requests: Iterable[AnswerRequest], vectors: bool = False
) -> np.ndarray:
    """One row per request: the support features, then the vector terms when asked."""
    rows = []
    for request in requests:
        ranked: list[ScoredSentence] = engine.ranker.rank(request)
        f = support_features(engine.index, request, ranked)
        row = np.array([f[k] for k in SUPPORT_FEATURES])
        if vectors:
            row = np.concatenate(
                [row, support_vector(engine.index, request, ranked, TOP_SENTENCES)]
            )
        rows.append(row)
    return np.array(rows)


def fit_support(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    tune: str,
    index_manifest: dict[str, Any],
    sources: dict[str, str],
    vector_width: int = 0,
) -> dict[str, Any]:
    """A logistic model over support features; its threshold balances the two errors on `tune`.

    `parts` maps a name to (rows, labels); each row holds the support features, then
    `vector_width` columns of vector terms. Each part weighs as much as the others in the fit
    (PIAF has thousands of rows, a deployment's questions a hundred). The threshold is the one
    that maximises the worse of the two refusal accuracies on `tune` (the deployment's own
    questions), cross-validated so that no question decides its own threshold.
    """
    from sklearn.model_selection import StratifiedKFold

    x = np.vstack([rows for rows, _ in parts.values()])
    y = np.concatenate([labels for _, labels in parts.values()])
    weight = np.concatenate(
        [np.full(len(labels), 1.0 / len(labels)) for _, labels in parts.values()]
    )
    weight *= len(y) / weight.sum()
    part_of = np.concatenate(
        [np.full(len(labels), name, dtype=object) for name, (_, labels) in parts.items()]
    )
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y))

    def out_of_fold(c: float) -> np.ndarray:
        # Every row's probability from a model that never saw it.
        oof = np.zeros(len(y))
        for fit_idx, held in folds:
            w, b = _logistic(x[fit_idx], y[fit_idx], weight[fit_idx], c)
            oof[held] = _sigmoid(x[held] @ w + b)
        return oof

    losses = (
        {c: _log_loss(y, out_of_fold(c), weight) for c in VECTOR_C_GRID} if vector_width else {}
    )
    c = min(losses, key=lambda k: losses[k]) if losses else SIGNALS_C
    oof = out_of_fold(c)
    # The threshold and the reported accuracies never see a question's own label.
    mine = part_of == tune
    threshold = best_threshold(oof[mine], y[mine])
    w, b = _logistic(x, y, weight, c)
    report = {
        name: _accuracies(oof[part_of == name] >= threshold, y[part_of == name]) for name in parts
    }
    n = len(SUPPORT_FEATURES)
    data: dict[str, Any] = {
        "features": list(SUPPORT_FEATURES),
        "weights": {f: round(float(v), 5) for f, v in zip(SUPPORT_FEATURES, w[:n], strict=True)},
        "bias": round(b, 5),
        "threshold": round(float(threshold), 5),
    }
    if vector_width:
        terms = np.split(w[n:], len(VECTOR_TERMS))
        data["vector_weights"] = {
            k: [round(float(v), 6) for v in t] for k, t in zip(VECTOR_TERMS, terms, strict=True)
        }
        data["vector_sentences"] = TOP_SENTENCES
    manifest = _manifest(parts, tune, report, index_manifest, sources)
    manifest["regularisation"] = {
        "C": c,
        "cross_validated_log_loss": {str(k): round(v, 4) for k, v in losses.items()} or None,
    }
    data["manifest"] = manifest
    return data


def _log_loss(y: np.ndarray, p: np.ndarray, weight: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(y, p, sample_weight=weight))


def _logistic(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float = SIGNALS_C
) -> tuple[np.ndarray, float]:
    """Weights and bias on the raw feature scale (the scale support.py computes)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    model.fit(scaler.transform(x), y, sample_weight=weight)
    w = model.coef_[0] / scaler.scale_
    return w, float(model.intercept_[0] - (w * scaler.mean_).sum())


def _manifest(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    tune: str,
    report: dict[str, Any],
    index_manifest: dict[str, Any],
    sources: dict[str, str],
) -> dict[str, Any]:
    return {
        "what": "refusal: logistic regression, probability that a sentence answers what was asked",
        "fitted_on": sources,
        "rows": {
            name: {"answerable": int(lab.sum()), "unanswerable": int(len(lab) - lab.sum())}
            for name, (_, lab) in parts.items()
        },
        "threshold_from": tune,
        "cross_validated_accuracy": report,
        "index": {
            "corpus_sha256": index_manifest.get("corpus_sha256"),
            "weights_sha256": index_manifest.get("weights_sha256"),
            "format_version": index_manifest.get("format_version"),
        },
        "ranker_sha256": sha256_file(PROFILE_DIR / "ranker.json"),
        **provenance(),
    }


def best_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    """The threshold that maximises the worse of the two refusal accuracies.

    It sits halfway between the lowest probability it accepts and the highest one below, so
    that rounding the stored weights cannot move a question across it.
    """
    levels = sorted({float(p) for p in probs})
    best, best_key = 0, (-1.0, -1.0)
    for i, t in enumerate(levels):
        pred = probs >= t
        a = float(pred[y == 1].mean()) if (y == 1).any() else 1.0
        u = float((~pred[y == 0]).mean()) if (y == 0).any() else 1.0
        key = (min(a, u), a + u)
        if key > best_key:
            best, best_key = i, key
    if best == 0:
        return levels[0] / 2 if levels else 0.5
    return (levels[best - 1] + levels[best]) / 2


def _accuracies(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {
        "answerable": round(float(pred[y == 1].mean()), 4) if (y == 1).any() else float("nan"),
        "unanswerable": round(float((~pred[y == 0]).mean()), 4) if (y == 0).any() else float("nan"),
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
