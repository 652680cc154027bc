"""The prompt of a generative answer: the passages, numbered, within the model's window, and the
conversation before the question. The texts themselves are in chatbot/texts_fr.py.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from chatbot import texts_fr
from chatbot.records import Chunk, Hit
from chatbot.text.markers import strip_markers

if TYPE_CHECKING:
    from chatbot.answer.generate import LLMSettings

_CHARS_PER_TOKEN = 3.5  # French with common BPE vocabularies; no tokenizer to download
_MESSAGE_OVERHEAD_TOKENS = 64  # chat template and role tags around the two messages
_HISTORY_TURNS = 4  # earlier turns shown to the model, for follow-up questions
_HISTORY_CHARS = 400  # per turn: enough to resolve "et ça se prend comment ?"


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def render_history(history: list[dict[str, str]]) -> str:
    """The last turns, markers removed: old [n] refer to passages the model does not see."""
    lines = []
    for turn in history[-_HISTORY_TURNS:]:
        template = texts_fr.LLM_HISTORY_TURN.get(turn.get("role", ""))
        content = strip_markers(turn.get("content", ""))
        if template and content:
            if len(content) > _HISTORY_CHARS:
                content = content[:_HISTORY_CHARS].rsplit(" ", 1)[0] + " …"
            lines.append(template.format(content=content))
    return "\n".join(lines) or texts_fr.LLM_NO_HISTORY


def select_passages(
    hits: list[Hit], settings: LLMSettings, question: str, history: str
) -> list[tuple[int, Chunk, str]]:
    """The top hits as (number, chunk, text shown), within the model's context window.

    Passages are taken in rank order while they fit; the first one is cut at a sentence
    border if even it does not fit. The verifier still checks against the whole chunk.
    """
    fixed = build_messages(question, history, [])
    budget = settings.context_tokens - settings.max_tokens - _MESSAGE_OVERHEAD_TOKENS
    budget -= sum(estimate_tokens(m["content"]) for m in fixed)
    shown: list[tuple[int, Chunk, str]] = []
    for hit in hits[: settings.max_passages]:
        n, chunk, text = len(shown) + 1, hit.chunk, hit.chunk.text
        cost = estimate_tokens(_render_passage(n, chunk, text)) + 1
        if cost > budget and not shown:
            ends = [s.end for s in chunk.sentences]
            text = ""
            for end in ends:
                if estimate_tokens(_render_passage(n, chunk, chunk.text[:end])) + 1 > budget:
                    break
                text = chunk.text[:end]
            cost = estimate_tokens(_render_passage(n, chunk, text)) + 1
        if not text or cost > budget:
            break
        shown.append((n, chunk, text))
        budget -= cost
    return shown


def _render_passage(n: int, chunk: Chunk, text: str) -> str:
    return texts_fr.LLM_PASSAGE.format(n=n, title=chunk.title, text=text)


def build_messages(
    question: str, history: str, shown: list[tuple[int, Chunk, str]]
) -> list[dict[str, str]]:
    """The system and user messages, rendered strictly: a missing variable raises KeyError."""
    passages = "\n\n".join(_render_passage(n, chunk, text) for n, chunk, text in shown)
    return [
        {
            "role": "system",
            "content": texts_fr.LLM_SYSTEM_PROMPT.format(no_answer=texts_fr.LLM_NO_ANSWER),
        },
        {
            "role": "user",
            "content": texts_fr.LLM_USER_PROMPT.format(
                passages=passages, history=history, question=question
            ),
        },
    ]
