"""Input text made safe to process, once, at every entry point (API, chat, CLI, evaluation).

A JSON body, a command-line argument or a question file may carry text that no later stage
expects: a lone UTF-16 surrogate ("\\ud800" in JSON, an undecodable byte in `sys.argv`) made the
model's tokenizer raise and the JSON response unencodable; invisible format characters split a
word so that a safety rule no longer sees it. `clean_text` repairs what can be repaired and
drops what has no meaning in a question; `clean_history` checks the shape of the earlier
turns. Both are idempotent: text cleaned twice is cleaned once.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

from chatbot.errors import InvalidQuestion

_SURROGATE = re.compile("[\ud800-\udfff]")


@cache
def _invisible() -> re.Pattern[str]:
    """C0/C1 controls but tab and line breaks, and format characters (zero-width spaces and
    joiners, bidirectional overrides, soft hyphen, BOM): invisible, they only hide words.
    Built on first use from the Unicode database (0.1 s), not at import."""
    chars = (
        chr(c)
        for c in range(0x110000)
        if not 0xD800 <= c <= 0xDFFF
        and unicodedata.category(chr(c)) in ("Cc", "Cf")
        and chr(c) not in "\t\n\r"
    )
    return re.compile("[" + "".join(re.escape(ch) for ch in chars) + "]")


def clean_text(text: str) -> str:
    """`text` with surrogate pairs joined, lone surrogates replaced by U+FFFD, invisible
    control and format characters removed. Everything else is kept as typed."""
    if _SURROGATE.search(text):
        # A pair kept as two code points (text handled as UTF-16 code units, or decoded with
        # "surrogatepass") becomes its character again; a surrogate without its partner
        # encodes nothing: U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _invisible().sub("", text)


def clean_history(history: Any, max_turns: int, max_chars: int) -> list[dict[str, str]]:
    """The earlier turns as `[{"role": "user" | "assistant", "content": str}]`, cleaned.

    Raises InvalidQuestion("history") for any other shape and ("history_too_long") beyond
    `max_turns` turns or `max_chars` characters in one turn: the engine never guesses what a
    malformed conversation meant.
    """
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise InvalidQuestion("history", f"expected a list of turns, got {type(history).__name__}")
    if len(history) > max_turns:
        raise InvalidQuestion("history_too_long", f"{len(history)} turns > {max_turns}")
    turns = []
    for k, turn in enumerate(history):
        role = turn.get("role") if isinstance(turn, dict) else None
        content = turn.get("content") if isinstance(turn, dict) else None
        if role not in ("user", "assistant") or not isinstance(content, str):
            raise InvalidQuestion("history", f"turn {k}: expected role user/assistant and text")
        if len(content) > max_chars:
            raise InvalidQuestion("history_too_long", f"turn {k}: {len(content)} > {max_chars}")
        turns.append({"role": role, "content": clean_text(content)})
    return turns
