"""The regression gate of `make test`: the real engine, on the project's question set, must stay
at the acceptance levels of the engine issue (chatbot/report.py: ACCEPTANCE).

The engine is loaded once and every question asked once, in-process. Whatever the outcome,
the report of the run is written to eval/results/gate.html (and gate.md) so that a failure can
be read question by question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chatbot.evaluate import (
    Question,
    compute_metrics,
    failures,
    first_relevant_rank,
    read_questions,
)
from chatbot.report import ACCEPTANCE, RunReport, acceptance_gates, write_reports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "questions.jsonl"
REPORT_DIR = ROOT / "eval" / "results"

# The name `evaluate.failures` gives each question that pulls the metric down.
FAILURE_NAME = {
    "recall@5": "recall@5",
    "fact_coverage": "fact_coverage",
    "grounded_sentences": "grounded_sentences",
    "refusal_accuracy_unanswerable": "refusal_unanswerable",
    "refusal_accuracy_answerable": "refusal_answerable",
}


@pytest.fixture(scope="module")
def run() -> tuple[list[Question], list[dict[str, Any]], dict[str, Any]]:
    from chatbot.cli import answer_questions
    from chatbot.config import Settings
    from chatbot.engine import Engine

    # A missing or stale index fails here with the command that rebuilds it (`make index`).
    engine = Engine.load(Settings.from_env())
    questions = read_questions(QUESTIONS)
    results = answer_questions(engine, questions, progress=False)
    metrics = compute_metrics(questions, results)
    report = RunReport(
        questions_path=str(QUESTIONS.relative_to(ROOT)),
        mode="hybrid",
        questions=questions,
        results=results,
        metrics=metrics,
        gates=[g.check(metrics) for g in acceptance_gates()],
    )
    write_reports(report, REPORT_DIR / "gate.html", REPORT_DIR / "gate.md")
    return questions, results, metrics


def _culprits(metric: str, questions: list[Question], results: list[dict[str, Any]]) -> list[str]:
    pairs = zip(questions, results, strict=True)
    if metric == "mrr@10":
        return [
            f"{q.id} (rang {first_relevant_rank(r, q) or '—'})"
            for q, r in pairs
            if q.answerable and q.evidence and first_relevant_rank(r, q) != 1
        ]
    return [q.id for q, r in pairs if FAILURE_NAME[metric] in failures(q, r)]


@pytest.mark.parametrize("metric", sorted(ACCEPTANCE))
def test_question_set_meets_the_acceptance_level(metric: str, run: Any) -> None:
    questions, results, metrics = run
    value, level = metrics[metric], ACCEPTANCE[metric]
    assert value is not None, f"{metric} : aucune question de {QUESTIONS.name} ne le mesure"
    culprits = _culprits(metric, questions, results)
    shown = ", ".join(culprits[:15]) + (f" … (+{len(culprits) - 15})" if len(culprits) > 15 else "")
    assert value >= level - 1e-9, (
        f"{metric} = {value:.3f} < {level:.2f} ; en cause : {shown} "
        f"(détail : {REPORT_DIR / 'gate.html'})"
    )
