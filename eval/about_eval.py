#!/usr/bin/env python3
"""Messages that ask who answers, through the engine: eval/about.jsonl (measured, never fitted).

Usage:
    .venv/bin/python eval/about_eval.py [--bank eval/about.jsonl] [--ordinary eval/bank.jsonl ...]

Prints how many of the bank's `about_assistant` messages are told what the assistant is, how
many of its look-alikes (`other`: a real question naming a doctor, a robot, a person) are
misread as such — each message alone, then after a first question of the conversation (the
first `--ordinary` set's opening questions, three drawn per message) —, and, for each
`--ordinary` question set, how many of its questions are (follow-ups with their history).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections import Counter
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


def conversation(engine: Engine, first: str) -> list[dict[str, str]]:
    """A conversation's first question and the engine's answer, as the chat sends them back."""
    return [
        {"role": "user", "content": first},
        {"role": "assistant", "content": engine.ask(first).text},
    ]


def alone(engine: Engine, rows: list[dict[str, str]], bank: Path) -> None:
    for label in ("about_assistant", "other"):
        mine = [r for r in rows if r["label"] == label]
        told = [r["message"] for r in mine if told_about(engine, r["message"])]
        print(f"{bank} {label}: told what the assistant is {len(told)}/{len(mine)}")
        if label == "other":
            for message in told:
                print(f"  misread: {message}")


def after_a_first_question(
    engine: Engine, rows: list[dict[str, str]], bank: Path, openings: list[str]
) -> None:
    """Each message after three first questions drawn from `openings`."""
    rng = random.Random(0)
    for label in ("about_assistant", "other"):
        mine = [r for r in rows if r["label"] == label]
        trials = [(r["message"], rng.sample(openings, 3)) for r in mine]
        times = Counter(
            message
            for message, firsts in trials
            for first in firsts
            if told_about(engine, message, conversation(engine, first))
        )
        told = sum(times.values())
        print(
            f"{bank} {label}, after a first question: told what the assistant is "
            f"{told}/{3 * len(mine)}"
        )
        for message, _ in trials:
            if label == "about_assistant" and times[message] < 3:
                print(f"  missed {3 - times[message]}/3: {message}")
            elif label == "other" and times[message]:
                print(f"  misread {times[message]}/3: {message}")


def in_their_conversation(engine: Engine, path: Path) -> None:
    """Each message of `path` after its own first question (`first`)."""
    pairs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for label in ("about_assistant", "other"):
        mine = [p for p in pairs if p["label"] == label]
        told = [
            p for p in mine if told_about(engine, p["message"], conversation(engine, p["first"]))
        ]
        print(
            f"{path} {label}, after its first question: told what the assistant is "
            f"{len(told)}/{len(mine)}"
        )
        wrong = "missed" if label == "about_assistant" else "misread"
        for p in mine:
            if (p in told) != (label == "about_assistant"):
                print(f"  {wrong}: {p['first']} → {p['message']}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bank", type=Path, default=Path("eval/about.jsonl"))
    parser.add_argument("--ordinary", type=Path, action="append", default=[])
    parser.add_argument("--conversations", type=Path, action="append", default=[])
    args = parser.parse_args()
    engine = Engine.load(Settings.from_env())
    rows = [json.loads(line) for line in args.bank.read_text(encoding="utf-8").splitlines() if line]
    alone(engine, rows, args.bank)
    openings = [
        q["question"]
        for path in args.ordinary[:1]
        for q in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if not q.get("history") and q.get("answerable", True) and not q.get("safety")
    ]
    if openings:
        after_a_first_question(engine, rows, args.bank, openings)
    for path in args.conversations:
        in_their_conversation(engine, path)
    for path in args.ordinary:
        questions = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        told = [q for q in questions if told_about(engine, q["question"], q.get("history"))]
        print(f"{path}: read as a question about the assistant {len(told)}/{len(questions)}")
        for q in told:
            print(f"  misread: {q['question']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
