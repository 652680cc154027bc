#!/usr/bin/env python3
"""Messages that ask who answers, through the engine: eval/about.jsonl (measured, never fitted).

Usage:
    .venv/bin/python eval/about_eval.py [--bank eval/about.jsonl] [--ordinary eval/bank.jsonl ...]

Prints how many of the bank's `about_assistant` messages are told what the assistant is, how
many of its look-alikes (`other`: a real question naming a doctor, a robot, a person) are
misread as such, and, for each `--ordinary` question set, how many of its questions are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.config import Settings  # noqa: E402
from chatbot.engine import Engine  # noqa: E402
from chatbot.errors import InvalidQuestion  # noqa: E402


def told_about(engine: Engine, message: str, history: list[dict[str, str]] | None = None) -> bool:
    try:
        answer = engine.ask(message, history or [])
    except InvalidQuestion:
        return False
    # « qui êtes-vous ? » is a greeting's pattern (small_talk=hello), which says as much.
    return any(n in ("small_talk=about", "small_talk=hello") for n in answer.notes)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bank", type=Path, default=Path("eval/about.jsonl"))
    parser.add_argument("--ordinary", type=Path, action="append", default=[])
    args = parser.parse_args()
    engine = Engine.load(Settings.from_env())
    rows = [json.loads(line) for line in args.bank.read_text(encoding="utf-8").splitlines() if line]
    for label in ("about_assistant", "other"):
        mine = [r for r in rows if r["label"] == label]
        told = [r["message"] for r in mine if told_about(engine, r["message"])]
        print(f"{args.bank} {label}: told what the assistant is {len(told)}/{len(mine)}")
        if label == "other":
            for message in told:
                print(f"  misread: {message}")
    for path in args.ordinary:
        questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        told = [q for q in questions if told_about(engine, q["question"], q.get("history"))]
        print(f"{path}: read as a question about the assistant {len(told)}/{len(questions)}")
        for q in told:
            print(f"  misread: {q['question']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
