"""Fitting the quote adapter (answer/adapter.py) on the deployment's labelled questions.

For each answerable question with facts, the row is the question's vector (as the engine reads
it, the conversation's subject included) and the mean vector of the retrieved sentences that hold
one of its fact groups; the ridge regression learns the residual (target − question), its
strength chosen by scikit-learn's leave-one-out `RidgeCV`. The questions it is fitted on are
named in the manifest; the validation sets (heldback, story2, conv, short, brands, blind40,
pairs2) never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.answer.adapter import ADAPTER_PATH
from chatbot.config import PROJECT_ROOT, Settings
from chatbot.engine import Engine
from chatbot.errors import QuestionFileError
from chatbot.evaluation.examples import neutral_engine
from chatbot.evaluation.metrics import facts_covered
from chatbot.evaluation.provenance import provenance, sha256_file, shown_path, write_json
from chatbot.evaluation.questions import read_questions

QUESTIONS = tuple(PROJECT_ROOT / "eval" / f for f in ("dev.jsonl", "pairs.jsonl", "bank.jsonl"))
ALPHAS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def adapter_rows(engine: Engine, paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(question vectors, mean vectors of the retrieved sentences that hold their facts)."""
    questions, targets = [], []
    for path in paths:
        for q in read_questions(path):
            if not q.answerable or not q.facts or q.safety:
                continue
            request, ranked = engine.prepare(q.question, q.history)
            rows = [
                engine.index.sentence_ids.get(s.sentence.text)
                for s in ranked
                if any(facts_covered(s.sentence.text, [group]) for group in q.facts)
            ]
            held = [r for r in rows if r is not None]
            if held:
                questions.append(np.asarray(request.query_vector, dtype=np.float64))
                targets.append(
                    np.mean([np.asarray(engine.index.sentence_vectors[r]) for r in held], axis=0)
                )
    if not questions:
        raise QuestionFileError("aucune question répondable dont un fait est dans les passages")
    return np.array(questions), np.array(targets, dtype=np.float64)


def fit_adapter(
    settings: Settings, paths: Sequence[Path] = QUESTIONS, out: Path = ADAPTER_PATH
) -> dict[str, Any]:
    from sklearn.linear_model import RidgeCV

    engine = neutral_engine(settings)
    x, y = adapter_rows(engine, paths)
    model = RidgeCV(alphas=ALPHAS).fit(x, y - x)
    manifest = engine.index.manifest
    data = {
        "weights": np.round(model.coef_.T, 5).tolist(),
        "bias": np.round(model.intercept_, 5).tolist(),
        "manifest": {
            "what": "quote adapter: ridge regression of the question vector's residual towards "
            "the sentences that hold its facts",
            "alpha": float(model.alpha_),
            "rows": int(len(x)),
            "fitted_on": {shown_path(p): sha256_file(p) for p in paths},
            "index": {
                k: manifest.get(k) for k in ("corpus_sha256", "weights_sha256", "format_version")
            },
            **provenance(),
        },
    }
    write_json(data, out)
    return data
