"""Running question files through the engine: result files, metrics, reports.

`chatbot eval`, the regression gate of `make test` and the benchmarks all go through here,
so every question is asked the way a patient asks it (`Engine.ask`) and measured the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot import texts_fr
from chatbot.errors import InvalidQuestion
from chatbot.evaluation.metrics import compute_metrics
from chatbot.evaluation.questions import Question
from chatbot.evaluation.report import (
    Gate,
    RunReport,
    compare_runs,
    report_paths,
    write_reports,
    write_results,
)
from chatbot.records import refusal_result

BASELINE_MODES = ("lexical", "dense")  # one retriever alone: what the fusion gains


def answer_questions(
    engine: Any, questions: Sequence[Question], mode: str = "hybrid", progress: bool = False
) -> list[dict[str, Any]]:
    """The result records of ../shared/EVAL_FORMAT.md for `questions`, one engine call each.

    A question the engine cannot take (empty, too long, not French) is a refusal with the
    French message a patient would read.
    """
    items: Iterable[Question] = questions
    if progress:
        from tqdm import tqdm

        items = tqdm(questions, desc="questions", unit="q")
    out = []
    for q in items:
        try:
            out.append(engine.ask(q.question, q.history, mode=mode).to_result(q.id, q.question))
        except InvalidQuestion as exc:
            message = texts_fr.input_error(
                exc.reason, q.question, engine.settings.max_question_chars
            )
            out.append(refusal_result(q.id, q.question, message))
    return out


@dataclass(frozen=True)
class Evaluation:
    report: RunReport
    report_files: tuple[Path, Path] | None  # the HTML page and the Markdown summary written


def evaluate(
    engine: Any,
    path: Path,
    questions: Sequence[Question],
    *,
    mode: str = "hybrid",
    out: Path | None = None,
    report_dir: Path | None = None,
    baselines: bool = False,
    old_results: list[dict[str, Any]] | None = None,
    old_path: str = "",
    gates: Sequence[Gate] = (),
    progress: bool = False,
) -> Evaluation:
    """Ask every question of a file; write its results and reports; check its gates."""
    results = answer_questions(engine, questions, mode, progress)
    metrics = compute_metrics(list(questions), results)
    if out:
        write_results(out, results)
    modes = [m for m in BASELINE_MODES if baselines and m != mode]
    runs = {}
    for m in modes:
        base = answer_questions(engine, questions, m, progress)
        runs[m] = (base, compute_metrics(list(questions), base))
        if out:
            write_results(out.with_name(f"{out.stem}.{m}.jsonl"), base)
    report = RunReport(
        questions_path=str(path),
        mode=mode,
        questions=list(questions),
        results=results,
        metrics=metrics,
        baselines=runs,
        gates=[g.check(metrics) for g in gates],
        comparison=compare_runs(list(questions), old_results, results, old_path)
        if old_results is not None
        else None,
        context=context(engine),
    )
    files = report_paths(out, report_dir)
    if files:
        write_reports(report, *files)
    return Evaluation(report, files)


def context(engine: Any) -> dict[str, str]:
    """What a report says about the run: index, model, when."""
    m = getattr(engine.index, "manifest", {})
    return {
        "index": str(engine.settings.index_dir),
        "modèle": str(m.get("model_id", "")),
        "passages": str(m.get("chunks", len(engine.index))),
        "index construit le": str(m.get("built_at", "")),
        "évalué le": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
