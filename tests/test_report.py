"""`chatbot eval` reports: what a reviewer reads when a question fails, and what CI gates on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatbot import cli
from chatbot.evaluation.metrics import compute_metrics
from chatbot.evaluation.questions import Question, read_questions
from chatbot.evaluation.report import (
    SCORE_METRICS,
    RunReport,
    compare_runs,
    parse_gate,
    render_html,
    render_markdown,
)
from chatbot.evaluation.run import answer_questions
from chatbot.records import Document
from tests.helpers import DOCS, fake_engine

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = ROOT / "eval" / "external_questions.jsonl"

HOSTILE = Document(
    doc_id="hostile",
    source="hostile.md",
    title="<script>alert('titre')</script>",
    text=(
        "La kinésithérapie respiratoire aide certains patients <script>alert('x')</script> "
        "à mieux respirer après une poussée. <img src=x onerror=alert(1)> La rééducation "
        "respiratoire se fait avec un kinésithérapeute."
    ),
)


@pytest.fixture(scope="module")
def engine():
    return fake_engine(docs=[*DOCS, HOSTILE])


def _report(engine, questions: list[Question]) -> RunReport:
    results = answer_questions(engine, questions, progress=False)
    lexical = answer_questions(engine, questions, "lexical", progress=False)
    return RunReport(
        questions_path="q.jsonl",
        mode="hybrid",
        questions=questions,
        results=results,
        metrics=compute_metrics(questions, results),
        baselines={"lexical": (lexical, compute_metrics(questions, lexical))},
    )


def test_a_question_file_written_elsewhere_runs_unchanged(engine):
    """Other ids, other kinds, missing optional fields and unknown extra fields."""
    questions = read_questions(EXTERNAL)
    raw = [json.loads(line) for line in EXTERNAL.read_text(encoding="utf-8").splitlines()]
    assert len(questions) == len(raw) >= 15
    assert any(
        set(r) - {"id", "question", "history", "kind", "answerable", "evidence", "facts"}
        for r in raw
    )
    assert any("evidence" not in r and r.get("facts") for r in raw)
    assert any("facts" not in r and r.get("evidence") for r in raw)

    results = answer_questions(engine, questions, progress=False)
    metrics = compute_metrics(questions, results)
    assert [r["id"] for r in results] == [q.id for q in questions]
    for key in SCORE_METRICS:
        assert metrics[key] is None or 0.0 <= metrics[key] <= 1.0, key
    # Each metric is over the questions that have its fields, as the shared format says.
    assert metrics["recall@5"] is not None and metrics["fact_coverage"] is not None
    assert metrics["safety_compliance"] is not None  # measured on its one safety question
    render_html(_report(engine, questions))


def test_html_report_shows_each_failed_question_with_its_evidence_trail(engine):
    questions = [
        Question(
            id="ok",
            question="la biotine a forte dose marche ?",
            evidence=["ne montre pas d'efficacité"],
            facts=[["pas d'efficacité"]],
        ),
        Question(
            id="rate",
            question="la kinesitherapie respiratoire aide t elle ?",
            evidence=["phrase absente du corpus"],
            facts=[["inexistant"]],
        ),
    ]
    report = _report(engine, questions)
    page = render_html(report)
    failed = {q.id for q, _, _ in report.failed()}
    assert "rate" in failed and "ok" not in failed
    card = page[page.index('id="q-rate"') :]
    assert "recall@5" in card and "fact_coverage" in card  # which metric failed
    assert "Passages retrouvés" in card and "hostile.md" in card  # the retrieved passages
    assert "[1]" in card  # the answer with its markers and the citation table
    assert 'id="q-ok"' not in page
    # Baselines sit beside the main run in the metrics table.
    assert "<th>lexical</th>" in page


def test_html_report_shows_the_documents_a_refusal_named(engine):
    question = Question(
        id="refus",
        question="Est-ce que la vitamine D et le tabac jouent un role ?",
        evidence=["phrase absente du corpus"],
        facts=[["inexistant"]],
    )
    report = _report(engine, [question])
    result = report.results[0]
    assert result["refused"] and result["nearby"]
    card = render_html(report)
    card = card[card.index('id="q-refus"') :]
    assert "Documents proposés après le refus" in card
    assert all(n["source"] in card for n in result["nearby"])


def test_html_report_is_self_contained_and_escapes_corpus_text(engine):
    questions = [
        Question(
            id="x<b>", question="la kinesitherapie respiratoire aide t elle ?", evidence=["absent"]
        )
    ]
    page = render_html(_report(engine, questions))
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "x&lt;b&gt;" in page
    # The page as a browser parses it: only our own tags, nothing to fetch or to run.
    tags = _tags(page)
    assert {t for t, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p",
                                    "code", "b", "br", "table", "tr", "th", "td", "section", "div", "span", "ul",
                                    "li", "details", "summary", "a"}  # fmt: skip
    assert not [a for _, attrs in tags for a, _ in attrs if a == "src" or a.startswith("on")]
    assert all(v.startswith("#q-") for _, attrs in tags for a, v in attrs if a == "href")
    assert not re.search(r"@import|url\(", page[page.index("<style>") : page.index("</style>")])
    assert "default-src 'none'" in page


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(page)
    return found


def test_markdown_summary_has_metrics_and_failed_questions_without_raw_html(engine):
    questions = [
        Question(id="rate", question="kinesitherapie | respiratoire ?", evidence=["absent"])
    ]
    summary = render_markdown(_report(engine, questions))
    assert "| recall@5 |" in summary
    assert "`rate`" in summary and "recall@5" in summary
    assert "<script" not in summary and "kinesitherapie \\| respiratoire" in summary


def test_comparison_lists_questions_that_got_better_or_worse():
    q = [
        Question(id="a", question="?", evidence=["alpha"]),
        Question(id="b", question="?", evidence=["beta"]),
        Question(id="c", question="?", evidence=["gamma"]),
    ]

    def result(qid: str, relevant_rank: int | None) -> dict:
        retrieved = [
            {"rank": k, "chunk_id": f"{qid}{k}", "source": "s.md", "score": 1 / k,
             "text": {"a": "alpha", "b": "beta", "c": "gamma"}[qid] if k == relevant_rank else "autre"}
            for k in range(1, 11)
        ]  # fmt: skip
        return {"id": qid, "question": "?", "answer": "", "refused": False, "safety": None,
                "citations": [], "retrieved": retrieved, "timings_ms": {"total": 1.0}}  # fmt: skip

    old = [result("a", 1), result("b", 8), result("c", 3)]
    new = [result("a", 7), result("b", 1), result("c", 2)]
    c = compare_runs(q, old, new, "old.jsonl")
    assert [ch.question.id for ch in c.worse] == ["a"]  # fell out of the top 5
    assert [ch.question.id for ch in c.better] == ["b", "c"]  # back in the top 5; rank 3 -> 2
    assert "recall@5" in c.worse[0].describe()
    assert c.old_metrics is not None and c.old_metrics["recall@5"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [("recall@5", "METRIQUE=VALEUR"), ("recal@5=0.9", "inconnue"), ("mrr@10=haut", "non numérique"),
     ("mrr@10=85", "entre 0 et 1"), ("latency_p50_ms=50", "inconnue")],
)  # fmt: skip
def test_bad_gates_are_refused_with_the_bad_value(text, message):
    with pytest.raises(ValueError, match=message):
        parse_gate(text)


def test_eval_command_writes_results_reports_and_gates(tmp_path, monkeypatch, capsys, engine):
    monkeypatch.setattr(cli.commands, "_engine", lambda index_dir: engine)
    out = tmp_path / "r.jsonl"
    argv = ["eval", "--questions", str(EXTERNAL), "--baselines", "--out", str(out)]
    assert cli.main([*argv, "--fail-under", "recall@10=0.0"]) == 0
    for name in ("r.jsonl", "r.lexical.jsonl", "r.dense.jsonl", "r.html", "r.md"):
        assert (tmp_path / name).is_file(), name
    printed = capsys.readouterr().out
    assert "hybrid" in printed and "lexical" in printed and "dense" in printed

    # A gate under its level fails the command (exit status 1) and says which one.
    assert cli.main([*argv, "--fail-under", "fact_coverage=1"]) == 1
    assert "ÉCHEC fact_coverage" in capsys.readouterr().err

    # Against itself, nothing got better or worse.
    reports = tmp_path / "reports"
    assert (
        cli.main(
            ["eval", "--questions", str(EXTERNAL), "--compare", str(out), "--report", str(reports)]
        )
        == 0
    )
    assert "0 question(s) en progrès, 0 en recul" in capsys.readouterr().out
    assert (reports / "rapport.html").is_file() and (reports / "rapport.md").is_file()
