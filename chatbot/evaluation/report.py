"""Evaluation reports: a self-contained HTML page, a Markdown summary, run comparison, gates.

`chatbot eval` writes both files next to its result file. The HTML page has no script and
loads nothing: inline CSS only, and every text is escaped (corpus passages may contain
`<script>`), so it can be opened from a CI artefact as it is. A failed question shows what a
reviewer needs to see why: the retrieved passages (relevant ones marked), the answer, its
citations and the metrics it fails. Baseline runs (lexical-only, dense-only) sit beside the
main run; `--compare OLD.jsonl` lists the questions that got better or worse.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.config import PROJECT_ROOT
from chatbot.errors import ResultFileError
from chatbot.evaluation.metrics import (
    Question,
    compute_metrics,
    failures,
    first_relevant_rank,
    is_relevant,
    read_jsonl,
)

# The floors `make test` protects, per question file of eval/ (eval/floors.json): a few
# points below what was measured on the sets nobody tunes on, so that one question moving
# never fails CI; they move up only with a change that is better on those sets.
FLOORS_PATH = PROJECT_ROOT / "eval" / "floors.json"

# Metrics of `compute_metrics` that are shares (higher is better), in the order shown.
SCORE_METRICS = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "fact_coverage",
    "fact_coverage_first_piece",
    "grounded_sentences",
    "citation_precision",
    "refusal_accuracy_unanswerable",
    "refusal_accuracy_answerable",
    "safety_compliance",
    "safety_recall_suicide",
    "safety_recall_emergency",
    "safety_recall_treatment_decision",
)
# Shares where lower is better, shown after the scores.
RATE_METRICS = ("false_alarm",)
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms")


# --- gates ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """`--fail-under METRIC=VALUE`: the run fails when `metric` is below `minimum`.

    A rate where lower is better (false alarms) has a `maximum` instead.
    """

    metric: str
    minimum: float
    maximum: bool = False  # `minimum` is then the most the metric may reach

    def check(self, metrics: dict[str, Any]) -> GateResult:
        value = metrics.get(self.metric)
        # A metric no question measures (e.g. no safety question) cannot pass a gate silently.
        if value is None:
            return GateResult(self, value, False)
        passed = value <= self.minimum + 1e-9 if self.maximum else value >= self.minimum - 1e-9
        return GateResult(self, value, passed)

    def describe_level(self) -> str:
        return f"≤ {self.minimum:.2f}" if self.maximum else f"≥ {self.minimum:.2f}"


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float | None
    passed: bool

    def describe(self) -> str:
        shown = "non mesuré" if self.value is None else f"{self.value:.3f}"
        verdict = "ok" if self.passed else "ÉCHEC"
        bound = "maximum" if self.gate.maximum else "minimum"
        return f"{self.gate.metric} = {shown} ({bound} {self.gate.minimum:g}) : {verdict}"


def parse_gate(text: str) -> Gate:
    """`"recall@5=0.95"` -> Gate. Raises ValueError with the bad value in the message."""
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    if not sep:
        raise ValueError(f"attendu METRIQUE=VALEUR, reçu {text!r}")
    if metric not in SCORE_METRICS:
        raise ValueError(f"métrique inconnue {metric!r} ; possibles : {', '.join(SCORE_METRICS)}")
    try:
        minimum = float(value)
    except ValueError:
        raise ValueError(f"valeur non numérique {value!r} pour {metric}") from None
    if not 0.0 <= minimum <= 1.0:
        raise ValueError(f"{metric} est une proportion : {minimum} n'est pas entre 0 et 1")
    return Gate(metric, minimum)


def floor_gates(questions_path: str | Path) -> list[Gate]:
    """The gates eval/floors.json sets for this question file (none for another file)."""
    if not FLOORS_PATH.is_file():
        return []
    floors = json.loads(FLOORS_PATH.read_text(encoding="utf-8")).get("files", {})
    path = Path(questions_path)
    try:
        key = path.resolve().relative_to(FLOORS_PATH.parent).as_posix()
    except ValueError:
        key = path.as_posix()
    entry = floors.get(key, {})
    return [Gate(m, float(v)) for m, v in entry.get("minimum", {}).items()] + [
        Gate(m, float(v), maximum=True) for m, v in entry.get("maximum", {}).items()
    ]


# --- result files and comparison ----------------------------------------------------------------
def read_results(path: Path) -> list[dict[str, Any]]:
    """A result file of ../shared/EVAL_FORMAT.md (JSON Lines)."""
    out = []
    for lineno, row in read_jsonl(path, ResultFileError, "Fichier de résultats"):
        if not isinstance(row.get("id"), str):
            raise ResultFileError(f"{path}:{lineno}: un résultat avec un champ 'id' est attendu")
        out.append(row)
    return out


def write_results(path: Path, results: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Change:
    """One question whose outcome differs between two runs."""

    question: Question
    old_failures: list[str]
    new_failures: list[str]
    old_rank: int | None  # rank of the first relevant passage, None when none in the top 10
    new_rank: int | None

    def describe(self) -> str:
        parts = []
        fixed = [m for m in self.old_failures if m not in self.new_failures]
        broken = [m for m in self.new_failures if m not in self.old_failures]
        if broken:
            parts.append("échoue désormais : " + ", ".join(broken))
        if fixed:
            parts.append("réussit désormais : " + ", ".join(fixed))
        if self.old_rank != self.new_rank and self.question.evidence and self.question.answerable:
            parts.append(
                f"rang du premier passage pertinent {_rank(self.old_rank)} → {_rank(self.new_rank)}"
            )
        return " ; ".join(parts)


@dataclass(frozen=True)
class Comparison:
    old_path: str
    old_metrics: dict[str, Any] | None  # None when the old run did not answer every question
    better: list[Change]
    worse: list[Change]
    not_in_old: list[str]  # ids of questions the old run did not answer


def compare_runs(
    questions: list[Question],
    old_results: list[dict[str, Any]],
    new_results: list[dict[str, Any]],
    old_path: str = "",
) -> Comparison:
    """Questions matched by id: worse when a metric newly fails (or the relevant passage falls),
    better when one newly passes (or the relevant passage rises) and none newly fails."""
    old_by_id = {r["id"]: r for r in old_results}
    better, worse, missing = [], [], []
    for q, new in zip(questions, new_results, strict=True):
        old = old_by_id.get(q.id)
        if old is None:
            missing.append(q.id)
            continue
        of, nf = failures(q, old), failures(q, new)
        orank, nrank = _rank_or_none(old, q), _rank_or_none(new, q)
        change = Change(q, of, nf, orank, nrank)
        if set(nf) - set(of):
            worse.append(change)
        elif set(of) - set(nf):
            better.append(change)
        elif orank != nrank and q.answerable and q.evidence:
            (better if _rank_key(nrank) < _rank_key(orank) else worse).append(change)
    old_metrics = None
    if not missing:
        old_metrics = compute_metrics(questions, [old_by_id[q.id] for q in questions])
    return Comparison(old_path, old_metrics, better, worse, missing)


def _rank_or_none(result: dict[str, Any], q: Question) -> int | None:
    if not (q.answerable and q.evidence):
        return None
    rank = first_relevant_rank(result, q)
    return rank if rank is not None and rank <= 10 else None


def _rank_key(rank: int | None) -> int:
    return rank if rank is not None else 10**6


def _rank(rank: int | None) -> str:
    return "—" if rank is None else str(rank)


# --- the report -------------------------------------------------------------------------------
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
            mode: _rank_or_none(results[index], q) for mode, (results, _) in self.baselines.items()
        }


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


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _metric_rows(report: RunReport) -> list[tuple[str, list[str], str]]:
    """(metric, [main, baselines…, previous], CI floor) for the metrics table."""
    rows = []
    levels = {g.metric: g.describe_level() for g in floor_gates(report.questions_path)}
    for key in (*SCORE_METRICS, *RATE_METRICS, *LATENCY_METRICS):
        values = [_fmt(key, report.metrics.get(key))]
        values += [_fmt(key, m.get(key)) for _, m in report.baselines.values()]
        if report.comparison is not None:
            old = report.comparison.old_metrics
            values.append(_fmt(key, old.get(key)) if old else "—")
        rows.append((key, values, levels.get(key, "")))
    return rows


def _columns(report: RunReport) -> list[str]:
    cols = [f"{report.mode} (ce run)"] + list(report.baselines)
    if report.comparison is not None:
        cols.append("run précédent")
    return cols


# --- Markdown -----------------------------------------------------------------------------------
def _md(text: str, limit: int | None = None) -> str:
    """Text safe inside a Markdown table cell: no raw HTML, no pipes, one line."""
    one_line = " ".join(str(text).split())
    if limit is not None and len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return html.escape(one_line, quote=False).replace("|", "\\|")


def render_markdown(report: RunReport) -> str:
    failed = report.failed()
    out = [
        "# Évaluation du chatbot",
        "",
        f"Questions : `{report.questions_path}` ({len(report.questions)}) · mode : **{report.mode}** · "
        f"questions en échec : **{len(failed)}**",
    ]
    out += [f"- {_md(k)} : {_md(v)}" for k, v in report.context.items()]
    cols = _columns(report)
    out += [
        "",
        "## Métriques",
        "",
        "| métrique | " + " | ".join(cols) + " | plancher CI |",
    ]
    out.append("|---|" + "---:|" * len(cols) + "---|")
    for key, values, level in _metric_rows(report):
        out.append(f"| {key} | " + " | ".join(values) + f" | {level} |")
    if report.gates:
        out += ["", "## Seuils (--fail-under)", ""]
        out += [f"- {'✅' if g.passed else '❌'} {_md(g.describe())}" for g in report.gates]
    if report.comparison is not None:
        c = report.comparison
        out += ["", f"## Comparaison avec `{_md(c.old_path)}`", ""]
        out.append(f"{len(c.better)} question(s) en progrès, {len(c.worse)} en recul.")
        for title, changes in (("En recul", c.worse), ("En progrès", c.better)):
            if changes:
                out += ["", f"### {title}", ""]
                out += [
                    f"- `{_md(ch.question.id)}` {_md(ch.question.question, 90)} — {_md(ch.describe())}"
                    for ch in changes
                ]
        if c.not_in_old:
            out += [
                "",
                "Absentes du run précédent : " + ", ".join(f"`{_md(i)}`" for i in c.not_in_old),
            ]
    out += ["", "## Questions en échec", ""]
    if not failed:
        out.append("Aucune.")
    else:
        base_cols = list(report.baselines)
        rank_header = " | ".join([f"rang ({report.mode})", *(f"rang ({m})" for m in base_cols)])
        out.append(f"| id | type | métriques en échec | {rank_header} | question | réponse |")
        out.append("|---|---|---|" + "---:|" * (1 + len(base_cols)) + "---|---|")
        index_of = {q.id: i for i, q in enumerate(report.questions)}
        for q, r, fails in failed:
            ranks = [_rank(_rank_or_none(r, q))]
            ranks += [_rank(v) for v in report.baseline_ranks(index_of[q.id]).values()]
            out.append(
                f"| `{_md(q.id)}` | {_md(q.kind)} | {_md(', '.join(fails))} | "
                + " | ".join(ranks)
                + f" | {_md(q.question, 120)} | {_md(_answer_body(r), 160)} |"
            )
    out += [
        "",
        "Le rapport complet (passages, citations) est dans le fichier HTML du même nom.",
        "",
    ]
    return "\n".join(out)


def _answer_body(result: dict[str, Any]) -> str:
    return str(result.get("answer", ""))


# --- HTML -----------------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f4f5f8}
main{max-width:1180px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}h3{font-size:15px;margin:14px 0 6px}
.meta{color:#5a6275;margin:0 0 2px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d9dce3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eceef3}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.bad{background:#fde3e3;color:#8a1010;font-weight:600}td.good{background:#e3f5e6}
.card{background:#fff;border:1px solid #d9dce3;border-left:5px solid #c62828;border-radius:4px;margin:14px 0;padding:10px 14px}
.card h3{margin-top:0}.qid{font-family:ui-monospace,monospace;color:#5a6275;font-weight:normal}
.tag{display:inline-block;border-radius:10px;padding:0 8px;margin:0 4px 2px 0;font-size:12px;background:#eceef3}
.tag.fail{background:#c62828;color:#fff}.tag.ok{background:#2e7d32;color:#fff}
.answer{white-space:pre-wrap;background:#f7f8fb;border:1px solid #e3e5ea;padding:6px 10px;margin:4px 0}
.passage{white-space:pre-wrap}
tr.relevant td{background:#e8f6ea}
.small{font-size:12px;color:#5a6275}
ul.changes li{margin:2px 0}
details summary{cursor:pointer;color:#1f4fa0}
a{color:#1f4fa0}table.index{margin-bottom:8px}
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def render_html(report: RunReport) -> str:
    failed = report.failed()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="fr"><head><meta charset="utf-8">',
        # No resource may load from anywhere: the page is read from CI artefacts, offline.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Évaluation — {len(failed)} question(s) en échec</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Évaluation du chatbot</h1>",
        f'<p class="meta">Questions : <code>{_h(report.questions_path)}</code> ({len(report.questions)}) · '
        f"mode : <b>{_h(report.mode)}</b> · questions en échec : <b>{len(failed)}</b></p>",
    ]
    parts += [f'<p class="meta">{_h(k)} : {_h(v)}</p>' for k, v in report.context.items()]
    parts.append(_html_metrics(report))
    if report.gates:
        parts.append("<h2>Seuils (--fail-under)</h2><ul>")
        for g in report.gates:
            cls = "ok" if g.passed else "fail"
            parts.append(
                f'<li><span class="tag {cls}">{"ok" if g.passed else "échec"}</span>{_h(g.describe())}</li>'
            )
        parts.append("</ul>")
    if report.comparison is not None:
        parts.append(_html_comparison(report.comparison))
    parts.append(f"<h2>Questions en échec ({len(failed)})</h2>")
    if not failed:
        parts.append("<p>Aucune.</p>")
    else:
        # A short index first: one line per failed question, linked to its card below.
        parts.append(
            '<table class="index"><tr><th>id</th><th>type</th><th>métriques en échec</th><th>question</th></tr>'
        )
        parts += [
            f'<tr><td><a href="#q-{_h(q.id)}">{_h(q.id)}</a></td><td>{_h(q.kind)}</td>'
            f"<td>{_h(', '.join(fails))}</td><td>{_h(q.question)}</td></tr>"
            for q, _, fails in failed
        ]
        parts.append("</table>")
    index_of = {q.id: i for i, q in enumerate(report.questions)}
    for q, r, fails in failed:
        parts.append(_html_failed(report, q, r, fails, index_of[q.id]))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _html_metrics(report: RunReport) -> str:
    cols = _columns(report)
    rows = ["<h2>Métriques</h2><table><tr><th>métrique</th>"]
    rows.append("".join(f"<th>{_h(c)}</th>" for c in cols) + "<th>plancher CI</th></tr>")
    gates = {g.metric: g for g in floor_gates(report.questions_path)}
    for key, values, level in _metric_rows(report):
        cls = ""
        if key in gates and report.metrics.get(key) is not None:
            cls = " good" if gates[key].check(report.metrics).passed else " bad"
        cells = [f'<td class="num{cls}">{_h(values[0])}</td>']
        cells += [f'<td class="num">{_h(v)}</td>' for v in values[1:]]
        rows.append(f"<tr><td>{_h(key)}</td>{''.join(cells)}<td>{_h(level)}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _html_comparison(c: Comparison) -> str:
    parts = [
        f"<h2>Comparaison avec <code>{_h(c.old_path)}</code></h2>",
        f"<p>{len(c.better)} question(s) en progrès, {len(c.worse)} en recul.</p>",
    ]
    for title, changes in (("En recul", c.worse), ("En progrès", c.better)):
        if changes:
            parts.append(f'<h3>{title}</h3><ul class="changes">')
            parts += [
                f'<li><span class="qid">{_h(ch.question.id)}</span> {_h(ch.question.question)} — {_h(ch.describe())}</li>'
                for ch in changes
            ]
            parts.append("</ul>")
    if c.not_in_old:
        parts.append(
            f'<p class="small">Absentes du run précédent : {_h(", ".join(c.not_in_old))}</p>'
        )
    return "\n".join(parts)


def _html_failed(
    report: RunReport, q: Question, r: dict[str, Any], fails: list[str], index: int
) -> str:
    parts = [
        f'<section class="card" id="q-{_h(q.id)}">',
        f'<h3><span class="qid">{_h(q.id)} · {_h(q.kind)} · '
        f"{'répondable' if q.answerable else 'sans réponse dans les documents'}</span><br>{_h(q.question)}</h3>",
        "<div>" + "".join(f'<span class="tag fail">{_h(m)}</span>' for m in fails),
    ]
    if r.get("refused"):
        parts.append('<span class="tag">refus</span>')
    if r.get("safety"):
        parts.append(f'<span class="tag">sécurité : {_h(r["safety"])}</span>')
    ranks = {report.mode: _rank_or_none(r, q), **report.baseline_ranks(index)}
    if q.answerable and q.evidence:
        parts.append(
            '<span class="small">rang du premier passage pertinent : '
            + ", ".join(f"{_h(m)} {_rank(v)}" for m, v in ranks.items())
            + "</span>"
        )
    parts.append("</div>")
    if q.history:
        turns = "".join(
            f"<li><b>{_h(t.get('role'))}</b> : {_h(t.get('content'))}</li>" for t in q.history
        )
        parts.append(f'<p class="small">Historique :</p><ul class="small">{turns}</ul>')
    if q.evidence or q.facts:
        items = [f"<li>preuve : « {_h(e)} »</li>" for e in q.evidence]
        items += [
            f"<li>fait attendu : {' ou '.join('« ' + _h(a) + ' »' for a in g)}</li>"
            for g in q.facts
        ]
        parts.append(f'<ul class="small">{"".join(items)}</ul>')
    parts.append(f'<div class="answer">{_h(r.get("answer", ""))}</div>')
    citations = r.get("citations") or []
    if citations:
        parts.append("<table><tr><th>n</th><th>source</th><th>citation</th></tr>")
        for c in citations:
            rel = "pertinent" if is_relevant(str(c.get("text", "")), q) else ""
            parts.append(
                f"<tr><td>[{_h(c.get('n'))}]</td><td>{_h(c.get('source'))}<br>"
                f'<span class="small">{_h(c.get("title"))} {_h(rel)}</span></td>'
                f'<td class="passage">« {_h(c.get("quote"))} »</td></tr>'
            )
        parts.append("</table>")
    retrieved = sorted(r.get("retrieved") or [], key=lambda p: p.get("rank", 0))
    if retrieved:
        parts.append(
            "<h3>Passages retrouvés</h3><table><tr><th>rang</th><th>score</th><th>source</th><th>passage</th></tr>"
        )
        for p in retrieved:
            text = str(p.get("text", ""))
            relevant = bool(q.evidence) and is_relevant(text, q)
            head = text[:220] + ("…" if len(text) > 220 else "")
            body = (
                f"{_h(head)}<details><summary>texte entier</summary>{_h(text)}</details>"
                if len(text) > 220
                else _h(text)
            )
            mark = ' <span class="tag ok">pertinent</span>' if relevant else ""
            parts.append(
                f'<tr class="{"relevant" if relevant else ""}"><td class="num">{_h(p.get("rank"))}</td>'
                f'<td class="num">{_h(_score(p.get("score")))}</td>'
                f'<td>{_h(p.get("source"))}{mark}<br><span class="small">{_h(p.get("chunk_id"))}</span></td>'
                f'<td class="passage">{body}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts)


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


__all__ = [
    "FLOORS_PATH",
    "Comparison",
    "Gate",
    "GateResult",
    "RunReport",
    "floor_gates",
    "compare_runs",
    "parse_gate",
    "read_results",
    "render_html",
    "render_markdown",
    "report_paths",
    "write_reports",
    "write_results",
]
