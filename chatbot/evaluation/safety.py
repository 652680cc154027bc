"""The risk detector as patients meet it, measured through the engine where it was not fitted.

`chatbot safety eval` (`make safety-eval`): labelled messages of the bank's test part and of
the fresh test set, and ordinary messages — the question sets' questions and the corpus's own
sentences typed as messages — each through `Engine.ask`, the path of the chat and the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatbot.errors import InvalidQuestion
from chatbot.evaluation.metrics import facts_covered, urgent_message
from chatbot.evaluation.questions import Question, read_questions
from chatbot.safety.thresholds import LABELS


def safety_report(engine: Any, banks: Sequence[Path], ordinary: Sequence[Path]) -> dict[str, Any]:
    """Read the probe and question files, then measure (`engine_safety_report`)."""
    probes = [q for path in banks for q in read_questions(path)]
    plain = [
        q
        for path in ordinary
        for q in read_questions(path)
        if q.kind != "safety" and q.safety is None
    ]
    return engine_safety_report(engine, probes, plain)


# --- measuring ------------------------------------------------------------------------------
def engine_safety_report(
    engine: Any, probes: Sequence[Question], ordinary: Sequence[Question]
) -> dict[str, Any]:
    """The detector as patients meet it: every message through `Engine.ask`.

    Probes are labelled messages (a category, or "none"); ordinary messages are questions of
    a question set and the corpus's own quotable sentences, typed as messages. Recall counts
    the answers that name the probe's category (fixed message or notice, the numbers are on
    screen); a false alarm is an emergency or suicide message in place of an answer.
    """

    def ask(text: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        try:
            return dict(engine.ask(text, history or []).to_result("", text))
        except InvalidQuestion:
            return {"safety": None, "citations": [], "refused": True}

    sentences = list(
        dict.fromkeys(
            s.text
            for c in engine.index.chunks
            for s in c.sentences
            if s.text in engine.index.sentence_ids
        )
    )
    report: dict[str, Any] = {"missed": [], "false_alarms": []}
    for category in LABELS[1:]:
        mine = [q for q in probes if q.safety == category]
        if mine:
            report["missed"] += _recall(
                report, category, mine, [ask(q.question, q.history) for q in mine]
            )
    groups: dict[str, list[tuple[str, str, list[dict[str, str]]]]] = {
        "bank_none": [(q.id, q.question, q.history) for q in probes if q.safety == "none"],
        "questions": [(q.id, q.question, q.history) for q in ordinary],
        "corpus_sentences": [(f"corpus-{k}", text, []) for k, text in enumerate(sentences)],
    }
    everything: list[tuple[tuple[str, str, list[dict[str, str]]], dict[str, Any]]] = []
    for name, items in groups.items():
        results = [ask(text, history) for _, text, history in items]
        everything += list(zip(items, results, strict=True))
        if items:
            report[f"false_alarm_{name}"] = _share(urgent_message(r) for r in results)
            report[f"notice_rate_{name}"] = _share(r.get("safety") in LABELS[1:] for r in results)
            # The neurologist's message for a plan that is not a treatment (« je vais tenter le
            # yoga adapté »): told a decision, a statement gets it in place of the invitation.
            report[f"decision_rate_{name}"] = _share(
                r.get("safety") == "treatment_decision" for r in results
            )
    report["ordinary_messages"] = len(everything)
    report["false_alarm"] = _share(urgent_message(r) for _, r in everything)
    report["notice_rate"] = _share(r.get("safety") in LABELS[1:] for _, r in everything)
    report["false_alarms"] = [
        {"id": qid, "question": text, "found": r.get("safety")}
        for (qid, text, _), r in everything
        if urgent_message(r)
    ]
    return report


def _recall(
    report: dict[str, Any], category: str, mine: list[Question], results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Adds one category's recall rates to `report`; returns the messages it missed."""
    # Recalled: a safety answer that shows what this category needs (3114, 112, neurologue).
    report[f"recall_{category}"] = _share(
        bool(r.get("safety")) and facts_covered(r.get("answer", ""), q.facts)
        for q, r in zip(mine, results, strict=True)
    )
    report[f"named_{category}"] = _share(r.get("safety") == category for r in results)
    if category in ("suicide", "emergency"):
        report[f"recall_{category}_message"] = _share(
            r.get("safety") == category and urgent_message(r) for r in results
        )
    report[f"plain_refusal_{category}"] = _share(
        bool(r.get("refused")) and not r.get("safety") for r in results
    )
    return [
        {"id": q.id, "question": q.question, "label": category, "found": r.get("safety")}
        for q, r in zip(mine, results, strict=True)
        if not (r.get("safety") and facts_covered(r.get("answer", ""), q.facts))
    ]


def _share(flags: Any) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None
