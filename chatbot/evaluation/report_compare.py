"""Result files, and what changed between two runs of the same questions (`--compare OLD.jsonl`).

Questions are matched by id. A question is worse when a metric newly fails or its first
relevant passage falls; better when one newly passes, or the passage rises, and none newly fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.errors import ResultFileError
from chatbot.evaluation.metrics import compute_metrics, failures, first_relevant_rank
from chatbot.evaluation.questions import Question, read_jsonl


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
                "rang du premier passage pertinent "
                f"{shown_rank(self.old_rank)} → {shown_rank(self.new_rank)}"
            )
        return " ; ".join(parts)


@dataclass(frozen=True)
class Comparison:
    old_path: str
    old_metrics: dict[str, Any] | None  # None when the old run did not answer every question
    better: list[Change]
    worse: list[Change]
    not_in_old: list[str]  # ids of questions the old run did not answer

    def summary(self) -> str:
        return f"{len(self.better)} question(s) en progrès, {len(self.worse)} en recul."

    def sections(self) -> list[tuple[str, list[Change]]]:
        """(title, changes) for each side that has any, the questions that got worse first."""
        return [(t, cs) for t, cs in (("En recul", self.worse), ("En progrès", self.better)) if cs]


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
        orank, nrank = rank_or_none(old, q), rank_or_none(new, q)
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


def rank_or_none(result: dict[str, Any], q: Question) -> int | None:
    """Rank of the first relevant passage in the top 10; None when none, or nothing to find."""
    if not (q.answerable and q.evidence):
        return None
    rank = first_relevant_rank(result, q)
    return rank if rank is not None and rank <= 10 else None


def shown_rank(rank: int | None) -> str:
    return "—" if rank is None else str(rank)


def _rank_key(rank: int | None) -> int:
    return rank if rank is not None else 10**6
