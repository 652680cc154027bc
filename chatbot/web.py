"""The Gradio chat, mounted in a FastAPI app so the server controls its own routes.

Imported only by app.py and the tests: gradio is heavy and optional for the library.
"""

from __future__ import annotations

import html
from typing import Any

from . import texts_fr
from .config import Settings
from .engine import Engine
from .errors import InvalidQuestion
from .records import Answer


def render_answer(answer: Answer) -> str:
    """Answer text followed by its sources, as Markdown; document text is escaped, never run."""
    parts = [html.escape(answer.text, quote=False)]
    if answer.citations:
        parts.append(f"\n\n**{texts_fr.SOURCES_TITLE}**")
        for c in answer.citations:
            ch = c.chunk
            meta = " · ".join(x for x in (", ".join(ch.authors), ch.publication, ch.date) if x)
            parts.append(
                f"\n\n[{c.n}] *{html.escape(ch.title)}* — {html.escape(meta)}\n"
                f"> {html.escape(c.quote)}"
            )
    return "".join(parts)


def build_app(settings: Settings, engine: Engine | None = None) -> Any:
    import gradio as gr
    from fastapi import FastAPI

    engine = engine or Engine.load(settings)

    def respond(message: str, history: list[dict[str, Any]]) -> str:
        turns = [{"role": t["role"], "content": _plain(t["content"])} for t in history]
        try:
            answer = engine.ask(message, turns)
        except InvalidQuestion as exc:
            limit = settings.max_question_chars
            return texts_fr.INPUT_ERRORS[exc.reason].format(length=len(message or ""), limit=limit)
        return render_answer(answer)

    with gr.Blocks(title=texts_fr.APP_TITLE) as demo:
        gr.Markdown(f"# {texts_fr.APP_TITLE}\n\n{texts_fr.APP_INTRO}")
        gr.ChatInterface(
            respond,
            examples=texts_fr.EXAMPLE_QUESTIONS,
            textbox=gr.Textbox(placeholder=texts_fr.INPUT_PLACEHOLDER, label=texts_fr.INPUT_LABEL),
        )
    api = FastAPI(title=texts_fr.APP_TITLE, docs_url="/api/docs")
    return gr.mount_gradio_app(api, demo, path="")


def _plain(content: Any) -> str:
    return content if isinstance(content, str) else str(content)


def serve(app: Any, settings: Settings) -> None:
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
