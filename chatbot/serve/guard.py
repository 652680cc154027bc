"""One policy for every route: who may call, how big a request may be, how often, how many wait.

The HTTP API (/api/), the widget (/widget.js) and the two chat pages with Gradio's own routes
(/, /embed/, each with /gradio_api/...) pass through the same ASGI middleware, so a limit
holds for all of them. In order, a request is refused when:

1. its Host is not one of the server's names (DNS rebinding on a local install) — 400;
2. its Origin is a site that is neither this server nor an allowed one — 403;
3. its path is not one the chat uses (uploads are off: the chat takes no file) — 404 / 403;
4. its body is over the limit, counted on the bytes read, chunked or not, and never read
   past it — 413; a JSON body that is not UTF-8 — 400;
5. its client (IP address) asks questions or votes faster than its limit — 429;
6. too many questions already wait for the engine — « trop de demandes », at once.

Every refusal is JSON `{"detail": <French text>, "code": <stable code>}`.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from chatbot import texts_fr
from chatbot.config import Settings

# What the chat pages, Gradio's Python and JS clients use of Gradio's routes, under each mount
# ("" and "/embed"). Anything else Gradio serves (upload, files, streams, run history,
# monitoring...) is unused here, so unreachable.
_GRADIO_GET = re.compile(
    r"/(?:|config/?|theme\.css|favicon\.ico|robots\.txt|manifest\.json|(?:assets|static)/.+"
    r"|gradio_api/(?:info/?|queue/data|queue/status|heartbeat/[^/]+|call/[^/]+/[^/]+|startup-events))"
)
_GRADIO_POST = re.compile(r"/gradio_api/(?:queue/join|call/[^/]+/?|cancel|reset/?)")
_UPLOAD = re.compile(r"/gradio_api/(?:upload|process_recording)/?")
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Gradio's page shows its own English sentence for any 503 of the queue, and the server's
# `detail` for other codes: the queue's refusal is sent as 429 so the patient reads French.
_GRADIO_QUEUE = re.compile(r"/gradio_api/(?:queue/join|call/[^/]+/?)")


class RateLimiter:
    """Token buckets per client: `per_minute` requests sustained, a quarter of that at once.

    The burst is kept small so that one address never holds much of the shared queue: at 60
    a minute, 15 questions at once, then one a second.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.burst = float(max(1, per_minute // 4))
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, time
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """0 and one request counted if `client` may go on; else seconds before it may."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            # Bounded memory: the clients least recently seen go first (their buckets are
            # full again after a minute anyway).
            while len(self._buckets) > 100_000:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / rate


class RequestGuard:
    """ASGI middleware enforcing the policy above for `app` (the whole FastAPI app).

    `own_routes` are the app's own paths (/api/ask...) and their methods; `mounts` the prefixes of the
    Gradio apps; `event_kinds[mount][fn_index or api_name]` says which Gradio events are
    questions and which are votes, for the rate limits.
    """

    def __init__(
        self,
        app: Any,
        settings: Settings,
        own_routes: Mapping[str, frozenset[str]],
        mounts: tuple[str, ...],
        event_kinds: Mapping[str, Mapping[int | str, str]],
    ) -> None:
        self.app = app
        self.settings = settings
        self.own_routes = own_routes
        self.mounts = sorted(mounts, key=len, reverse=True)  # "/embed" before ""
        self.event_kinds = event_kinds
        self.hosts = {h.lower().strip("[]") for h in allowed_hosts(settings)}
        self.origins = set(settings.allowed_origins)
        self.limiters = {
            "question": RateLimiter(settings.questions_per_minute),
            "vote": RateLimiter(settings.votes_per_minute),
        }
        self.api_waiting = 0  # /api/ask requests in progress or waiting for the engine

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":  # the chat uses none: no route to guard
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if _hostname(host) not in self.hosts:
            return await _refuse(send, 400, "host", host=host[:100])
        origin = headers.get("origin")
        if origin and origin not in self.origins and urlsplit(origin).netloc.lower() != host.lower():
            return await _refuse(send, 403, "origin", origin=origin[:100])
        # An allowed site's script may read why it was refused (CORS is inside this guard).
        cors = {"access-control-allow-origin": origin, "vary": "Origin"} if origin in self.origins else {}

        async def refuse(status: int, code: str, extra: dict[str, str] | None = None, **values: Any) -> None:
            await _refuse(send, status, code, {**cors, **(extra or {})}, **values)

        mount, sub = self._split(path)
        if mount is not None and _UPLOAD.fullmatch(sub):
            return await refuse(403, "upload")
        if not self._served(method, path, mount, sub):
            return await refuse(404, "not_found", path=path[:100])
        methods = self.own_routes.get(path, frozenset())
        if mount is None and methods and method not in (*methods, "OPTIONS"):
            return await refuse(405, "method")

        limit = self.settings.max_body_bytes
        if _declared_length(headers) > limit:
            return await refuse(413, "body_too_large", limit=limit)
        body = b""
        if method in _BODY_METHODS:
            read = await _read_body(receive, limit)
            if read is None:  # over the limit: the rest is never read
                return await refuse(413, "body_too_large", limit=limit)
            body = read
            receive = _replay(body, receive)
        payload: Any = None
        if body and headers.get("content-type", "").startswith("application/json"):
            try:
                payload = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                return await refuse(400, "encoding")
            except (ValueError, RecursionError):  # "[[[[…" nested 200,000 deep fits the limit
                return await refuse(400, "json_invalid")

        kind = self._kind(method, path, mount, sub, payload)
        if kind is not None:
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.limiters[kind].wait_s(client)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                return await refuse(429, f"rate_{kind}", {"retry-after": str(seconds)}, seconds=seconds)
        if path == "/api/ask":
            if self.api_waiting >= self.settings.max_queue:
                return await refuse(503, "busy", {"retry-after": "1"})
            self.api_waiting += 1
            try:
                return await self.app(scope, receive, send)
            finally:
                self.api_waiting -= 1
        if mount is not None and method == "POST" and _GRADIO_QUEUE.fullmatch(sub):
            send = _french_queue_full(send)
        await self.app(scope, receive, send)

    def _split(self, path: str) -> tuple[str | None, str]:
        """(mount, path inside it) for a path served by a Gradio app; (None, path) otherwise."""
        if path in self.own_routes:
            return None, path
        for mount in self.mounts:
            if path == mount or path.startswith(mount + "/"):
                return mount, path[len(mount) :] or "/"
        return None, path

    def _served(self, method: str, path: str, mount: str | None, sub: str) -> bool:
        if mount is None:
            return path in self.own_routes
        if method in ("GET", "HEAD"):
            return bool(_GRADIO_GET.fullmatch(sub))
        if method == "POST":
            return bool(_GRADIO_POST.fullmatch(sub))
        return method == "OPTIONS"

    def _kind(self, method: str, path: str, mount: str | None, sub: str, payload: Any) -> str | None:
        if mount is None:
            return {"/api/ask": "question", "/api/feedback": "vote"}.get(path)
        if method != "POST":
            return None
        kinds = self.event_kinds.get(mount, {})
        if sub == "/gradio_api/queue/join" and isinstance(payload, dict):
            fn_index = payload.get("fn_index")
            return kinds.get(fn_index) if isinstance(fn_index, int) else None
        if sub.startswith("/gradio_api/call/"):
            return kinds.get(sub.split("/")[3])
        return None


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The listen address, localhost under its names, and the names configured."""
    return (settings.host, "localhost", "127.0.0.1", "::1", *settings.allowed_hosts)


def _hostname(host: str) -> str:
    """`example.org:7860` -> `example.org`; `[::1]:7860` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _declared_length(headers: dict[str, str]) -> int:
    try:
        return int(headers.get("content-length") or 0)
    except ValueError:
        return 0  # the server itself refuses a malformed length


async def _read_body(receive: Any, limit: int) -> bytes | None:
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


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that gives the body already read, then waits on the real one."""
    done = False

    async def replay() -> dict[str, Any]:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return dict(await receive())

    return replay


def _french_queue_full(send: Any) -> Any:
    """Gradio's « Queue is full » (503) as the French « trop de demandes » (see _GRADIO_QUEUE)."""
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


async def _refuse(
    send: Any, status: int, code: str, extra: dict[str, str] | None = None, **values: Any
) -> None:
    body = _error_body(code, **values)
    # A refused body may still be arriving: the connection is closed after this answer.
    await _start(send, status, body, {**(extra or {}), "connection": "close"})
    await send({"type": "http.response.body", "body": body})
