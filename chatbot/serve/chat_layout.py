"""The chat window's Gradio Blocks, in French: the full page (/) and the compact widget (/embed).

The components are laid out top to bottom (intro, text size and restart buttons, the
conversation, the question box, the vote's comment row, the disclaimer), then wired to
`ChatPage`'s callbacks. Every event is private except the `ask` endpoint for Gradio's clients.
The conversation is shown as the HTML of chat_html.py: neither Markdown nor LaTeX is rendered.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from chatbot import texts_fr

if TYPE_CHECKING:
    from chatbot.serve.chat import ChatPage

_PRIVATE: dict[str, Any] = {"api_visibility": "private"}
_QUESTIONS_AT_ONCE = 8  # answers computed at once per question event; the queue holds the rest


@dataclass
class _Components:
    """What the callbacks read and write."""

    smaller: gr.Button
    larger: gr.Button
    restart: gr.Button
    chatbot: gr.Chatbot
    box: gr.Textbox
    send: gr.Button
    status: gr.Markdown
    comment_row: gr.Row
    comment: gr.Textbox
    comment_send: gr.Button
    shown: gr.State
    turns: gr.State
    records: gr.State
    vote_id: gr.State


def build_blocks(page: ChatPage, compact: bool) -> gr.Blocks:
    """The page; `compact` for the widget's frame: a short intro, no autofocus, full height."""
    with gr.Blocks(title=texts_fr.APP_TITLE, fill_height=compact) as demo:
        _intro(compact)
        smaller, larger, restart = _tools()
        chatbot = _conversation(compact)
        box, send = _question_row(compact)
        status = gr.Markdown("", elem_id="sep-status", elem_classes="sep-status")
        comment_row, comment, comment_send = _comment_row()
        gr.HTML(f'<p class="sep-disclaimer">{html.escape(texts_fr.DISCLAIMER_SHORT)}</p>')
        components = _Components(
            smaller=smaller,
            larger=larger,
            restart=restart,
            chatbot=chatbot,
            box=box,
            send=send,
            status=status,
            comment_row=comment_row,
            comment=comment,
            comment_send=comment_send,
            shown=gr.State([]),  # the messages shown, kept here rather than sent back each time
            turns=gr.State([]),  # the conversation as plain text, for the engine
            records=gr.State({}),  # message index -> what a vote on it stores
            vote_id=gr.State(None),
        )
        _connect(page, components)
    return demo


def _intro(compact: bool) -> None:
    with gr.Row(elem_classes="sep-top", equal_height=True):
        if compact:
            gr.HTML(
                f'<p class="sep-intro-short">{html.escape(texts_fr.WIDGET_INTRO)}</p>',
                elem_classes="sep-intro",
            )
        else:
            gr.Markdown(f"# {texts_fr.APP_TITLE}\n\n{texts_fr.APP_INTRO}", elem_classes="sep-intro")


def _tools() -> tuple[gr.Button, gr.Button, gr.Button]:
    """Text size A−/A+ (chat.js does the resizing) and a new conversation."""
    with gr.Row(elem_classes="sep-tools"):
        smaller = gr.Button(
            texts_fr.TEXT_SMALLER, size="sm", elem_id="sep-smaller", scale=0, min_width=48
        )
        larger = gr.Button(
            texts_fr.TEXT_LARGER, size="sm", elem_id="sep-larger", scale=0, min_width=48
        )
        restart = gr.Button(texts_fr.NEW_CONVERSATION, size="sm", elem_id="sep-restart", scale=0)
    return smaller, larger, restart


def _conversation(compact: bool) -> gr.Chatbot:
    examples: list[Any] = [{"text": q} for q in texts_fr.EXAMPLE_QUESTIONS]
    return gr.Chatbot(
        label=texts_fr.CHAT_LABEL,
        show_label=False,  # its floating label covers the first message; named in chat.js
        elem_id="sep-chat",
        examples=examples,
        placeholder=texts_fr.CHAT_PLACEHOLDER,
        feedback_options=("Like", "Dislike"),
        buttons=[],
        # Shown as the HTML built in chat_html.py: a document's « $$…$$ » or « *…* » is text.
        render_markdown=False,
        latex_delimiters=[],
        height=None if compact else "62vh",
        min_height=300,
        scale=1,
        layout="bubble",
        autoscroll=True,
    )


def _question_row(compact: bool) -> tuple[gr.Textbox, gr.Button]:
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
            texts_fr.SEND, variant="primary", size="md", elem_id="sep-send", scale=1, min_width=90
        )
    return box, send


def _comment_row() -> tuple[gr.Row, gr.Textbox, gr.Button]:
    """Hidden until a vote is stored: the optional comment on it."""
    with gr.Row(visible=False, elem_id="sep-comment-row") as row:
        comment = gr.Textbox(
            label=texts_fr.FEEDBACK_COMMENT_LABEL,
            placeholder=texts_fr.FEEDBACK_COMMENT_PLACEHOLDER,
            elem_id="sep-comment",
            scale=4,
            max_length=2000,
        )
        send = gr.Button(texts_fr.FEEDBACK_COMMENT_SEND, elem_id="sep-comment-send", scale=1)
    return row, comment, send


def _connect(page: ChatPage, c: _Components) -> None:
    """Each event runs one of `page`'s callbacks, whose name Gradio gives the event: that name
    is how chat.event_kinds tells the guard which events are questions and which are votes."""
    asked = [c.box, c.shown, c.turns, c.records]
    outs = [c.box, c.chatbot, c.shown, c.turns, c.records]
    at_once = {"concurrency_limit": _QUESTIONS_AT_ONCE, **_PRIVATE}
    c.box.submit(page.respond, asked, outs, **at_once)
    c.send.click(page.respond, asked, outs, **at_once)
    c.chatbot.example_select(page._example, [c.shown, c.turns, c.records], outs, **at_once)
    c.chatbot.like(page.vote, [c.records], [c.comment_row, c.vote_id, c.status], **_PRIVATE)
    commented = [c.comment_row, c.vote_id, c.comment, c.status]
    c.comment_send.click(page.comment, [c.vote_id, c.comment], commented, **_PRIVATE)
    c.comment.submit(page.comment, [c.vote_id, c.comment], commented, **_PRIVATE)

    def reset() -> tuple[Any, ...]:  # named so: Gradio names the event after it
        return "", [], [], [], {}, gr.update(visible=False), None, ""

    cleared = [c.box, c.chatbot, c.shown, c.turns, c.records, c.comment_row, c.vote_id, c.status]
    c.restart.click(reset, None, cleared, **_PRIVATE)
    c.chatbot.clear(reset, None, cleared, **_PRIVATE)
    c.smaller.click(None, js="() => window.sepTextSize && window.sepTextSize(-1)", **_PRIVATE)
    c.larger.click(None, js="() => window.sepTextSize && window.sepTextSize(1)", **_PRIVATE)
    gr.api(page.ask, api_name="ask")
