"""The web server: the chat (/), the widget (/widget.js and its page /embed/), the HTTP API (/api/).

One FastAPI app holds everything, so every URL a patient's browser or the association's site
uses is served by the chatbot itself, at paths that do not change when Gradio is upgraded.
Every request, whatever its route, first passes `RequestGuard` (chatbot/guard.py): allowed
hosts and origins, body size, rate limits, bounded queues. Allowed site origins are enforced
on every route and again by `frame-ancestors` on the chat pages, so another site can neither
run the widget nor frame the chat. Imported only by app.py and the tests: gradio is heavy.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from chatbot import texts_fr
from chatbot.config import Settings
from chatbot.engine import Engine
from chatbot.errors import FeedbackUnavailable
from chatbot.serve.feedback import FeedbackStore

STATIC = Path(__file__).parent / "static"
PAGES = ("/", "/embed", "/embed/")  # the chat pages, which get the French head script
MOUNTS = ("/embed", "")  # where the two Gradio apps (compact widget page, full page) live
log = logging.getLogger("chatbot")


def create_app(
    settings: Settings, engine: Engine | None = None, store: FeedbackStore | None = None
) -> Any:
    """The whole app; `engine` and `store` default to the ones `settings` name.

    A feedback store that cannot be opened is no reason not to answer: the app serves without
    votes, says why in one log line, and /api/health reports it.
    """
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from starlette.exceptions import HTTPException
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from chatbot.serve import api
    from chatbot.serve.batching import QueryBatcher
    from chatbot.serve.chat import ChatPage, event_kinds
    from chatbot.serve.guard import RequestGuard

    engine = engine or Engine.load(settings)
    # Concurrent requests share the model's forward passes (see batching.py).
    engine.retriever.embedder = QueryBatcher(engine.embedder, workers=os.cpu_count() or 1)
    engine.ask(texts_fr.EXAMPLE_QUESTIONS[0])  # warm-up: the first patient does not wait for it
    feedback_problem = None
    if store is None:
        try:
            store = FeedbackStore(settings.feedback_db)
        except FeedbackUnavailable as exc:
            feedback_problem = str(exc)
            log.warning("Avis désactivés, le chat répond quand même : %s", exc)
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
    app.add_exception_handler(RequestValidationError, api.validation_error)
    app.add_exception_handler(HTTPException, api.http_error)
    app.add_exception_handler(Exception, api.internal_error)

    widget = (
        (STATIC / "widget.js")
        .read_text(encoding="utf-8")
        .replace("__SEP_TEXTS__", json.dumps(texts_fr.WIDGET_TEXTS, ensure_ascii=False))
    )

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Any:
        from fastapi import Response

        return Response(
            widget,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300"},  # CORS adds Vary: Origin
        )

    @app.get("/embed", include_in_schema=False)
    def embed_slash() -> Any:
        from fastapi.responses import RedirectResponse

        return RedirectResponse("embed/", status_code=308)  # relative: works under a path prefix

    # The app's own routes and their methods, for the guard (a route the Gradio apps do not
    # know either would reach Gradio's English 404).
    own_routes = {
        path: frozenset(getattr(route, "methods", None) or ())
        for route in (*app.routes, *api.router.routes)
        if (path := getattr(route, "path", None))
    }
    page = ChatPage(engine, store)
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

    head = (
        "<script>"
        + (STATIC / "chat.js")
        .read_text(encoding="utf-8")
        .replace(
            "__SEP_LABELS__",
            json.dumps(
                {
                    "sep-smaller": texts_fr.TEXT_SMALLER_LABEL,
                    "sep-larger": texts_fr.TEXT_LARGER_LABEL,
                    "log": texts_fr.CHAT_LABEL,
                    "examples": texts_fr.EXAMPLES_LABEL,
                },
                ensure_ascii=False,
            ),
        )
        + "</script>"
    )
    # Middlewares, innermost first. The page decoration; CORS headers for the allowed sites
    # only (Gradio adds none of its own when the parent app has this middleware), without
    # credentials: the chat uses no cookie. Then the guard, which refuses before anything
    # else works; outermost, the client's address as the trusted reverse proxy gives it.
    app.add_middleware(SitePolicy, allowed=settings.allowed_origins, head=head)
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
    return app


def content_security_policy(allowed: tuple[str, ...]) -> str:
    """Everything from this server only; framed only by itself and the allowed sites."""
    ancestors = " ".join(["'self'", *allowed])
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
        "connect-src 'self'; media-src 'self' data: blob:; worker-src 'self' blob:; "
        f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}"
    )


class SitePolicy:
    """ASGI middleware: what the chat pages carry (who may call is RequestGuard's job).

    Every HTML page gets the Content-Security-Policy; the chat pages get `lang="fr"` and the
    head script (French labels, text size, citation links) before Gradio starts.
    """

    def __init__(self, app: Any, allowed: tuple[str, ...], head: str) -> None:
        self.app = app
        self.head = head.encode("utf-8")
        self.csp = content_security_policy(tuple(allowed)).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope["path"] in PAGES and scope["method"] in ("GET", "HEAD")
        if page:  # plain HTML, so that the head script can be inserted
            scope = dict(scope)
            scope["headers"] = [
                (k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"
            ]
        await self.app(scope, receive, self._sender(send, page))

    def _sender(self, send: Any, page: bool) -> Any:
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                hdrs = list(message.get("headers", []))
                is_html = any(
                    k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in hdrs
                )
                if is_html:
                    hdrs.append((b"content-security-policy", self.csp))
                    hdrs.append((b"referrer-policy", b"same-origin"))
                    hdrs.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": hdrs}
                if page and is_html:
                    start.update(message)  # held until the whole page is read
                    return
                await send(message)
            elif start and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                html = b"".join(body).replace(b'lang="en"', b'lang="fr"', 1)
                html = html.replace(b"<head>", b"<head>" + self.head, 1)
                hdrs = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                hdrs.append((b"content-length", str(len(html)).encode()))
                await send({**start, "headers": hdrs})
                await send({"type": "http.response.body", "body": html})
            else:
                await send(message)

        return wrapped


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
