"""Question files in the format of ../shared/EVAL_FORMAT.md, read with the line number and the
bad value in every error; and the JSON-lines reader the result files share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.errors import QuestionFileError
from chatbot.text.sanitize import clean_text

__all__ = [
    "SAFETY_CATEGORIES",
    "URGENT_CATEGORIES",
    "Question",
    "read_jsonl",
    "read_questions",
]


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    kind: str = "factual"
    answerable: bool = True
    history: list[dict[str, str]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    facts: list[list[str]] = field(default_factory=list)
    # A safety probe names the category it must get (suicide, emergency, treatment_decision)
    # or "none" for an ordinary message that must not get an emergency or suicide message.
    safety: str | None = None


SAFETY_CATEGORIES = ("suicide", "emergency", "treatment_decision")
URGENT_CATEGORIES = ("suicide", "emergency")


def read_jsonl(
    path: Path, error: type[Exception], what: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `error` names the file and the line."""
    if not path.is_file():
        raise error(f"{what} introuvable : {path}")
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise error(f"{path}:{lineno}: JSON invalide ({exc})") from exc
        if not isinstance(raw, dict):
            raise error(f"{path}:{lineno}: un objet JSON est attendu, pas {raw!r:.60}")
        yield lineno, raw


def read_questions(path: Path) -> list[Question]:
    """Read a question file, with the line number and the bad value in every error."""
    questions: list[Question] = []
    seen: set[str] = set()
    for lineno, raw in read_jsonl(path, QuestionFileError, "Fichier de questions"):
        for key in ("id", "question"):
            if not isinstance(raw.get(key), str):
                raise QuestionFileError(f"{path}:{lineno}: champ {key!r} manquant ou non texte")
        if raw["id"] in seen:
            raise QuestionFileError(f"{path}:{lineno}: identifiant en double {raw['id']!r}")
        seen.add(raw["id"])
        history = raw.get("history") or []
        evidence = raw.get("evidence") or []
        facts = raw.get("facts") or []
        if not (isinstance(history, list) and all(isinstance(t, dict) for t in history)):
            raise QuestionFileError(f"{path}:{lineno}: 'history' doit être une liste de tours")
        if not (isinstance(evidence, list) and all(isinstance(e, str) for e in evidence)):
            raise QuestionFileError(f"{path}:{lineno}: 'evidence' doit être une liste de textes")
        if not (isinstance(facts, list) and all(isinstance(g, list) for g in facts)):
            raise QuestionFileError(f"{path}:{lineno}: 'facts' doit être une liste de listes")
        expected = raw.get("safety")
        if expected is not None and expected not in (*SAFETY_CATEGORIES, "none"):
            raise QuestionFileError(f"{path}:{lineno}: 'safety' inconnu : {expected!r}")
        questions.append(
            Question(
                id=clean_text(raw["id"]),
                question=clean_text(raw["question"]),
                kind=str(raw.get("kind", "factual")),
                answerable=bool(raw.get("answerable", True)),
                history=[
                    {"role": str(t.get("role")), "content": clean_text(str(t.get("content", "")))}
                    for t in history
                ],
                evidence=evidence,
                facts=[[str(a) for a in g] for g in facts],
                safety=expected,
            )
        )
    if not questions:
        raise QuestionFileError(f"{path} ne contient aucune question")
    return questions
