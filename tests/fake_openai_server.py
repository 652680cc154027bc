"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions API, scripted per test.

It streams like vLLM or llama.cpp's server (HTTP/1.1, chunked, `data: {...}` lines, then
`data: [DONE]`), and can misbehave on demand: an HTTP error, garbage, a stream cut in the
middle, a server that trickles forever or never answers.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[["_Handler"], None]


class FakeOpenAIServer:
    """Start with `start()`, script with one of the `reply_*` methods, stop with `stop()`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []  # JSON bodies received, with "_headers"
        self.stopping = threading.Event()
        self._behaviour: Behaviour = _stream("")
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases handlers that trickle or wait forever
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- scripts ---------------------------------------------------------------------------

    def reply_stream(self, text: str, *, piece: int = 7, finish: str = "stop") -> None:
        """Stream `text` in pieces of `piece` characters, then finish_reason and [DONE]."""
        self._behaviour = _stream(text, piece=piece, finish=finish)

    def reply_from(self, write: Callable[[dict[str, Any]], str]) -> None:
        """Stream the text `write(request_body)` returns: an answer made from the prompt."""

        def respond(h: _Handler) -> None:
            _stream(write(h.server.fake.requests[-1]))(h)  # type: ignore[attr-defined]

        self._behaviour = respond

    def reply_cut(self, text: str, *, after: int) -> None:
        """Stream the first `after` characters of `text`, then close the connection."""
        self._behaviour = _stream(text, piece=7, cut_after=after)

    def reply_status(self, status: int, body: str = '{"error": "boom"}') -> None:
        self._behaviour = lambda h: h.send_body(status, "application/json", body.encode())

    def reply_raw(self, body: str, content_type: str = "text/event-stream") -> None:
        """Status 200 and `body` as is: garbage, a non-streamed JSON completion..."""
        self._behaviour = lambda h: h.send_body(200, content_type, body.encode())

    def reply_trickle(self, every_s: float = 0.05) -> None:
        """A stream that never ends: one valid piece every `every_s` seconds, no [DONE]."""

        def trickle(h: _Handler) -> None:
            h.start_stream()
            while not self.stopping.wait(every_s):
                h.send_event(_chunk("…"))

        self._behaviour = trickle

    def reply_silent(self) -> None:
        """Accept the request and never send a byte."""

        def silent(h: _Handler) -> None:
            self.stopping.wait(30)

        self._behaviour = silent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def do_POST(self) -> None:
        fake: FakeOpenAIServer = self.server.fake  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body["_path"] = self.path
        body["_headers"] = dict(self.headers)
        fake.requests.append(body)
        # A broken pipe: the client gave up, as it should at its deadline.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            fake._behaviour(self)
        self.close_connection = True

    def send_body(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_event(self, payload: str) -> None:
        data = f"data: {payload}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _chunk(content: str | None, finish: str | None = None) -> str:
    delta = {"content": content} if content is not None else {"role": "assistant"}
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        },
        ensure_ascii=False,
    )


def _stream(
    text: str, *, piece: int = 7, finish: str = "stop", cut_after: int | None = None
) -> Behaviour:
    def stream(h: _Handler) -> None:
        h.start_stream()
        h.send_event(_chunk(None))  # the role-only first chunk real servers send
        sent = text if cut_after is None else text[:cut_after]
        for i in range(0, len(sent), piece):
            h.send_event(_chunk(sent[i : i + piece]))
        if cut_after is not None:
            return  # no finish_reason, no [DONE], no last chunk: the connection just closes
        h.send_event(_chunk("", finish))
        h.send_event("[DONE]")
        h.end_stream()

    return stream
