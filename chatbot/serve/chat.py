"""The chat window's callbacks: a question answered word by word, votes and comments stored.

`ChatPage` holds what the callbacks need (the engine, the feedback store); its Blocks, for the
full page (/) and the widget (/embed), are laid out in chat_layout.py and its messages rendered
as escaped HTML in chat_html.py. The conversation shown is kept on the server (a gr.State), so
a request carries the new message only, whatever the length of the conversation.
Imported only by web.py: gradio is heavy, and only the app needs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from chatbot import texts_fr
from chatbot.engine import Engine
from chatbot.errors import FeedbackUnavailable, IndexMismatch, InvalidQuestion
from chatbot.serve.asking import ask_engine
from chatbot.serve.chat_html import (
    SAFETY_TEXTS,
    SHOWN_QUESTION_CHARS,
    render_answer,
    render_error,
    render_question,
    render_sources,
)
from chatbot.serve.chat_layout import build_blocks
from chatbot.serve.feedback import Feedback, FeedbackStore, index_version
from chatbot.text.sanitize import clean_text

log = logging.getLogger("chatbot")

STREAM_STEPS = 10  # the answer appears in this many steps...
STREAM_PAUSE_S = 0.02  # ...this far apart: visibly progressive, complete well under a second

# The handlers whose calls are questions or votes, for the rate limits (guard.py): Gradio
# names an event after its function, so these are ChatPage's method names.
_QUESTION_HANDLERS = ("respond", "_example", "ask")
_VOTE_HANDLERS = ("vote", "comment")


class ChatPage:
    """Builds the Blocks; holds what its callbacks need (engine, feedback store)."""

    def __init__(self, engine: Engine, store: FeedbackStore | None) -> None:
        self.engine = engine
        self.store = store
        self.index_version = index_version(engine.index.manifest)

    def build(self, compact: bool = False) -> gr.Blocks:
        return build_blocks(self, compact)

    def respond(
        self,
        message: str,
        chat: list[dict[str, Any]],
        turns: list[dict[str, str]],
        records: dict[int, Any],
    ) -> Iterator[tuple[Any, ...]]:
        """Show the question, then the answer word by word, then its sources.

        Yields (message box, chat shown, chat kept, turns, records).
        """
        message = clean_text(message) if isinstance(message, str) else ""
        chat, records = list(chat or []), dict(records or {})
        if message.strip():
            chat.append({"role": "user", "content": render_question(message)})
        turn = len(chat)
        settings = self.engine.settings
        error: str | None = None
        try:
            # The last turns only: a long conversation goes on, the engine looks back 3 turns.
            answer = ask_engine(
                self.engine, message, list(turns or [])[-settings.max_history_turns :]
            )
        except InvalidQuestion as exc:
            error = texts_fr.input_error(exc.reason, message, settings.max_question_chars)
        except IndexMismatch:
            error = texts_fr.INDEX_UNAVAILABLE
        except Exception:
            log.exception("Erreur interne en répondant dans le chat")
            error = texts_fr.REQUEST_ERRORS["internal"]
        if error is not None:
            chat.append({"role": "assistant", "content": render_error(error)})
            yield "", chat, chat, turns, records
            return
        chat.append({"role": "assistant", "content": ""})
        words = len(answer.text.split(" "))
        step = max(1, -(-words // STREAM_STEPS))
        for upto in range(step, words, step):
            chat[-1] = {"role": "assistant", "content": render_answer(answer, turn, upto)}
            yield "", chat, chat, turns, records
            time.sleep(STREAM_PAUSE_S)
        chat[-1] = {"role": "assistant", "content": render_answer(answer, turn)}
        turns = [
            *turns,
            {"role": "user", "content": message.strip()},
            {"role": "assistant", "content": answer.text},
        ]
        records[turn] = {
            "question": message.strip(),
            "history": list(turns[:-2]),
            "answer": answer.text,
            "chunk_ids": [c.chunk.chunk_id for c in answer.citations],
            "safety": answer.safety,
            "refused": answer.refused,
        }
        yield "", chat, chat, turns, records

    def _example(
        self, chat: list[Any], turns: list[Any], records: dict[Any, Any], ev: gr.SelectData
    ) -> Iterator[tuple[Any, ...]]:
        yield from self.respond(ev.value["text"], chat, turns, records)

    def vote(self, records: dict[Any, Any], data: gr.LikeData) -> tuple[Any, ...]:
        record = (records or {}).get(data.index) or (records or {}).get(str(data.index))
        if record is None or data.liked not in (True, False):
            return gr.update(visible=False), None, ""
        if self.store is None:  # the store could not be opened at start (logged then)
            return gr.update(visible=False), None, texts_fr.FEEDBACK_FAILED
        fb = Feedback(
            vote="up" if data.liked else "down",
            question=record["question"],
            history=record["history"],
            answer=record["answer"],
            chunk_ids=tuple(record["chunk_ids"]),
            safety=record["safety"],
            refused=record["refused"],
            index_version=self.index_version,
        )
        try:
            vote_id = self.store.add(fb)
        except FeedbackUnavailable as exc:
            log.warning("Avis non enregistré : %s", exc)
            return gr.update(visible=False), None, texts_fr.FEEDBACK_FAILED
        return gr.update(visible=True), vote_id, texts_fr.FEEDBACK_THANKS

    def comment(self, vote_id: int | None, text: str) -> tuple[Any, ...]:
        text = clean_text(text)[: FeedbackStore.MAX_COMMENT_CHARS] if isinstance(text, str) else ""
        if vote_id is not None and self.store is not None and text.strip():
            try:
                self.store.set_comment(int(vote_id), text.strip())
            except FeedbackUnavailable as exc:
                log.warning("Commentaire non enregistré : %s", exc)
                return gr.update(visible=False), None, "", texts_fr.FEEDBACK_FAILED
            return gr.update(visible=False), None, "", texts_fr.FEEDBACK_COMMENT_THANKS
        return gr.update(visible=False), None, "", ""

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer one question (same record as POST /api/ask, the result format of EVAL_FORMAT.md)."""
        question = clean_text(question) if isinstance(question, str) else question
        try:
            answer = ask_engine(self.engine, question, history)
        except InvalidQuestion as exc:
            raise gr.Error(  # the caller's mistake: no traceback in the server's log
                texts_fr.input_error(exc.reason, question, self.engine.settings.max_question_chars),
                print_exception=False,
            ) from exc
        except IndexMismatch as exc:
            raise gr.Error(texts_fr.INDEX_UNAVAILABLE) from exc
        except Exception as exc:
            log.exception("Erreur interne sur /ask")
            raise gr.Error(texts_fr.REQUEST_ERRORS["internal"]) from exc
        return answer.to_result("gradio", question)


def event_kinds(demo: gr.Blocks) -> dict[int | str, str]:
    """Gradio's event ids (fn_index) and API names of `demo` that are questions or votes."""
    kinds: dict[int | str, str] = {}
    for fn_id, fn in demo.fns.items():
        kind = (
            "question"
            if fn.name in _QUESTION_HANDLERS
            else "vote"
            if fn.name in _VOTE_HANDLERS
            else None
        )
        if kind is not None:
            kinds[fn_id] = kind
            if fn.api_name:
                kinds[fn.api_name] = kind
    return kinds


__all__ = [
    "SAFETY_TEXTS",
    "SHOWN_QUESTION_CHARS",
    "STREAM_PAUSE_S",
    "STREAM_STEPS",
    "ChatPage",
    "event_kinds",
    "render_answer",
    "render_error",
    "render_question",
    "render_sources",
]
