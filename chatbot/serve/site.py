"""What the chat pages carry: the Content-Security-Policy, `lang="fr"` and the French head script.

Who may call is the guard's job (guard.py); this middleware decorates the answers. Every HTML
page gets the Content-Security-Policy, whose `frame-ancestors` lets only this server and the
allowed sites frame the chat; the chat pages get `lang="fr"` and the head script (French
labels, text size, citation links: static/chat.js) before Gradio starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbot import texts_fr

STATIC = Path(__file__).parent / "static"
PAGES = ("/", "/embed", "/embed/")  # the chat pages, which get the French head script


def head_script() -> str:
    """static/chat.js with its French labels, as the <script> the chat pages start with."""
    labels = {
        "sep-smaller": texts_fr.TEXT_SMALLER_LABEL,
        "sep-larger": texts_fr.TEXT_LARGER_LABEL,
        "log": texts_fr.CHAT_LABEL,
        "examples": texts_fr.EXAMPLES_LABEL,
    }
    script = (STATIC / "chat.js").read_text(encoding="utf-8")
    return (
        "<script>"
        + script.replace("__SEP_LABELS__", json.dumps(labels, ensure_ascii=False))
        + "</script>"
    )


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
