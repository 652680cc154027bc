#!/usr/bin/env python3
"""Check the bank of minimal pairs (eval/pairs.jsonl) against the documents of corpus/.

Usage:
    python eval/check_pairs.py [eval/pairs.jsonl]

Standard library only; exit status 0 when there is no error. Checked: one JSON object per
line with unique ids; every pair holds exactly one answerable question and one near miss, of
the same voice (`kind`) and the same kind of ask (`ask`); an answerable question's evidence
occurs in its document (folded as in ../shared/EVAL_FORMAT.md) and each of its fact groups
has an alternative in that evidence; a near miss has a `note` and neither evidence nor facts.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = ("id", "question", "kind", "answerable", "pair", "ask", "document")


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def question_errors(q: dict, documents: dict[str, str]) -> list[str]:
    errors = [f"missing {f}" for f in REQUIRED if f not in q]
    document = documents.get(q.get("document", ""))
    if document is None:
        return [*errors, f"unknown document {q.get('document')}"]
    if not q.get("answerable"):
        if q.get("evidence") or q.get("facts"):
            errors.append("a near miss carries evidence or facts")
        if not q.get("note"):
            errors.append("a near miss without its note")
        return errors
    evidence = q.get("evidence") or []
    if not evidence or not q.get("facts"):
        errors.append("an answerable question without evidence or facts")
    errors += [
        f"evidence not in {q['document']}: {e[:60]}" for e in evidence if fold(e) not in document
    ]
    joined = fold(" ".join(evidence))
    errors += [
        f"no alternative of {group} in the evidence"
        for group in q.get("facts") or []
        if not any(fold(a) in joined for a in group)
    ]
    return errors


def pair_errors(pairs: dict[str, list[dict]]) -> list[str]:
    errors = []
    for name, questions in pairs.items():
        if sorted(bool(q.get("answerable")) for q in questions) != [False, True]:
            errors.append(f"pair {name}: needs one answerable question and one near miss")
        elif (
            len({q.get("kind") for q in questions}) != 1
            or len({q.get("ask") for q in questions}) != 1
        ):
            errors.append(f"pair {name}: both questions must share kind and ask")
    return errors


def main(path: Path) -> int:
    documents = {
        p.name: fold(p.read_text(encoding="utf-8")) for p in (ROOT / "corpus").glob("*.md")
    }
    errors: list[str] = []
    pairs: dict[str, list[dict]] = defaultdict(list)
    ids: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError as exc:
            errors.append(f"line {n}: not JSON ({exc})")
            continue
        if q.get("id") in ids:
            errors.append(f"line {n}: duplicate id {q.get('id')}")
        ids.add(q.get("id"))
        pairs[q.get("pair", "")].append(q)
        errors += [f"line {n}: {e}" for e in question_errors(q, documents)]
    errors += pair_errors(pairs)
    print("\n".join(errors))
    print(f"{len(ids)} questions, {len(pairs)} pairs, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "eval" / "pairs.jsonl"))
