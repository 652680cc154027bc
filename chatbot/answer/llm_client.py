"""A minimal client of an OpenAI-compatible chat server (vLLM, llama.cpp, Ollama, hosted APIs).

Standard library only: one HTTP(S) connection per answer, streamed or not, with an overall
deadline; whatever the server sends back that is not a usable answer raises GenerationError
with a stable reason (unreachable, timeout, http_status, garbage, server_error, cut...).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chatbot.errors import GenerationError

if TYPE_CHECKING:
    from chatbot.answer.generate import LLMSettings

_MAX_RESPONSE_BYTES = 1_000_000  # a short answer streams well under this; more is garbage


class ChatClient:
    """One streamed chat completion from an OpenAI-compatible server, within a hard deadline."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        url = urlsplit(settings.base_url)
        self._https = url.scheme == "https"
        self._host = url.hostname or ""
        self._port = url.port or (443 if self._https else 80)
        self._path = url.path.rstrip("/") + "/chat/completions"

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The whole generated text.

        Raises:
            GenerationError: unreachable server, non-200 status, unparseable or empty
                stream, connection cut before the end, or `timeout_s` exceeded.
        """
        s = self.settings
        deadline = time.monotonic() + s.timeout_s
        connection_class = (
            http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        )
        conn = connection_class(
            self._host, self._port, timeout=min(s.connect_timeout_s, s.timeout_s)
        )
        try:
            conn.connect()
        except OSError as error:
            conn.close()
            raise GenerationError("unreachable", f"{s.base_url}: {error}") from error
        sock = conn.sock
        expired = threading.Event()
        # The watchdog shuts the socket at the deadline, waking any blocked read: a server that
        # trickles bytes (each read within read_timeout) is cut all the same.
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _abort, (sock, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._exchange(conn, sock, messages, deadline)
        except (GenerationError, OSError, http.client.HTTPException) as error:
            if expired.is_set() or time.monotonic() >= deadline:
                raise GenerationError(
                    "timeout", f"no full answer within {s.timeout_s:g} s"
                ) from error
            if isinstance(error, GenerationError):
                raise
            if isinstance(error, TimeoutError):
                raise GenerationError(
                    "timeout", f"server silent for {s.read_timeout_s:g} s"
                ) from error
            raise GenerationError("cut", f"connection lost: {error!r}") from error
        finally:
            watchdog.cancel()
            conn.close()
            sock.close()

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        sock: socket.socket,
        messages: list[dict[str, str]],
        deadline: float,
    ) -> str:
        s = self.settings
        body = {
            "model": s.model,
            "messages": messages,
            "stream": True,
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
        }
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if s.api_key:
            headers["Authorization"] = f"Bearer {s.api_key}"
        sock.settimeout(min(s.read_timeout_s, max(0.01, deadline - time.monotonic())))
        conn.request("POST", self._path, body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        chunks = self._read(response, sock, deadline)
        if response.status != 200:
            snippet = next(chunks, b"")[:300].decode("utf-8", "replace")
            raise GenerationError("http_status", f"HTTP {response.status}: {snippet!r}")
        if "application/json" in (response.getheader("Content-Type") or ""):
            return _parse_completion(b"".join(chunks))  # the server ignored stream: true
        return _parse_stream(chunks)

    def _read(
        self, response: http.client.HTTPResponse, sock: socket.socket, deadline: float
    ) -> Iterator[bytes]:
        total = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GenerationError("timeout", f"no answer within {self.settings.timeout_s:g} s")
            sock.settimeout(min(self.settings.read_timeout_s, remaining))
            data = response.read1(65536)
            if not data:
                return
            total += len(data)
            if total > _MAX_RESPONSE_BYTES:
                raise GenerationError("garbage", f"more than {_MAX_RESPONSE_BYTES} bytes")
            yield data


def _abort(sock: socket.socket, expired: threading.Event) -> None:
    expired.set()
    # The plain socket's shutdown, even under TLS: it only has to wake the reader. OSError:
    # already closed, the answer ended in time.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    buffer = b""
    for data in chunks:
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        yield from lines
    yield buffer  # the last line, when the server closed without a final newline


def _parse_stream(chunks: Iterable[bytes]) -> str:
    """Concatenate the `delta.content` of an SSE stream of chat-completion chunks."""
    pieces: list[str] = []
    finish: str | None = None
    for line in _lines(chunks):
        event = _parse_sse_line(line)
        if event == "[DONE]":
            return _joined(pieces, finish)
        if isinstance(event, dict):
            for choice in _choices(event):
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str):
                    pieces.append(content)
                finish = choice.get("finish_reason") or finish
    if finish is None:  # some servers close after finish_reason without [DONE]: fine
        raise GenerationError("cut", f"stream closed before its end, after {len(pieces)} pieces")
    return _joined(pieces, finish)


def _parse_sse_line(raw: bytes) -> dict[str, Any] | str | None:
    try:
        line = raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise GenerationError("garbage", f"not UTF-8: {raw[:80]!r}") from None
    if not line or line.startswith(":") or re.match(r"(event|id|retry):", line):
        return None  # blank separators, keep-alive comments, unused SSE fields
    if not line.startswith("data:"):
        raise GenerationError("garbage", f"not a server-sent event: {line[:80]!r}")
    payload = line[5:].strip()
    return payload if payload == "[DONE]" else _parse_object(payload.encode())


def _parse_object(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GenerationError("garbage", f"not JSON: {payload[:80]!r}") from None
    if not isinstance(event, dict):
        raise GenerationError("garbage", f"not a JSON object: {payload[:80]!r}")
    if "error" in event:
        raise GenerationError("server_error", str(event["error"])[:200])
    return event


def _choices(event: dict[str, Any]) -> list[dict[str, Any]]:
    choices = event.get("choices")
    # An empty list is legitimate (usage-only chunk); a missing or malformed one is not.
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise GenerationError("garbage", f"no choices in {json.dumps(event)[:80]}")
    return choices


def _parse_completion(body: bytes) -> str:
    """The text of a non-streamed completion, for servers that ignore `stream: true`."""
    choices = _choices(_parse_object(body))
    if not choices:
        raise GenerationError("empty", "no choice in the completion")
    content = (choices[0].get("message") or {}).get("content")
    return _joined([content] if isinstance(content, str) else [], choices[0].get("finish_reason"))


def _joined(pieces: list[str], finish: str | None) -> str:
    if finish == "length":
        # A cut answer may have lost its caveat ("… sauf pendant la grossesse"): quote instead.
        raise GenerationError("truncated", "max_tokens reached before the end of the answer")
    text = "".join(pieces).strip()
    if not text:
        raise GenerationError("empty", "the server returned no text")
    return text
