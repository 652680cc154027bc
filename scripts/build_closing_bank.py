#!/usr/bin/env python3
"""Build the closing model's bank (profile/closing/bank_train.jsonl), once, from banks written
for other purposes and already split: nothing of it is a test file.

- `closes`: the ordinary ends of conversations of the safety bank's part 11 that fell to its
  training part (profile/safety/bank_train.jsonl, ids p11-*, label none) — thanks, goodnights,
  « je vais me coucher », written blind by a helper on 2026-12-06 (eval/safety/SOURCES.md,
  Part 11). Its farewells with warning signs are left out: whether a message is a farewell is
  the risk detector's question, not this model's.
- `other`: the nothing-asked model's bank (profile/told/bank_train.jsonl), news, feelings,
  opinions and questions typed without a question mark, but not its thanks and acknowledgements
  (subtypes `thanks`, `ack`), which are closings too.

The development questions and PIAF's are added as ordinary messages when fitting
(chatbot/evaluation/fit_about.py, CLOSING).

Usage: python scripts/build_closing_bank.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAFETY_TRAIN = ROOT / "profile" / "safety" / "bank_train.jsonl"
TOLD_TRAIN = ROOT / "profile" / "told" / "bank_train.jsonl"
OUT = ROOT / "profile" / "closing" / "bank_train.jsonl"
CLOSINGS_OF_TOLD = ("thanks", "ack")


def main() -> int:
    rows = []
    for line in SAFETY_TRAIN.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        if raw["id"].startswith("p11-") and raw["safety"] == "none":
            rows.append(
                {
                    "id": raw["id"],
                    "message": raw["question"],
                    "label": "closes",
                    "subtype": raw["subtype"],
                    "source": "safety bank part 11, training part (eval/safety/SOURCES.md)",
                }
            )
    for line in TOLD_TRAIN.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        if raw["subtype"] not in CLOSINGS_OF_TOLD:
            rows.append(
                {
                    "id": raw["id"],
                    "message": raw["message"],
                    "label": "other",
                    "subtype": raw["subtype"],
                    "source": "nothing-asked bank (profile/told/bank_train.jsonl)",
                }
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    closes = sum(r["label"] == "closes" for r in rows)
    print(f"{OUT}: {closes} closes, {len(rows) - closes} other")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
