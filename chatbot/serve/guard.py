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

from chatbot.config import Settings
from chatbot.serve.asgi import Refused, french_queue_full, read_body, refuse, replay

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
# Where Gradio's queue may answer « Queue is full »: turned into French (asgi.french_queue_full).
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
        """The checks of the module's docstring, in its order; the first that fails answers."""
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
            return await refuse(send, 400, "host", host=host[:100])
        origin = headers.get("origin")
        if (
            origin
            and origin not in self.origins
            and urlsplit(origin).netloc.lower() != host.lower()
        ):
            return await refuse(send, 403, "origin", origin=origin[:100])
        # An allowed site's script may read why it was refused (CORS is inside this guard).
        cors = (
            {"access-control-allow-origin": origin, "vary": "Origin"}
            if origin in self.origins
            else {}
        )
        mount, sub = self._split(path)
        try:
            self._check_route(method, path, mount, sub)
            receive, payload = await self._read(method, headers, receive)
            self._check_rate(scope, self._kind(method, path, mount, sub, payload))
        except Refused as r:
            return await refuse(send, r.status, r.code, {**cors, **r.headers}, **r.values)
        if path == "/api/ask":
            return await self._ask(scope, receive, send, cors)
        if mount is not None and method == "POST" and _GRADIO_QUEUE.fullmatch(sub):
            send = french_queue_full(send)
        await self.app(scope, receive, send)

    def _check_route(self, method: str, path: str, mount: str | None, sub: str) -> None:
        """No upload; only the routes the chat uses; an own route with its own methods only."""
        if mount is not None and _UPLOAD.fullmatch(sub):
            raise Refused(403, "upload")
        if not self._served(method, path, mount, sub):
            raise Refused(404, "not_found", path=path[:100])
        methods = self.own_routes.get(path, frozenset())
        if mount is None and methods and method not in (*methods, "OPTIONS"):
            raise Refused(405, "method")

    async def _read(self, method: str, headers: dict[str, str], receive: Any) -> tuple[Any, Any]:
        """The body read within the limit: (a receive that replays it, its JSON or None)."""
        limit = self.settings.max_body_bytes
        if _declared_length(headers) > limit:
            raise Refused(413, "body_too_large", limit=limit)
        body = b""
        if method in _BODY_METHODS:
            read = await read_body(receive, limit)
            if read is None:  # over the limit: the rest is never read
                raise Refused(413, "body_too_large", limit=limit)
            body = read
            receive = replay(body, receive)
        payload: Any = None
        if body and headers.get("content-type", "").startswith("application/json"):
            try:
                payload = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise Refused(400, "encoding") from None
            except (ValueError, RecursionError):  # "[[[[…" nested 200,000 deep fits the limit
                raise Refused(400, "json_invalid") from None
        return receive, payload

    def _check_rate(self, scope: dict[str, Any], kind: str | None) -> None:
        """A question or a vote counts against its client's limit."""
        if kind is None:
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.limiters[kind].wait_s(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise Refused(429, f"rate_{kind}", {"retry-after": str(seconds)}, seconds=seconds)

    async def _ask(
        self, scope: dict[str, Any], receive: Any, send: Any, cors: dict[str, Any]
    ) -> None:
        """/api/ask has no queue of its own: over `max_queue` waiting, a question is refused."""
        if self.api_waiting >= self.settings.max_queue:
            return await refuse(send, 503, "busy", {**cors, "retry-after": "1"})
        self.api_waiting += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.api_waiting -= 1

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

    def _kind(
        self, method: str, path: str, mount: str | None, sub: str, payload: Any
    ) -> str | None:
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
