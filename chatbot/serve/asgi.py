"""Small ASGI tools for the guard: a body read within a limit and replayed, French JSON refusals.

Every refusal is JSON `{"detail": <French text of texts_fr.REQUEST_ERRORS>, "code": <stable
code>}`, sent with `Connection: close`: a refused body may still be arriving.
"""

from __future__ import annotations

import json
from typing import Any

from chatbot import texts_fr


class Refused(Exception):
    """A request the policy refuses: its status, stable code, extra headers, message values."""

    def __init__(
        self, status: int, code: str, headers: dict[str, str] | None = None, **values: Any
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.values = values


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The whole body, or None as soon as more than `limit` bytes arrived."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(parts)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def replay(body: bytes, receive: Any) -> Any:
    """A `receive` that gives the body already read, then waits on the real one."""
    done = False

    async def replayed() -> dict[str, Any]:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return dict(await receive())

    return replayed


def french_queue_full(send: Any) -> Any:
    """Gradio's « Queue is full » (503) as the French « trop de demandes » (429).

    Gradio's page shows its own English sentence for any 503 of the queue, and the server's
    `detail` for other codes: sent as 429, the patient reads French.
    """
    refused = False

    async def wrapped(message: dict[str, Any]) -> None:
        nonlocal refused
        if message["type"] == "http.response.start" and message["status"] == 503:
            refused = True
            kept = {  # the CORS headers set inside, for an allowed site's client
                k.decode("latin-1"): v.decode("latin-1")
                for k, v in message.get("headers", [])
                if k.lower().startswith(b"access-control-") or k.lower() == b"vary"
            }
            await _start(send, 429, _error_body("busy"), {**kept, "retry-after": "1"})
        elif refused:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                await send({"type": "http.response.body", "body": _error_body("busy")})
        else:
            await send(message)

    return wrapped


async def refuse(
    send: Any, status: int, code: str, extra: dict[str, str] | None = None, **values: Any
) -> None:
    body = _error_body(code, **values)
    # A refused body may still be arriving: the connection is closed after this answer.
    await _start(send, status, body, {**(extra or {}), "connection": "close"})
    await send({"type": "http.response.body", "body": body})


def _error_body(code: str, **values: Any) -> bytes:
    detail = texts_fr.REQUEST_ERRORS[code].format(**values)
    return json.dumps({"detail": detail, "code": code}, ensure_ascii=False).encode("utf-8")


async def _start(send: Any, status: int, body: bytes, extra: dict[str, str]) -> None:
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in extra.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
