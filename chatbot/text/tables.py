"""The profile's word lists: tab-separated files of profile/lang/, each entry with its source."""

from __future__ import annotations

import csv
from pathlib import Path

from chatbot.config import PROFILE_DIR


def read_table(name: str, profile: Path = PROFILE_DIR) -> list[dict[str, str]]:
    """A tab-separated word list of the profile (profile/lang/NAME.tsv), comments skipped.

    Every list has a `source` column: where each entry comes from.
    """
    path = profile / "lang" / f"{name}.tsv"
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    missing = [k for k, row in enumerate(rows, 2) if not row.get("source")]
    if missing:
        raise ValueError(f"{path}: entrées sans source, lignes {missing[:5]}")
    return rows
