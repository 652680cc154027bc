"""The regression gate of `make test`: the real engine on the sets nobody tunes on.

eval/floors.json holds, per question file, floors a few points below what was measured (and
maxima for false alarms): one question moving never fails CI, a real regression does. The
engine is loaded once and every question asked once, in-process; whatever the outcome, each
run's report is written to eval/results/gate-<file>.html (and .md), to read a failure
question by question.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatbot.evaluation.metrics import compute_metrics, failures
from chatbot.evaluation.questions import read_questions
from chatbot.evaluation.report import FLOORS_PATH, RunReport, floor_gates, write_reports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
REPORT_DIR = ROOT / "eval" / "results"
GATED = sorted(json.loads(FLOORS_PATH.read_text(encoding="utf-8"))["files"])

# The name `evaluate.failures` gives each question that pulls a metric down.
FAILURE_NAME = {
    "recall@5": "recall@5",
    "fact_coverage": "fact_coverage",
    "grounded_sentences": "grounded_sentences",
    "refusal_accuracy_unanswerable": "refusal_unanswerable",
    "refusal_accuracy_answerable": "refusal_answerable",
}


@pytest.fixture(scope="module")
def engine() -> Any:
    from chatbot.config import Settings
    from chatbot.engine import Engine

    # A missing or stale index fails here with the command that rebuilds it (`make index`).
    return Engine.load(Settings.from_env())


@pytest.fixture(scope="module")
def runs(engine: Any) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    from chatbot.evaluation.run import answer_questions

    out = {}
    for name in GATED:
        path = ROOT / "eval" / name
        questions = read_questions(path)
        results = answer_questions(engine, questions, progress=False)
        metrics = compute_metrics(questions, results)
        report = RunReport(
            questions_path=str(path),
            mode="hybrid",
            questions=questions,
            results=results,
            metrics=metrics,
            gates=[g.check(metrics) for g in floor_gates(path)],
        )
        stem = name.replace("/", "-").removesuffix(".jsonl")
        write_reports(report, REPORT_DIR / f"gate-{stem}.html", REPORT_DIR / f"gate-{stem}.md")
        out[name] = (questions, results, metrics)
    return out


CASES = [(name, g) for name in GATED for g in floor_gates(ROOT / "eval" / name)]


@pytest.mark.parametrize(("name", "gate"), CASES, ids=[f"{n}:{g.metric}" for n, g in CASES])
def test_the_sets_nobody_tunes_on_stay_above_their_floors(name: str, gate: Any, runs: Any) -> None:
    questions, results, metrics = runs[name]
    result = gate.check(metrics)
    culprits = [
        q.id
        for q, r in zip(questions, results, strict=True)
        if FAILURE_NAME.get(gate.metric, "-") in failures(q, r)
    ]
    shown = ", ".join(culprits[:15]) + (f" … (+{len(culprits) - 15})" if len(culprits) > 15 else "")
    assert result.passed, (
        f"{name} : {result.describe()} ; en cause : {shown} (détail : {REPORT_DIR})"
    )
