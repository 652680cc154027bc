"""Evaluation reports: a self-contained HTML page, a Markdown summary, run comparison, gates.

`chatbot eval` writes both files next to its result file. The HTML page has no script and
loads nothing: inline CSS only, and every text is escaped (corpus passages may contain
`<script>`), so it can be opened from a CI artefact as it is. A failed question shows what a
reviewer needs to see why: the retrieved passages (relevant ones marked), the answer, its
citations and the metrics it fails. Baseline runs (lexical-only, dense-only) sit beside the
main run; `--compare OLD.jsonl` lists the questions that got better or worse.

This module holds what one run knows (`RunReport`) and writes the two files; the gates are in
report_gates.py, result files and the comparison in report_compare.py, the two renderings in
report_html.py and report_markdown.py. Every name is importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.evaluation.metrics import failures
from chatbot.evaluation.questions import Question
from chatbot.evaluation.report_compare import (
    Change,
    Comparison,
    compare_runs,
    rank_or_none,
    read_results,
    write_results,
)
from chatbot.evaluation.report_gates import (
    FLOORS_PATH,
    LATENCY_METRICS,
    RATE_METRICS,
    SCORE_METRICS,
    Gate,
    GateResult,
    floor_gates,
    parse_gate,
)
from chatbot.evaluation.report_html import render_html
from chatbot.evaluation.report_markdown import render_markdown


@dataclass
class RunReport:
    """Everything one `chatbot eval` run knows, for the HTML page and the Markdown summary."""

    questions_path: str
    mode: str
    questions: list[Question]
    results: list[dict[str, Any]]
    metrics: dict[str, Any]
    baselines: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)
    comparison: Comparison | None = None
    context: dict[str, str] = field(default_factory=dict)  # index, model, date… shown in the header

    def failed(self) -> list[tuple[Question, dict[str, Any], list[str]]]:
        rows = []
        for q, r in zip(self.questions, self.results, strict=True):
            failed = failures(q, r)
            if failed:
                rows.append((q, r, failed))
        return rows

    def baseline_ranks(self, index: int) -> dict[str, int | None]:
        q = self.questions[index]
        return {
            mode: rank_or_none(results[index], q) for mode, (results, _) in self.baselines.items()
        }

    def ranks(self, q: Question, r: dict[str, Any], index: int) -> list[tuple[str, int | None]]:
        """(mode, rank of the first relevant passage): this run's result `r`, then each baseline's."""
        return [(self.mode, rank_or_none(r, q)), *self.baseline_ranks(index).items()]

    def columns(self) -> list[str]:
        """The runs side by side in the metrics table: this one, the baselines, the previous."""
        cols = [f"{self.mode} (ce run)"] + list(self.baselines)
        if self.comparison is not None:
            cols.append("run précédent")
        return cols

    def metric_rows(self) -> list[tuple[str, list[str], str]]:
        """(metric, [main, baselines…, previous], CI floor) for the metrics table."""
        rows = []
        levels = {g.metric: g.describe_level() for g in floor_gates(self.questions_path)}
        for key in (*SCORE_METRICS, *RATE_METRICS, *LATENCY_METRICS):
            values = [_fmt(key, self.metrics.get(key))]
            values += [_fmt(key, m.get(key)) for _, m in self.baselines.values()]
            if self.comparison is not None:
                old = self.comparison.old_metrics
                values.append(_fmt(key, old.get(key)) if old else "—")
            rows.append((key, values, levels.get(key, "")))
        return rows


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def report_paths(out: Path | None, report_dir: Path | None) -> tuple[Path, Path] | None:
    """r.jsonl -> r.html, r.md beside it (or in `report_dir`); None when neither is given."""
    if out is None and report_dir is None:
        return None
    stem = out.stem if out is not None else "rapport"
    folder = report_dir if report_dir is not None else out.parent  # type: ignore[union-attr]
    return folder / f"{stem}.html", folder / f"{stem}.md"


def write_reports(report: RunReport, html_path: Path, md_path: Path) -> None:
    html_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_html(report), encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")


def columns_table(columns: list[tuple[str, dict[str, Any]]]) -> str:
    """Metrics as rows, one column per run."""
    width = max(12, *(len(name) + 2 for name, _ in columns))
    lines = [f"{'':<32}" + "".join(f"{name:>{width}}" for name, _ in columns)]
    for key in ("questions", *SCORE_METRICS, *RATE_METRICS, *LATENCY_METRICS):
        cells = "".join(f"{_fmt(key, metrics.get(key)):>{width}}" for _, metrics in columns)
        lines.append(f"{key:<32}" + cells)
    return "\n".join(lines)


__all__ = [
    "columns_table",
    "FLOORS_PATH",
    "LATENCY_METRICS",
    "RATE_METRICS",
    "SCORE_METRICS",
    "Change",
    "Comparison",
    "Gate",
    "GateResult",
    "RunReport",
    "compare_runs",
    "floor_gates",
    "parse_gate",
    "read_results",
    "render_html",
    "render_markdown",
    "report_paths",
    "write_reports",
    "write_results",
]
