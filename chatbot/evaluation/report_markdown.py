"""The Markdown summary of an evaluation run: metrics, gates, comparison, failed questions.

Short enough to read in a CI log or a pull request; the passages and citations of each failed
question are in the HTML page of the same name. Every text is one escaped line (`_md`), so a
passage holding `|` or `<script>` can break neither the tables nor the page showing them.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from chatbot.evaluation.questions import Question
from chatbot.evaluation.report_compare import Comparison, shown_rank

if TYPE_CHECKING:
    from chatbot.evaluation.report import RunReport


def render_markdown(report: RunReport) -> str:
    failed = report.failed()
    out = [
        "# Évaluation du chatbot",
        "",
        f"Questions : `{report.questions_path}` ({len(report.questions)}) · mode : **{report.mode}** · "
        f"questions en échec : **{len(failed)}**",
    ]
    out += [f"- {_md(k)} : {_md(v)}" for k, v in report.context.items()]
    out += _metrics(report)
    if report.gates:
        out += ["", "## Seuils (--fail-under)", ""]
        out += [f"- {'✅' if g.passed else '❌'} {_md(g.describe())}" for g in report.gates]
    if report.comparison is not None:
        out += _comparison(report.comparison)
    out += ["", "## Questions en échec", ""]
    out += _failed(report, failed) if failed else ["Aucune."]
    out += [
        "",
        "Le rapport complet (passages, citations) est dans le fichier HTML du même nom.",
        "",
    ]
    return "\n".join(out)


def _metrics(report: RunReport) -> list[str]:
    cols = report.columns()
    out = ["", "## Métriques", "", "| métrique | " + " | ".join(cols) + " | plancher CI |"]
    out.append("|---|" + "---:|" * len(cols) + "---|")
    for key, values, level in report.metric_rows():
        out.append(f"| {key} | " + " | ".join(values) + f" | {level} |")
    return out


def _comparison(c: Comparison) -> list[str]:
    out = ["", f"## Comparaison avec `{_md(c.old_path)}`", "", c.summary()]
    for title, changes in c.sections():
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
    return out


def _failed(
    report: RunReport, failed: list[tuple[Question, dict[str, Any], list[str]]]
) -> list[str]:
    """One table row per failed question, with the rank of its passage in each run."""
    base_cols = list(report.baselines)
    rank_header = " | ".join([f"rang ({report.mode})", *(f"rang ({m})" for m in base_cols)])
    out = [f"| id | type | métriques en échec | {rank_header} | question | réponse |"]
    out.append("|---|---|---|" + "---:|" * (1 + len(base_cols)) + "---|---|")
    index_of = {q.id: i for i, q in enumerate(report.questions)}
    for q, r, fails in failed:
        ranks = [shown_rank(rank) for _, rank in report.ranks(q, r, index_of[q.id])]
        out.append(
            f"| `{_md(q.id)}` | {_md(q.kind)} | {_md(', '.join(fails))} | "
            + " | ".join(ranks)
            + f" | {_md(q.question, 120)} | {_md(str(r.get('answer', '')), 160)} |"
        )
    return out


def _md(text: str, limit: int | None = None) -> str:
    """Text safe inside a Markdown table cell: no raw HTML, no pipes, one line."""
    one_line = " ".join(str(text).split())
    if limit is not None and len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return html.escape(one_line, quote=False).replace("|", "\\|")
