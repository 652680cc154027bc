"""The web server: the chat (/), the widget (/widget.js and its page /embed/), the HTTP API (/api/).

One FastAPI app holds everything, so every URL a patient's browser or the association's site
uses is served by the chatbot itself, at paths that do not change when Gradio is upgraded.
Every request, whatever its route, first passes `RequestGuard` (guard.py): allowed hosts and
origins, body size, rate limits, bounded queues. Allowed site origins are enforced on every
route and again by `frame-ancestors` on the chat pages (site.py), so another site can neither
run the widget nor frame the chat. Imported only by app.py and the tests: gradio is heavy.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from chatbot import texts_fr
from chatbot.config import Settings
from chatbot.engine import Engine
from chatbot.errors import FeedbackUnavailable
from chatbot.serve.feedback import FeedbackStore
from chatbot.serve.site import PAGES, STATIC, SitePolicy, content_security_policy, head_script

if TYPE_CHECKING:
    from chatbot.serve.chat import ChatPage

MOUNTS = ("/embed", "")  # where the two Gradio apps (compact widget page, full page) live
log = logging.getLogger("chatbot")


def create_app(
    settings: Settings, engine: Engine | None = None, store: FeedbackStore | None = None
) -> Any:
    """The whole app; `engine` and `store` default to the ones `settings` name.

    A feedback store that cannot be opened is no reason not to answer: the app serves without
    votes, says why in one log line, and /api/health reports it.
    """
    from chatbot.serve.batching import QueryBatcher
    from chatbot.serve.chat import ChatPage

    engine = engine or Engine.load(settings)
    # Concurrent requests share the model's forward passes (see batching.py).
    engine.retriever.embedder = QueryBatcher(engine.embedder, workers=os.cpu_count() or 1)
    engine.ask(texts_fr.EXAMPLE_QUESTIONS[0])  # warm-up: the first patient does not wait for it
    store, feedback_problem = _open_store(settings, store)
    app = _api_app(settings, engine, store, feedback_problem)
    _add_widget_routes(app)
    own_routes = _own_routes(app)  # before the Gradio apps are mounted
    kinds = _mount_chat_pages(app, ChatPage(engine, store), settings)
    _add_middlewares(app, settings, own_routes, kinds)
    return app


def _open_store(
    settings: Settings, store: FeedbackStore | None
) -> tuple[FeedbackStore | None, str | None]:
    """(the store given, or the one `settings` names; why there is none, if there is none)."""
    if store is not None:
        return store, None
    try:
        return FeedbackStore(settings.feedback_db), None
    except FeedbackUnavailable as exc:
        log.warning("Avis désactivés, le chat répond quand même : %s", exc)
        return None, str(exc)


def _api_app(
    settings: Settings, engine: Engine, store: FeedbackStore | None, feedback_problem: str | None
) -> Any:
    """The FastAPI app with the HTTP API (/api/) and its French error answers."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from chatbot.serve import api, api_errors

    app = FastAPI(
        title=texts_fr.API_DOCS_TITLE,
        description=api.DESCRIPTION,
        version="1",
        docs_url=None,  # FastAPI's docs pages load their scripts from a CDN: ours is served here
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.engine, app.state.store, app.state.settings = engine, store, settings
    app.state.feedback_problem = feedback_problem  # why there is no store, if there is none
    app.include_router(api.router)
    app.add_exception_handler(RequestValidationError, api_errors.validation_error)
    app.add_exception_handler(HTTPException, api_errors.http_error)
    app.add_exception_handler(Exception, api_errors.internal_error)
    return app


def _add_widget_routes(app: Any) -> None:
    """/widget.js with its French texts, and /embed redirected to the widget's page /embed/."""
    from fastapi import Response
    from fastapi.responses import RedirectResponse

    widget = (
        (STATIC / "widget.js")
        .read_text(encoding="utf-8")
        .replace("__SEP_TEXTS__", json.dumps(texts_fr.WIDGET_TEXTS, ensure_ascii=False))
    )

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Any:
        return Response(
            widget,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},  # CORS adds Vary: Origin
        )

    @app.get("/embed", include_in_schema=False)
    def embed_slash() -> Any:
        return RedirectResponse("embed/", status_code=308)  # relative: works under a path prefix


def _own_routes(app: Any) -> dict[str, frozenset[str]]:
    """The app's own routes and their methods, for the guard (a route the Gradio apps do not
    know either would reach Gradio's English 404)."""
    from chatbot.serve import api

    return {
        path: frozenset(getattr(route, "methods", None) or ())
        for route in (*app.routes, *api.router.routes)
        if (path := getattr(route, "path", None))
    }


def _mount_chat_pages(
    app: Any, page: ChatPage, settings: Settings
) -> dict[str, dict[int | str, str]]:
    """The chat's two Gradio apps, mounted; per mount, which of their events are questions or
    votes (chat.event_kinds), for the guard's rate limits."""
    import gradio as gr

    from chatbot.serve.chat import event_kinds

    css = (STATIC / "chat.css").read_text(encoding="utf-8")
    theme = gr.themes.Default(text_size=gr.themes.sizes.text_lg)
    common: dict[str, Any] = {
        "theme": theme,
        "css": css,
        "footer_links": [],
        "run_history": False,
        "pwa": False,
        "ssr_mode": False,
        "mcp_server": False,
        "enable_monitoring": False,
        "show_error": False,  # an unexpected error is logged; the page shows a French message
        "max_file_size": 0,  # the chat takes no file (the guard closes the upload route too)
    }
    # Routes match in order: the API and the widget first, then /embed, then the chat at /.
    kinds = {}
    for mount, compact in zip(MOUNTS, (True, False), strict=True):
        blocks = page.build(compact=compact).queue(
            max_size=settings.max_queue, default_concurrency_limit=8
        )
        kinds[mount] = event_kinds(blocks)
        gr.mount_gradio_app(app, blocks, mount, **common)
    return kinds


def _add_middlewares(
    app: Any,
    settings: Settings,
    own_routes: dict[str, frozenset[str]],
    kinds: dict[str, dict[int | str, str]],
) -> None:
    from fastapi.middleware.cors import CORSMiddleware
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from chatbot.serve.guard import RequestGuard

    # Middlewares, innermost first. The page decoration; CORS headers for the allowed sites
    # only (Gradio adds none of its own when the parent app has this middleware), without
    # credentials: the chat uses no cookie. Then the guard, which refuses before anything
    # else works; outermost, the client's address as the trusted reverse proxy gives it.
    app.add_middleware(SitePolicy, allowed=settings.allowed_origins, head=head_script())
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        allow_credentials=False,
    )
    app.add_middleware(
        RequestGuard, settings=settings, own_routes=own_routes, mounts=MOUNTS, event_kinds=kinds
    )
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))


def serve(app: Any, settings: Settings) -> None:
    import uvicorn

    # The app reads X-Forwarded-For/-Proto itself, from Settings.trusted_proxies only (see
    # create_app): the server must not apply them a second time.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )


__all__ = [
    "MOUNTS",
    "PAGES",
    "STATIC",
    "SitePolicy",
    "content_security_policy",
    "create_app",
    "serve",
]
