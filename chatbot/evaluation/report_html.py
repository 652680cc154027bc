"""The HTML page of an evaluation run: one self-contained file a reviewer opens from CI.

No script and nothing loaded (inline CSS only, and a Content-Security-Policy saying so), and
every text escaped (`_h`): corpus passages may contain `<script>`. Each failed question gets
a card with what shows why it failed: its expected evidence, the answer, the citations and the
retrieved passages, the relevant ones marked.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from chatbot.evaluation.metrics import is_relevant
from chatbot.evaluation.questions import Question
from chatbot.evaluation.report_compare import Comparison, shown_rank
from chatbot.evaluation.report_gates import floor_gates

if TYPE_CHECKING:
    from chatbot.evaluation.report import RunReport

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
_SHOWN_CHARS = 220  # a longer retrieved passage shows its start, the rest behind <details>


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
    parts += _html_index(failed) if failed else ["<p>Aucune.</p>"]
    index_of = {q.id: i for i, q in enumerate(report.questions)}
    for q, r, fails in failed:
        parts.append(_html_failed(report, q, r, fails, index_of[q.id]))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _html_metrics(report: RunReport) -> str:
    cols = report.columns()
    rows = ["<h2>Métriques</h2><table><tr><th>métrique</th>"]
    rows.append("".join(f"<th>{_h(c)}</th>" for c in cols) + "<th>plancher CI</th></tr>")
    gates = {g.metric: g for g in floor_gates(report.questions_path)}
    for key, values, level in report.metric_rows():
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
        f"<p>{c.summary()}</p>",
    ]
    for title, changes in c.sections():
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


def _html_index(failed: list[tuple[Question, dict[str, Any], list[str]]]) -> list[str]:
    """A short index before the cards: one line per failed question, linked to its card."""
    return [
        '<table class="index"><tr><th>id</th><th>type</th><th>métriques en échec</th><th>question</th></tr>',
        *(
            f'<tr><td><a href="#q-{_h(q.id)}">{_h(q.id)}</a></td><td>{_h(q.kind)}</td>'
            f"<td>{_h(', '.join(fails))}</td><td>{_h(q.question)}</td></tr>"
            for q, _, fails in failed
        ),
        "</table>",
    ]


def _html_failed(
    report: RunReport, q: Question, r: dict[str, Any], fails: list[str], index: int
) -> str:
    """One failed question's card: why it failed, what was expected, answered and retrieved."""
    parts = [
        f'<section class="card" id="q-{_h(q.id)}">',
        f'<h3><span class="qid">{_h(q.id)} · {_h(q.kind)} · '
        f"{'répondable' if q.answerable else 'sans réponse dans les documents'}</span><br>{_h(q.question)}</h3>",
        *_tags(report, q, r, fails, index),
        *_expected(q),
        f'<div class="answer">{_h(r.get("answer", ""))}</div>',
        *_citations(q, r.get("citations") or []),
        *_nearby(q, r.get("nearby") or []),
        *_retrieved(q, sorted(r.get("retrieved") or [], key=lambda p: p.get("rank", 0))),
        "</section>",
    ]
    return "\n".join(parts)


def _tags(
    report: RunReport, q: Question, r: dict[str, Any], fails: list[str], index: int
) -> list[str]:
    """The failed metrics, refusal and safety rule, and the relevant passage's rank per run."""
    parts = ["<div>" + "".join(f'<span class="tag fail">{_h(m)}</span>' for m in fails)]
    if r.get("refused"):
        parts.append('<span class="tag">refus</span>')
    if r.get("safety"):
        parts.append(f'<span class="tag">sécurité : {_h(r["safety"])}</span>')
    if q.answerable and q.evidence:
        ranks = dict(report.ranks(q, r, index))
        parts.append(
            '<span class="small">rang du premier passage pertinent : '
            + ", ".join(f"{_h(m)} {shown_rank(v)}" for m, v in ranks.items())
            + "</span>"
        )
    parts.append("</div>")
    return parts


def _expected(q: Question) -> list[str]:
    """The conversation before the question, and the evidence and facts the answer needed."""
    parts = []
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
    return parts


def _citations(q: Question, citations: list[dict[str, Any]]) -> list[str]:
    if not citations:
        return []
    parts = ["<table><tr><th>n</th><th>source</th><th>citation</th></tr>"]
    for c in citations:
        rel = "pertinent" if is_relevant(str(c.get("text", "")), q) else ""
        parts.append(
            f"<tr><td>[{_h(c.get('n'))}]</td><td>{_h(c.get('source'))}<br>"
            f'<span class="small">{_h(c.get("title"))} {_h(rel)}</span></td>'
            f'<td class="passage">« {_h(c.get("quote"))} »</td></tr>'
        )
    parts.append("</table>")
    return parts


def _nearby(q: Question, nearby: list[dict[str, Any]]) -> list[str]:
    """The documents a refusal named, as the patient saw them, the relevant passages marked."""
    if not nearby:
        return []
    items = "".join(
        f'<li>{_h(n.get("title"))} <span class="small">({_h(n.get("source"))})'
        + (" pertinent" if is_relevant(str(n.get("text", "")), q) else "")
        + "</span></li>"
        for n in nearby
    )
    return [f'<p class="small">Documents proposés après le refus :</p><ul>{items}</ul>']


def _retrieved(q: Question, retrieved: list[dict[str, Any]]) -> list[str]:
    """The retrieved passages in rank order, the relevant ones marked."""
    if not retrieved:
        return []
    parts = [
        "<h3>Passages retrouvés</h3><table><tr><th>rang</th><th>score</th><th>source</th><th>passage</th></tr>"
    ]
    for p in retrieved:
        text = str(p.get("text", ""))
        relevant = bool(q.evidence) and is_relevant(text, q)
        long = len(text) > _SHOWN_CHARS
        head = text[:_SHOWN_CHARS] + ("…" if long else "")
        body = (
            f"{_h(head)}<details><summary>texte entier</summary>{_h(text)}</details>"
            if long
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
    return parts


def _score(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)
