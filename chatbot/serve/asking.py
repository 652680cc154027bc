"""A question from the web to the engine, never answered from an index found unusable.

The chat page, its Gradio endpoint (/ask) and POST /api/ask all ask through `ask_engine`;
each turns its errors into what its caller reads (a chat message, a gr.Error, JSON).
"""

from __future__ import annotations

import logging

from chatbot.engine import Engine
from chatbot.errors import IndexMismatch
from chatbot.records import Answer

log = logging.getLogger("chatbot")


def ask_engine(engine: Engine, question: object, history: list[dict[str, str]] | None) -> Answer:
    """`engine.ask`, or IndexMismatch (logged) when the index cannot be served.

    Raises InvalidQuestion, as `engine.ask` does, for a question the engine cannot take.
    """
    try:
        if (problem := engine.index.problem()) is not None:
            raise IndexMismatch(problem)
        return engine.ask(question, history)
    except IndexMismatch as exc:
        log.error("Question refusée, index inutilisable : %s", exc)
        raise
