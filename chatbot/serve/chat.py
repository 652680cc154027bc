"""The chat window: a Gradio Blocks page in French, for the full page (/) and the widget (/embed).

Every text that reaches the page — the patient's question, the answer, the documents'
passages — is HTML-escaped here and emitted as one raw-HTML block, shown as it is: neither
Markdown nor LaTeX (KaTeX) rendering is on, so a quote reads exactly as the document says it
(« $$…$$ » or « *…* » included) and a `<script>` typed by a patient or found in a document
stays inert text. The conversation shown is kept on the server (a gr.State), so a request
carries the new message only, whatever the length of the conversation.
Imported only by web.py: gradio is heavy, and only the app needs it.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from chatbot import texts_fr
from chatbot.engine import Engine
from chatbot.errors import FeedbackUnavailable, IndexMismatch, InvalidQuestion
from chatbot.records import Answer, Citation
from chatbot.serve.feedback import Feedback, FeedbackStore, index_version
from chatbot.text.sanitize import clean_text

log = logging.getLogger("chatbot")

STATIC = Path(__file__).parent / "static"
_MARKER = re.compile(r"\[(\d+)\]")
STREAM_STEPS = 10  # the answer appears in this many steps...
STREAM_PAUSE_S = 0.02  # ...this far apart: visibly progressive, complete well under a second
SHOWN_QUESTION_CHARS = 500  # a pasted novel is refused; only its start is echoed back


# --- rendering ----------------------------------------------------------------------------------
def _text_html(text: str) -> str:
    """Escaped text with its line breaks; no blank line, so Markdown leaves the block alone."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


# The safety texts' numbers, as links a phone can call or text.
_PHONE_LINKS = (
    (re.compile(r"(?<![\d])3114(?![\d])"), "tel:3114"),
    (re.compile(r"(?<![\d])112(?![\d])"), "tel:112"),
    (re.compile(r"\ble 15\b"), "tel:15"),
    (re.compile(r"(?<![\d])114(?![\d]) par SMS|SMS au 114"), "sms:114"),
)
SAFETY_TEXTS = frozenset(
    p.strip()
    for text in (*texts_fr.SAFETY_MESSAGES.values(), *texts_fr.SAFETY_NOTICES.values())
    for p in re.split(r"\n\s*\n", text)
)


def _safety_html(paragraph: str) -> str:
    """A safety paragraph: escaped, its numbers as tel:/sms: links, set apart from quotes."""
    escaped = html.escape(paragraph)
    for pattern, href in _PHONE_LINKS:
        link = f'<a class="sep-tel" href="{href}">\\g<0></a>'
        escaped = pattern.sub(link, escaped)
    return f'<p class="sep-safety-text">{escaped}</p>'


def _answer_html(text: str) -> str:
    """The answer's paragraphs; the safety ones (messages, notices) with callable numbers."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    out = []
    for p in paragraphs:
        if p.strip() in SAFETY_TEXTS:
            out.append(_safety_html(p.strip()))
        else:
            out.append(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>")
    return "".join(out)


def render_question(question: str) -> str:
    shown = (
        question
        if len(question) <= SHOWN_QUESTION_CHARS
        else question[:SHOWN_QUESTION_CHARS] + " […]"
    )
    hidden = f'<span class="sep-visually-hidden">{html.escape(texts_fr.SR_QUESTION)} </span>'
    return f'<div class="sep-question">{hidden}{_text_html(shown)}</div>'


def _link_markers(escaped: str, turn: int, citations: dict[int, Citation]) -> str:
    def link(m: re.Match[str]) -> str:
        c = citations.get(int(m.group(1)))
        if c is None:
            return m.group(0)
        # Gradio's sanitizer drops aria-* and data-* attributes: the name is hidden text.
        label = texts_fr.CITE_LINK_LABEL.format(n=c.n, title=c.chunk.title)
        return (
            f'<a class="sep-cite" href="#sep-src-{turn}-{c.n}">[{c.n}]'
            f'<span class="sep-visually-hidden"> {html.escape(label)}</span></a>'
        )

    return _MARKER.sub(link, escaped)


def _highlighted_passage(c: Citation) -> str:
    """The whole passage, the quoted span inside <mark>."""
    text, quote = c.chunk.text, c.quote
    start = text.find(quote) if quote else -1
    if start < 0:  # the quote is always a span of the passage; if not, show both apart
        return (
            f"<blockquote><mark>{html.escape(quote)}</mark></blockquote><p>{html.escape(text)}</p>"
        )
    before, after = text[:start], text[start + len(quote) :]
    body = f"{html.escape(before)}<mark>{html.escape(quote)}</mark>{html.escape(after)}"
    return f"<blockquote>{body.replace(chr(10), '<br>')}</blockquote>"


def source_meta(c: Citation) -> str:
    ch = c.chunk
    return " · ".join(x for x in (", ".join(ch.authors), ch.publication, ch.date) if x)


def render_sources(answer: Answer, turn: int) -> str:
    if not answer.citations:
        return ""
    items = []
    for c in answer.citations:
        meta = source_meta(c)
        items.append(
            f'<details class="sep-source" id="sep-src-{turn}-{c.n}">'
            f'<summary><span class="sep-n">[{c.n}]</span> <cite>{html.escape(c.chunk.title)}</cite>'
            + (f' <span class="sep-meta">— {html.escape(meta)}</span>' if meta else "")
            + "</summary>"
            f'<div class="sep-passage">{_highlighted_passage(c)}'
            f'<p class="sep-file">{html.escape(texts_fr.SOURCE_FILE_LABEL)} {html.escape(c.chunk.source)}</p></div>'
            "</details>"
        )
    return (
        '<div class="sep-sources">'
        f'<p class="sep-sources-title">{html.escape(texts_fr.SOURCES_TITLE)}</p>{"".join(items)}</div>'
    )


def render_answer(answer: Answer, turn: int, upto: int | None = None) -> str:
    """The answer as HTML; `upto` words only while it is still appearing (no sources yet)."""
    text = answer.text
    if upto is not None:
        words = text.split(" ")
        text = " ".join(words[:upto])
    by_n = {c.n: c for c in answer.citations}
    body = _link_markers(_answer_html(text), turn, by_n)
    kind = "sep-safety" if answer.safety in ("emergency", "suicide") and not answer.citations else "sep-answer"
    sources = render_sources(answer, turn) if upto is None else ""
    if upto is None:
        kind += " sep-done"  # complete: what tests and assistive scripts can wait for
    hidden = f'<span class="sep-visually-hidden">{html.escape(texts_fr.SR_ANSWER)} </span>'
    return f'<div class="{kind}">{hidden}{body}{sources}</div>'


def render_error(message: str) -> str:
    return f'<div class="sep-error sep-done">{_text_html(message)}</div>'


def input_error(exc: InvalidQuestion, question: object, limit: int) -> str:
    length = len(question.strip()) if isinstance(question, str) else 0
    return texts_fr.INPUT_ERRORS[exc.reason].format(length=length, limit=limit)


# --- the page -----------------------------------------------------------------------------------
class ChatPage:
    """Builds the Blocks; holds what its callbacks need (engine, feedback store)."""

    def __init__(self, engine: Engine, store: FeedbackStore | None) -> None:
        self.engine = engine
        self.store = store
        self.index_version = index_version(engine.index.manifest)

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
            if (problem := self.engine.index.problem()) is not None:
                raise IndexMismatch(problem)
            # The last turns only: a long conversation goes on, the engine looks back 3 turns.
            answer = self.engine.ask(message, list(turns or [])[-settings.max_history_turns :])
        except InvalidQuestion as exc:
            error = input_error(exc, message, settings.max_question_chars)
        except IndexMismatch as exc:
            log.error("Question refusée, index inutilisable : %s", exc)
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

    def build(self, compact: bool = False) -> gr.Blocks:
        examples: list[Any] = [{"text": q} for q in texts_fr.EXAMPLE_QUESTIONS]
        with gr.Blocks(title=texts_fr.APP_TITLE, fill_height=compact) as demo:
            with gr.Row(elem_classes="sep-top", equal_height=True):
                if compact:
                    gr.HTML(
                        f'<p class="sep-intro-short">{html.escape(texts_fr.WIDGET_INTRO)}</p>',
                        elem_classes="sep-intro",
                    )
                else:
                    gr.Markdown(
                        f"# {texts_fr.APP_TITLE}\n\n{texts_fr.APP_INTRO}", elem_classes="sep-intro"
                    )
            with gr.Row(elem_classes="sep-tools"):
                smaller = gr.Button(
                    texts_fr.TEXT_SMALLER, size="sm", elem_id="sep-smaller", scale=0, min_width=48
                )
                larger = gr.Button(
                    texts_fr.TEXT_LARGER, size="sm", elem_id="sep-larger", scale=0, min_width=48
                )
                restart = gr.Button(
                    texts_fr.NEW_CONVERSATION, size="sm", elem_id="sep-restart", scale=0
                )
            chatbot = gr.Chatbot(
                label=texts_fr.CHAT_LABEL,
                show_label=False,  # its floating label covers the first message; named in chat.js
                elem_id="sep-chat",
                examples=examples,
                placeholder=texts_fr.CHAT_PLACEHOLDER,
                feedback_options=("Like", "Dislike"),
                buttons=[],
                # Shown as the HTML built above: a document's « $$…$$ » or « *…* » is text.
                render_markdown=False,
                latex_delimiters=[],
                height=None if compact else "62vh",
                min_height=300,
                scale=1,
                layout="bubble",
                autoscroll=True,
            )
            with gr.Row(elem_classes="sep-input", equal_height=True):
                box = gr.Textbox(
                    label=texts_fr.INPUT_LABEL,
                    placeholder=texts_fr.INPUT_PLACEHOLDER,
                    elem_id="sep-question",
                    lines=1,
                    max_lines=4,
                    scale=5,
                    submit_btn=False,
                    autofocus=not compact,
                )
                send = gr.Button(
                    texts_fr.SEND,
                    variant="primary",
                    size="md",
                    elem_id="sep-send",
                    scale=1,
                    min_width=90,
                )
            status = gr.Markdown("", elem_id="sep-status", elem_classes="sep-status")
            with gr.Row(visible=False, elem_id="sep-comment-row") as comment_row:
                comment = gr.Textbox(
                    label=texts_fr.FEEDBACK_COMMENT_LABEL,
                    placeholder=texts_fr.FEEDBACK_COMMENT_PLACEHOLDER,
                    elem_id="sep-comment",
                    scale=4,
                    max_length=2000,
                )
                comment_send = gr.Button(
                    texts_fr.FEEDBACK_COMMENT_SEND, elem_id="sep-comment-send", scale=1
                )
            gr.HTML(f'<p class="sep-disclaimer">{html.escape(texts_fr.DISCLAIMER_SHORT)}</p>')
            shown = gr.State([])  # the messages shown, kept here rather than sent back each time
            turns = gr.State([])  # the conversation as plain text, for the engine
            records = gr.State({})  # message index -> what a vote on it stores
            vote_id = gr.State(None)

            outs = [box, chatbot, shown, turns, records]
            private: dict[str, Any] = {"api_visibility": "private"}
            box.submit(
                self.respond, [box, shown, turns, records], outs, concurrency_limit=8, **private
            )
            send.click(
                self.respond, [box, shown, turns, records], outs, concurrency_limit=8, **private
            )
            chatbot.example_select(
                self._example, [shown, turns, records], outs, concurrency_limit=8, **private
            )
            chatbot.like(self.vote, [records], [comment_row, vote_id, status], **private)
            comment_send.click(
                self.comment, [vote_id, comment], [comment_row, vote_id, comment, status], **private
            )
            comment.submit(
                self.comment, [vote_id, comment], [comment_row, vote_id, comment, status], **private
            )

            def reset() -> tuple[Any, ...]:
                return "", [], [], [], {}, gr.update(visible=False), None, ""

            cleared = [box, chatbot, shown, turns, records, comment_row, vote_id, status]
            restart.click(reset, None, cleared, **private)
            chatbot.clear(reset, None, cleared, **private)
            smaller.click(None, js="() => window.sepTextSize && window.sepTextSize(-1)", **private)
            larger.click(None, js="() => window.sepTextSize && window.sepTextSize(1)", **private)
            gr.api(self.ask, api_name="ask")
        return demo

    def _example(
        self, chat: list[Any], turns: list[Any], records: dict[Any, Any], ev: gr.SelectData
    ) -> Iterator[tuple[Any, ...]]:
        yield from self.respond(ev.value["text"], chat, turns, records)

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer one question (same record as POST /api/ask, the result format of EVAL_FORMAT.md)."""
        question = clean_text(question) if isinstance(question, str) else question
        try:
            if (problem := self.engine.index.problem()) is not None:
                raise IndexMismatch(problem)
            answer = self.engine.ask(question, history)
        except InvalidQuestion as exc:
            raise gr.Error(  # the caller's mistake: no traceback in the server's log
                input_error(exc, question, self.engine.settings.max_question_chars),
                print_exception=False,
            ) from exc
        except IndexMismatch as exc:
            log.error("Question refusée, index inutilisable : %s", exc)
            raise gr.Error(texts_fr.INDEX_UNAVAILABLE) from exc
        except Exception as exc:
            log.exception("Erreur interne sur /ask")
            raise gr.Error(texts_fr.REQUEST_ERRORS["internal"]) from exc
        return answer.to_result("gradio", question)


# The handlers whose calls are questions or votes, for the rate limits (chatbot/guard.py).
_QUESTION_HANDLERS = ("respond", "_example", "ask")
_VOTE_HANDLERS = ("vote", "comment")


def event_kinds(demo: gr.Blocks) -> dict[int | str, str]:
    """Gradio's event ids (fn_index) and API names of `demo` that are questions or votes."""
    kinds: dict[int | str, str] = {}
    for fn_id, fn in demo.fns.items():
        kind = "question" if fn.name in _QUESTION_HANDLERS else "vote" if fn.name in _VOTE_HANDLERS else None
        if kind is not None:
            kinds[fn_id] = kind
            if fn.api_name:
                kinds[fn.api_name] = kind
    return kinds
