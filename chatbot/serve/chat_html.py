"""The chat's messages as HTML: the question, the answer with its citation links, its sources.

Every text that reaches the page — the patient's question, the answer, the documents'
passages — is HTML-escaped here and emitted as one raw-HTML block, shown as it is (the chat
renders neither Markdown nor LaTeX), so a `<script>` typed by a patient or found in a document
stays inert text. The safety paragraphs (messages, notices) are set apart, their numbers as
links a phone can call. No gradio here: the rendering is tested without it.
"""

from __future__ import annotations

import html
import re

from chatbot import texts_fr
from chatbot.records import Answer, Chunk, Citation

_MARKER = re.compile(r"\[(\d+)\]")
_BLANK_LINE = re.compile(r"\n\s*\n")  # what separates two paragraphs
SHOWN_QUESTION_CHARS = 500  # a pasted novel is refused; only its start is echoed back

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
    for p in _BLANK_LINE.split(text)
)


def _paragraphs(text: str) -> list[str]:
    return [p for p in _BLANK_LINE.split(text.strip()) if p.strip()]


def _paragraph_html(paragraph: str) -> str:
    """Escaped, with its line breaks; no blank line, so Markdown leaves the block alone."""
    return f"<p>{html.escape(paragraph).replace(chr(10), '<br>')}</p>"


def _text_html(text: str) -> str:
    return "".join(_paragraph_html(p) for p in _paragraphs(text))


def _safety_html(paragraph: str) -> str:
    """A safety paragraph: escaped, its numbers as tel:/sms: links, set apart from quotes."""
    escaped = html.escape(paragraph)
    for pattern, href in _PHONE_LINKS:
        link = f'<a class="sep-tel" href="{href}">\\g<0></a>'
        escaped = pattern.sub(link, escaped)
    return f'<p class="sep-safety-text">{escaped}</p>'


def _answer_html(text: str) -> str:
    """The answer's paragraphs; the safety ones (messages, notices) with callable numbers."""
    return "".join(
        _safety_html(p.strip()) if p.strip() in SAFETY_TEXTS else _paragraph_html(p)
        for p in _paragraphs(text)
    )


def _hidden(label: str) -> str:
    """Text for screen readers only: who speaks, before each message."""
    return f'<span class="sep-visually-hidden">{html.escape(label)} </span>'


def render_question(question: str) -> str:
    shown = (
        question
        if len(question) <= SHOWN_QUESTION_CHARS
        else question[:SHOWN_QUESTION_CHARS] + " […]"
    )
    return f'<div class="sep-question">{_hidden(texts_fr.SR_QUESTION)}{_text_html(shown)}</div>'


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
    body = f"{_passage_html(before)}<mark>{_passage_html(quote)}</mark>{_passage_html(after)}"
    return f"<blockquote>{body}</blockquote>"


def _passage_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def _source_item(
    chunk: Chunk, label: str, passage: str, anchor: str = "", byline_folded: bool = True
) -> str:
    """One source, folded: its title (and byline); unfolded, its passage and file."""
    meta = html.escape(chunk.byline)
    ident = f' id="{anchor}"' if anchor else ""
    folded = f' <span class="sep-meta">— {meta}</span>' if meta and byline_folded else ""
    unfolded = f'<p class="sep-meta">{meta}</p>' if meta and not byline_folded else ""
    return (
        f'<details class="sep-source"{ident}>'
        f"<summary>{label}<cite>{html.escape(chunk.title)}</cite>{folded}</summary>"
        f'<div class="sep-passage">{unfolded}{passage}'
        f'<p class="sep-file">{html.escape(texts_fr.SOURCE_FILE_LABEL)} {html.escape(chunk.source)}</p></div>'
        "</details>"
    )


def render_sources(answer: Answer, turn: int) -> str:
    if answer.citations:
        title = texts_fr.SOURCES_TITLE
        items = [
            _source_item(
                c.chunk,
                f'<span class="sep-n">[{c.n}]</span> ',
                _highlighted_passage(c),
                f"sep-src-{turn}-{c.n}",
            )
            for c in answer.citations
        ]
    elif answer.nearby:  # a refusal's documents to read on: nothing in them is highlighted
        # Their titles alone, folded: three bylines would fill a phone's screen with names.
        title = texts_fr.NEARBY_TITLE
        items = [
            _source_item(
                c, "", f"<blockquote>{_passage_html(c.text)}</blockquote>", byline_folded=False
            )
            for c in answer.nearby
        ]
    else:
        return ""
    return (
        '<div class="sep-sources">'
        f'<p class="sep-sources-title">{html.escape(title)}</p>{"".join(items)}</div>'
    )


def render_answer(answer: Answer, turn: int, upto: int | None = None) -> str:
    """The answer as HTML; `upto` words only while it is still appearing (no sources yet)."""
    text = answer.text
    if upto is not None:
        words = text.split(" ")
        text = " ".join(words[:upto])
    by_n = {c.n: c for c in answer.citations}
    body = _link_markers(_answer_html(text), turn, by_n)
    # The emergency and suicide messages that stand in place of an answer are set apart as a
    # whole; a notice under an answer or a refusal is set apart as its own paragraph only.
    kind = (
        "sep-safety"
        if answer.safety in ("emergency", "suicide") and not answer.citations and not answer.refused
        else "sep-answer"
    )
    sources = render_sources(answer, turn) if upto is None else ""
    if upto is None:
        kind += " sep-done"  # complete: what tests and assistive scripts can wait for
    return f'<div class="{kind}">{_hidden(texts_fr.SR_ANSWER)}{body}{sources}</div>'


def render_error(message: str) -> str:
    return f'<div class="sep-error sep-done">{_text_html(message)}</div>'
