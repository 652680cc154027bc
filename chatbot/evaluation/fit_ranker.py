"""Fitting the sentence ranker and the quoting knobs on PIAF's training articles.

- the ranker (`make fit`): for each question, the retrieved sentence that holds the answer span
  is the positive, the other candidates the negatives; a logistic model over rank.FEATURES,
  written with its manifest to profile/ranker.json;
- the quoting knobs (`chatbot fit choice`): the margins and the sentence after the best, on
  the same questions, for the share of answers — and of first pieces — holding the span, at
  no greater length. The chosen setting goes to Settings with the run's figures.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from chatbot.answer.extract import ExtractiveAnswerer, compose
from chatbot.answer.rank import FEATURES as RANK_FEATURES
from chatbot.config import PROFILE_DIR, Settings
from chatbot.engine import Engine
from chatbot.evaluation import piaf
from chatbot.evaluation.examples import Example, holds, neutral_engine, piaf_examples
from chatbot.evaluation.metrics import facts_covered, first_piece
from chatbot.evaluation.provenance import provenance, sha256_file, write_json

# The grid `chatbot fit choice` measures (log-odds of the ranker).
CHOICE_GRID: dict[str, list[Any]] = {
    "margin": [1.0, 1.5, 2.0, 2.5, 3.0],
    "passage_margin": [0.0, 1.0, 2.0, 3.0, 4.0],
    "with_next": [False, True],
}


def fit_ranker_on_piaf(settings: Settings, limit: int | None = None) -> dict[str, Any]:
    """Fit the ranker on PIAF's training questions (`settings.index_dir`: the PIAF index) and
    write profile/ranker.json."""
    engine = neutral_engine(settings)
    questions = list(piaf.questions("train"))[:limit]
    rows, labels, groups = ranker_rows(
        engine, piaf_examples(engine, questions, sys.stderr.isatty())
    )
    sources = {
        "piaf": f"{len(questions)} questions d'entraînement PIAF sha256:{sha256_file(piaf.PIAF_FILE)}"
    }
    data = fit_ranker(rows, labels, groups, sources)
    write_json(data, PROFILE_DIR / "ranker.json")
    return data


def choice_grid(settings: Settings, limit: int) -> list[dict[str, Any]]:
    """Every quoting setting of CHOICE_GRID on PIAF's training questions, best coverage first."""
    engine = neutral_engine(settings)
    examples = piaf_examples(engine, list(piaf.questions("train"))[:limit], sys.stderr.isatty())
    grid = {"max_sentences": [settings.max_sentences], **CHOICE_GRID}
    return sorted(choice_scores(engine, examples, grid), key=lambda r: -r["coverage"])


# --- the ranker ------------------------------------------------------------------------------
def ranker_rows(
    engine: Engine, examples: Sequence[Example]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows of every candidate sentence, its label (holds the span), its question."""
    rows, labels, groups = [], [], []
    for k, ex in enumerate(examples):
        for _, _, sentence, features in engine.ranker.candidates(ex.request):
            rows.append([features[f] for f in RANK_FEATURES])
            labels.append(any(holds(sentence.text, a) for a in ex.question.answers))
            groups.append(k)
    return np.array(rows), np.array(labels, dtype=int), np.array(groups)


def fit_ranker(
    rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, sources: dict[str, str]
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    def fitted(idx: np.ndarray) -> tuple[np.ndarray, float]:
        scaler = StandardScaler().fit(rows[idx])
        model = LogisticRegression(C=1.0, max_iter=2000).fit(
            scaler.transform(rows[idx]), labels[idx]
        )
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
            **provenance(),
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
