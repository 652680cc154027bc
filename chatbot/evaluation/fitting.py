"""Fitting what the engine learns from data: the sentence ranker, the quoting knobs, the refusal.

Everything here is fitted on data that is not the evaluation:
- the ranker on PIAF's training articles (chatbot/piaf.py): for each question, the retrieved
  sentence that holds the answer span is the positive, the other candidates the negatives;
- the quoting knobs (margins, the sentence after the best) on the same questions, for the
  share of answers — and of first pieces — that hold the span, at no greater length;
- the refusal on PIAF questions asked twice, with and without the passages that hold their
  answer (the article's other paragraphs are natural near misses), and on the deployment's
  development questions (`--questions`), which carry its own style of questions.
Each result is written to the profile with a manifest: what it was fitted on (sha256), with
which code, for which embedding model and index, and how well it did in cross-validation.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.answer.extract import ExtractiveAnswerer, compose
from chatbot.answer.rank import FEATURES as RANK_FEATURES
from chatbot.answer.rank import RankerWeights, ScoredSentence
from chatbot.answer.support import FEATURES as SUPPORT_FEATURES
from chatbot.answer.support import support_features
from chatbot.config import PROFILE_DIR, PROJECT_ROOT, Settings
from chatbot.engine import Engine
from chatbot.evaluation.metrics import Question, facts_covered, first_piece
from chatbot.evaluation.piaf import PiafQuestion
from chatbot.records import AnswerRequest, Hit
from chatbot.text.normalize import fold_for_match

SEED = 0


@dataclass
class Example:
    """One PIAF question through retrieval: its request, and the same without its answer."""

    question: PiafQuestion
    request: AnswerRequest
    masked: AnswerRequest  # the passages holding the answer sentence removed: a near miss


def _holds(text: str, needle: str) -> bool:
    return fold_for_match(needle) in fold_for_match(text)


def piaf_examples(engine: Engine, questions: Iterable[PiafQuestion], progress: bool = False) -> list[Example]:
    """Retrieve every question once; keep the request with and without its answer's passages."""
    items = list(questions)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="PIAF", unit="q")
    out = []
    top_k = engine.settings.top_k
    for q in items:
        retrieval = engine.retriever.search(q.question, top_k * 2)
        gold = q.answer_sentence()
        kept = [h for h in retrieval.hits if not _holds(h.chunk.text, gold)]
        out.append(
            Example(
                question=q,
                request=_request(q.question, retrieval.hits[:top_k], retrieval.query_vector),
                masked=_request(q.question, kept[:top_k], retrieval.query_vector),
            )
        )
    return out


def _request(question: str, hits: list[Hit], vector: np.ndarray) -> AnswerRequest:
    ranked_hits = [replace(h, rank=k) for k, h in enumerate(hits, 1)]
    return AnswerRequest(question=question, search_query=question, hits=ranked_hits, query_vector=vector)


# --- the ranker ------------------------------------------------------------------------------
def ranker_rows(engine: Engine, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows of every candidate sentence, its label (holds the span), its question."""
    rows, labels, groups = [], [], []
    for k, ex in enumerate(examples):
        for _, _, sentence, features in engine.ranker.candidates(ex.request):
            rows.append([features[f] for f in RANK_FEATURES])
            labels.append(any(_holds(sentence.text, a) for a in ex.question.answers))
            groups.append(k)
    return np.array(rows), np.array(labels, dtype=int), np.array(groups)


def fit_ranker(rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, sources: dict[str, str]) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    def fitted(idx: np.ndarray) -> tuple[np.ndarray, float]:
        scaler = StandardScaler().fit(rows[idx])
        model = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(rows[idx]), labels[idx])
        w = model.coef_[0] / scaler.scale_  # back to the raw scale the ranker computes
        return w, float(model.intercept_[0] - (w * scaler.mean_).sum())

    # Cross-validated: the share of questions whose best-scored sentence holds the span.
    top1 = []
    for fit_idx, held in GroupKFold(5).split(rows, labels, groups):
        w, b = fitted(fit_idx)
        scores = rows[held] @ w + b
        for g in np.unique(groups[held]):
            mine = groups[held] == g
            if labels[held][mine].any():
                top1.append(bool(labels[held][mine][np.argmax(scores[mine])]))
    w, b = fitted(np.arange(len(labels)))
    return {
        "weights": {f: round(float(v), 5) for f, v in zip(RANK_FEATURES, w, strict=True)},
        "bias": round(b, 5),
        "manifest": {
            "what": "sentence ranker: logistic regression, log-odds that a sentence holds the answer",
            "fitted_on": sources,
            "candidates": int(len(labels)),
            "positives": int(labels.sum()),
            "cv_best_sentence_holds_answer": round(float(np.mean(top1)), 4),
            **_provenance(),
        },
    }


# --- the quoting knobs ---------------------------------------------------------------------------
def choice_scores(
    engine: Engine, examples: Sequence[Example], grid: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    """Span coverage, first-piece coverage and median length of the answers, per knob setting."""
    ranked = [(ex, engine.ranker.rank(ex.request)) for ex in examples]
    results = []
    for setting in _product(grid):
        answerer = ExtractiveAnswerer(engine.ranker, **setting)
        whole, first, lengths = [], [], []
        for ex, sentences in ranked:
            text = compose(answerer.choose(sentences), ex.request.hits).text if sentences else ""
            facts = [list(ex.question.answers)]
            whole.append(facts_covered(text, facts))
            first.append(facts_covered(first_piece(text), facts))
            lengths.append(len(text))
        results.append(
            {
                **setting,
                "coverage": round(float(np.mean(whole)), 4),
                "first_piece": round(float(np.mean(first)), 4),
                "median_chars": statistics.median(lengths),
            }
        )
    return results


def _product(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    settings: list[dict[str, Any]] = [{}]
    for key, values in grid.items():
        settings = [{**s, key: v} for s in settings for v in values]
    return settings


# --- the refusal -------------------------------------------------------------------------------
def support_rows(engine: Engine, requests: Iterable[AnswerRequest]) -> np.ndarray:
    rows = []
    for request in requests:
        ranked: list[ScoredSentence] = engine.ranker.rank(request)
        f = support_features(engine.index, request, ranked)
        rows.append([f[k] for k in SUPPORT_FEATURES])
    return np.array(rows)


def question_requests(engine: Engine, questions: Sequence[Question]) -> list[AnswerRequest]:
    """The development questions through retrieval, as the engine asks them."""
    from chatbot.engine import asked_part
    from chatbot.safety.detector import patterns_only

    out = []
    for q in questions:
        request, _ = engine.prepare(asked_part(q.question, patterns_only().assess(q.question)), q.history)
        out.append(request)
    return out


def fit_support(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    tune: str,
    index_manifest: dict[str, Any],
    sources: dict[str, str],
) -> dict[str, Any]:
    """A logistic model over support features; its threshold balances the two errors on `tune`.

    `parts` maps a name to (rows, labels). Each part weighs as much as the others in the fit
    (PIAF has thousands of rows, a deployment's questions a hundred). The threshold is the one
    that maximises the worse of the two refusal accuracies on `tune` (the deployment's own
    questions), cross-validated so that no question decides its own threshold.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([rows for rows, _ in parts.values()])
    y = np.concatenate([labels for _, labels in parts.values()])
    weight = np.concatenate([np.full(len(labels), 1.0 / len(labels)) for _, labels in parts.values()])
    weight *= len(y) / weight.sum()
    part_of = np.concatenate([np.full(len(labels), name, dtype=object) for name, (_, labels) in parts.items()])

    def fitted(idx: np.ndarray) -> tuple[np.ndarray, float]:
        scaler = StandardScaler().fit(x[idx])
        model = LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")
        model.fit(scaler.transform(x[idx]), y[idx], sample_weight=weight[idx])
        w = model.coef_[0] / scaler.scale_
        return w, float(model.intercept_[0] - (w * scaler.mean_).sum())

    # Out-of-fold probabilities for every row: the threshold and the reported accuracies
    # never see a question's own label.
    oof = np.zeros(len(y))
    for fit_idx, held in StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y):
        w, b = fitted(fit_idx)
        oof[held] = _sigmoid(x[held] @ w + b)
    mine = part_of == tune
    threshold = best_threshold(oof[mine], y[mine])
    w, b = fitted(np.arange(len(y)))
    report = {
        name: _accuracies(oof[part_of == name] >= threshold, y[part_of == name]) for name in parts
    }
    return {
        "features": list(SUPPORT_FEATURES),
        "weights": {f: round(float(v), 5) for f, v in zip(SUPPORT_FEATURES, w, strict=True)},
        "bias": round(b, 5),
        "threshold": round(float(threshold), 5),
        "manifest": {
            "what": "refusal: logistic regression, probability that a sentence answers what was asked",
            "fitted_on": sources,
            "rows": {name: {"answerable": int(lab.sum()), "unanswerable": int(len(lab) - lab.sum())} for name, (_, lab) in parts.items()},
            "threshold_from": tune,
            "cross_validated_accuracy": report,
            "index": {
                "corpus_sha256": index_manifest.get("corpus_sha256"),
                "weights_sha256": index_manifest.get("weights_sha256"),
                "format_version": index_manifest.get("format_version"),
            },
            "ranker_sha256": sha256_file(PROFILE_DIR / "ranker.json"),
            **_provenance(),
        },
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


# --- provenance ------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _provenance() -> dict[str, str]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    import sklearn

    return {"code_commit": commit, "scikit_learn": sklearn.__version__, "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def neutral_engine(settings: Settings) -> Engine:
    """An engine on `settings`' index whose ranker and refusal weigh nothing yet (for fitting)."""
    from chatbot.answer.support import Calibration
    from chatbot.index.store import load_index, read_manifest

    embedder = settings.embedder()
    read_manifest(settings.index_dir)
    index = load_index(settings.index_dir, embedder)
    weights = (
        RankerWeights.load()
        if (PROFILE_DIR / "ranker.json").is_file()
        else RankerWeights(weights={"dense": 1.0}, bias=0.0, manifest={})
    )
    return Engine(index, embedder, settings, calibration=Calibration(weights={}, bias=0.0), ranker_weights=weights)


Progress = Callable[[Iterable[Any]], Iterable[Any]]
