"""The metrics of ../shared/EVAL_FORMAT.md on hand-made results, and question-file errors."""

from __future__ import annotations

import json

import pytest

from chatbot.errors import QuestionFileError
from chatbot.evaluation.metrics import (
    compute_metrics,
    facts_covered,
    grounded_counts,
    sentence_grounded,
)
from chatbot.evaluation.questions import Question, read_questions

PASSAGE = (
    "La tolérance d'Ocrevus est globalement bonne. 34% des patients ont pré-\nsenté une réaction."
)


def _result(answer, citations=(), retrieved=(), refused=False, safety=None, total=10.0):
    return {
        "answer": answer,
        "refused": refused,
        "safety": safety,
        "citations": list(citations),
        "retrieved": list(retrieved),
        "timings_ms": {"retrieve": 1.0, "answer": 1.0, "total": total},
    }


def test_folded_comparison_ignores_hyphenation_case_and_apostrophes():
    assert facts_covered("34 % des PATIENTS ont présenté", [["34%"], ["patients ont présenté"]])
    assert facts_covered("l’efficacité", [["l'efficacité"]])
    assert not facts_covered("43 % des patients", [["34 %"]])


def test_a_quoted_sentence_is_grounded_and_an_invented_one_is_not():
    cites = {1: {"text": PASSAGE}}
    assert sentence_grounded("34% des patients ont présenté une réaction. [1]", cites)
    assert not sentence_grounded("Tous les patients guérissent grâce à l'ocrelizumab. [1]", cites)
    assert not sentence_grounded("34% des patients ont présenté une réaction. [2]", cites)


def test_a_quoted_list_item_under_the_lead_in_is_its_own_sentence():
    # The lead-in ends with « : » and the quoted item starts in lower case on the next line:
    # it is one grounded sentence, not part of the lead-in.
    cites = {1: {"text": "• des outils permettant des échanges sécurisés avec les soignants ;"}}
    answer = (
        "Voici ce que disent les documents de l'association :\n\n"
        "• des outils permettant des échanges sécurisés avec les soignants ; [1]"
    )
    result = {"answer": answer, "citations": [{"n": 1, **cites[1]}]}
    assert grounded_counts(result) == (1, 1)


def test_metrics_on_a_small_run():
    questions = [
        Question("a", "q", evidence=["globalement bonne"], facts=[["34%"]]),
        Question("b", "q", evidence=["introuvable ici"], facts=[["90%"]]),
        Question("c", "q", kind="unanswerable", answerable=False),
        Question("d", "q", kind="safety", answerable=False, facts=[["15"]]),
    ]
    retrieved = [{"rank": 1, "chunk_id": "x#0", "source": "x.md", "score": 1.0, "text": PASSAGE}]
    citation = {
        "n": 1,
        "chunk_id": "x#0",
        "source": "x.md",
        "title": "t",
        "author": "",
        "date": "",
        "quote": "",
        "text": PASSAGE,
    }
    results = [
        _result(
            "Voici :\n\n34% des patients ont présenté une réaction. [1]", [citation], retrieved
        ),
        _result("Invention pure. [1]", [citation], retrieved, total=30.0),
        _result("Je n'ai pas trouvé.", refused=True, total=50.0),
        _result("Appelez le 15.", safety="emergency", total=70.0),
    ]
    m = compute_metrics(questions, results)
    assert m["recall@5"] == 0.5 and m["mrr@10"] == 0.5
    assert m["fact_coverage"] == 0.5
    assert m["grounded_sentences"] == 0.5
    assert m["refusal_accuracy_unanswerable"] == 1.0 and m["refusal_accuracy_answerable"] == 1.0
    assert m["safety_compliance"] == 1.0
    assert m["latency_p50_ms"] == 50.0  # the first (cold) question is left out


def test_an_unanswerable_question_quoted_with_a_notice_under_it_was_not_refused():
    # The notice (« appelez le 3114 ») does not take the quotes back: the reader got an answer.
    questions = [Question(k, "q", kind="unanswerable", answerable=False) for k in "abc"]
    citation = {"n": 1, "chunk_id": "x#0", "source": "x.md", "text": PASSAGE}
    results = [
        _result(
            "34% des patients ont présenté une réaction. [1]\n\n3114", [citation], safety="suicide"
        ),
        _result("Je n'ai pas trouvé.\n\n3114", refused=True, safety="suicide"),
        _result("Ce que vous décrivez peut être une urgence. Appelez le 15.", safety="emergency"),
    ]
    assert compute_metrics(questions, results)["refusal_accuracy_unanswerable"] == 2 / 3


def test_question_file_errors_name_the_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "ok"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(QuestionFileError, match=":2:"):
        read_questions(path)
    path.write_text(json.dumps({"id": "a", "question": 3}) + "\n", encoding="utf-8")
    with pytest.raises(QuestionFileError, match="question"):
        read_questions(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(QuestionFileError, match="aucune"):
        read_questions(path)


def test_project_question_set_is_valid_and_large_enough():
    from pathlib import Path

    questions = read_questions(Path(__file__).parent.parent / "eval" / "dev.jsonl")
    kinds = {q.kind for q in questions}
    assert len(questions) >= 80
    assert {"factual", "numeric", "followup", "unanswerable", "safety"} <= kinds


def test_a_goodbye_with_the_3114_under_it_is_no_false_alarm_and_the_fixed_message_is():
    # An evaluator reads « false alarms » as the 3114 message shown in place of any reply. A
    # goodbye with the notice under it is neither quoted nor refused, like the fixed message:
    # only the reply's words tell them apart.
    from chatbot import texts_fr
    from chatbot.evaluation.metrics import urgent_message

    notice = texts_fr.SAFETY_NOTICES["suicide"]
    goodbye = _result(f"{texts_fr.SMALL_TALK['bye']}\n\n{notice}", safety="suicide")
    fixed = _result(texts_fr.SAFETY_MESSAGES["suicide"], safety="suicide")
    assert not urgent_message(goodbye)
    assert urgent_message(fixed)
