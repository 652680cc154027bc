#!/usr/bin/env python3
"""Messages that ask nothing, through the engine: eval/told.jsonl (measured, never fitted).

Usage:
    .venv/bin/python eval/told_eval.py [--bank eval/told.jsonl] [--ordinary eval/heldback.jsonl ...]

For the bank's messages (none has a question mark), by label: how many quote a passage, how
many get the « nothing asked » reply, and how many something else (small talk, « je n'ai pas
trouvé », a safety message). A message that `tells` should quote nothing; one that `asks` should
be searched like any question. Then, for each `--ordinary` question set, how many of its
questions get the « nothing asked » reply (with their history): each is a question lost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.config import Settings  # noqa: E402
from chatbot.engine import Engine  # noqa: E402
from chatbot.errors import InvalidQuestion  # noqa: E402


def outcome(engine: Engine, message: str, history: list[dict[str, str]] | None = None) -> str:
    try:
        answer = engine.ask(message, history or [])
    except InvalidQuestion:
        return "invalid"
    if "nothing_asked" in answer.notes:
        return "nothing_asked"
    if answer.citations:
        return "quoted"
    return "other"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bank", type=Path, default=Path("eval/told.jsonl"))
    parser.add_argument("--ordinary", type=Path, action="append", default=[])
    args = parser.parse_args()
    engine = Engine.load(Settings.from_env())
    rows = [json.loads(line) for line in args.bank.read_text(encoding="utf-8").splitlines() if line]
    for label in ("tells", "asks"):
        mine = [r for r in rows if r["label"] == label]
        seen = [(r, outcome(engine, r["message"])) for r in mine]
        counts = Counter(o for _, o in seen)
        print(
            f"{args.bank} {label} ({len(mine)}): quoted a passage {counts['quoted']}, "
            f"« nothing asked » {counts['nothing_asked']}, other {counts['other']}"
        )
        wrong = "quoted" if label == "tells" else "nothing_asked"
        for r, o in seen:
            if o == wrong:
                print(f"  {o}: {r['message']}")
    for path in args.ordinary:
        questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        lost = [
            q
            for q in questions
            if outcome(engine, q["question"], q.get("history")) == "nothing_asked"
        ]
        print(f"{path}: « nothing asked » {len(lost)}/{len(questions)}")
        for q in lost:
            print(f"  {'answerable' if q.get('answerable') else 'unanswerable'}: {q['question']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
