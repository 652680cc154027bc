"""Generative answers from an OpenAI-compatible server, every sentence verified.

The model gets the top passages, numbered [1]..[k], and must end every sentence with the
numbers of the passages that support it. `verify.verify_answer` then keeps only the sentences
each cited passage supports; the kept ones are renumbered to their citations. Whenever the
server fails (down, HTTP error, garbage, timeout, stream cut) or too little survives, the
answer is the fallback backend's quoted answer on the same passages, marked
`backend="extractive-fallback"` with a note saying why.

The engine applies its safety rules and refusals *before* choosing a backend: this module
is never asked a refused or safety question, and adds no safety logic of its own.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from chatbot import texts_fr
from chatbot.answer.verify import CheckedSentence, strip_markers, verify_answer
from chatbot.errors import GenerationError
from chatbot.records import Answer, AnswerRequest, Chunk, Citation, Hit
from chatbot.text.normalize import fold_for_match

logger = logging.getLogger("chatbot.answer.generate")

_CHARS_PER_TOKEN = 3.5  # French with common BPE vocabularies; no tokenizer to download
_MESSAGE_OVERHEAD_TOKENS = 64  # chat template and role tags around the two messages
_MAX_RESPONSE_BYTES = 1_000_000  # a short answer streams well under this; more is garbage
_HISTORY_TURNS = 4  # earlier turns shown to the model, for follow-up questions
_HISTORY_CHARS = 400  # per turn: enough to resolve "et ses effets secondaires ?"


@dataclass(frozen=True)
class LLMSettings:
    """How to reach the generation server; `from_env` reads the `CHATBOT_LLM_*` variables."""

    base_url: str  # OpenAI-compatible root, e.g. http://127.0.0.1:8000/v1 (+ /chat/completions)
    model: str  # the name the server knows the model by (vLLM: as served; Ollama: its tag)
    api_key: str = field(default="", repr=False)  # Bearer token; local servers need none
    timeout_s: float = 20.0  # the whole answer, connection to last token; then we quote
    connect_timeout_s: float = 3.0  # a server on the LAN that does not accept by then is down
    read_timeout_s: float = 10.0  # longest silence between two reads, prompt processing too
    max_tokens: int = 400  # a few short sentences need far fewer; more means rambling
    temperature: float = 0.1  # near-greedy: we want the passages' words, not variety
    context_tokens: int = 4096  # the model's window: prompt + passages + max_tokens fit in it
    max_passages: int = 4  # top hits shown to the model, as many as the extractive answer uses
    min_kept_sentences: int = 1  # fewer verified sentences than this: quoted answer instead
    min_kept_share: float = 0.5  # same when a smaller share of the sentences survives

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(
                "base_url must be an http(s) URL such as http://127.0.0.1:8000/v1. "
                f"Currently, base_url is {self.base_url!r}"
            )
        if not self.model.strip():
            raise ValueError(
                "model must name the served model (CHATBOT_LLM_MODEL). Currently, model is ''"
            )
        positive = ("timeout_s", "connect_timeout_s", "read_timeout_s", "max_tokens")
        for name in (*positive, "context_tokens", "max_passages"):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"{name} must be greater than 0. Currently, {name} is {getattr(self, name)}"
                )
        if self.context_tokens <= self.max_tokens + 256:
            raise ValueError(
                "context_tokens must leave room for the prompt beyond max_tokens "
                f"({self.max_tokens} + 256). Currently, context_tokens is {self.context_tokens}"
            )
        if self.temperature < 0:
            raise ValueError(
                f"temperature must be 0 or more. Currently, temperature is {self.temperature}"
            )
        if not 0.0 <= self.min_kept_share <= 1.0:
            raise ValueError(
                f"min_kept_share must be between 0 and 1. Currently, it is {self.min_kept_share}"
            )

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMSettings | None:
        """Settings from `CHATBOT_LLM_*`, or None when CHATBOT_LLM_BASE_URL is unset."""
        base_url = os.environ.get("CHATBOT_LLM_BASE_URL", "").strip()
        if not base_url:
            return None
        values: dict[str, Any] = {
            "base_url": re.sub(r"/(chat/completions)?/*$", "", base_url),
            "model": os.environ.get("CHATBOT_LLM_MODEL", ""),
            "api_key": os.environ.get("CHATBOT_LLM_API_KEY", ""),
        }
        timeout = os.environ.get("CHATBOT_LLM_TIMEOUT", "").strip()
        if timeout:
            try:
                values["timeout_s"] = float(timeout)
            except ValueError:
                raise ValueError(
                    f"CHATBOT_LLM_TIMEOUT must be a number of seconds. Currently, it is {timeout!r}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class Fallback(Protocol):
    """What the answerer falls back on: any backend, the extractive one in practice."""

    def answer(self, request: AnswerRequest) -> Answer: ...


class GenerativeAnswerer:
    """Answer backend: a generated answer whose every sentence a cited passage supports."""

    name = "generative"

    def __init__(self, settings: LLMSettings, fallback: Fallback) -> None:
        if not callable(getattr(fallback, "answer", None)):
            raise TypeError(f"fallback must have an answer(request) method. Got {fallback!r}")
        self.settings = settings
        self.fallback = fallback
        self.client = ChatClient(settings)

    def answer(self, request: AnswerRequest) -> Answer:
        """Generate, verify and cite an answer; the fallback's answer when that fails.

        Args:
            request: the question and its retrieved passages (never a refused question).
        Returns:
            An `Answer` with backend "generative", or the fallback's with "extractive-fallback".
        """
        started = time.perf_counter()
        history = render_history(request.history)
        shown = select_passages(request.hits, self.settings, request.question, history)
        if not shown:
            return self._fall_back(request, started, "no passage fits the context window")
        messages = build_messages(request.question, history, shown)
        try:
            text = self.client.complete(messages)
        except GenerationError as error:
            return self._fall_back(request, started, f"server failed ({error})")
        if fold_for_match(texts_fr.LLM_NO_ANSWER) in fold_for_match(text):
            return self._fall_back(request, started, "the model said the passages do not answer")
        verification = verify_answer(text, {n: chunk for n, chunk, _ in shown})
        notes = [_removal_note(s) for s in verification.removed]
        kept, total = verification.kept, len(verification.sentences)
        if len(kept) < self.settings.min_kept_sentences or len(kept) < (
            self.settings.min_kept_share * total
        ):
            why = f"too little survived verification ({len(kept)} of {total} sentences kept)"
            return self._fall_back(request, started, why, notes)
        passages = {n: chunk for n, chunk, _ in shown}
        answer_text, citations = renumber(kept, passages)
        return Answer(
            text=answer_text,
            citations=citations,
            retrieved=list(request.hits),
            backend="generative",
            notes=notes,
            timings_ms={"generate": (time.perf_counter() - started) * 1000},
        )

    def _fall_back(
        self, request: AnswerRequest, started: float, why: str, notes: list[str] | None = None
    ) -> Answer:
        logger.warning("generative answer fell back to the extractive one: %s", why)
        answer = self.fallback.answer(request)
        return replace(
            answer,
            backend="extractive-fallback",
            notes=[*answer.notes, *(notes or []), f"fell back to the extractive answer: {why}"],
            timings_ms={**answer.timings_ms, "generate": (time.perf_counter() - started) * 1000},
        )


def _removal_note(sentence: CheckedSentence) -> str:
    return f"removed ({sentence.reason}): «{sentence.text}» -- {sentence.detail}"


# --- prompt ------------------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def render_history(history: list[dict[str, str]]) -> str:
    """The last turns, markers removed: old [n] refer to passages the model does not see."""
    lines = []
    for turn in history[-_HISTORY_TURNS:]:
        template = texts_fr.LLM_HISTORY_TURN.get(turn.get("role", ""))
        content = strip_markers(turn.get("content", ""))
        if template and content:
            if len(content) > _HISTORY_CHARS:
                content = content[:_HISTORY_CHARS].rsplit(" ", 1)[0] + " …"
            lines.append(template.format(content=content))
    return "\n".join(lines) or texts_fr.LLM_NO_HISTORY


def select_passages(
    hits: list[Hit], settings: LLMSettings, question: str, history: str
) -> list[tuple[int, Chunk, str]]:
    """The top hits as (number, chunk, text shown), within the model's context window.

    Passages are taken in rank order while they fit; the first one is cut at a sentence
    border if even it does not fit. The verifier still checks against the whole chunk.
    """
    fixed = build_messages(question, history, [])
    budget = settings.context_tokens - settings.max_tokens - _MESSAGE_OVERHEAD_TOKENS
    budget -= sum(estimate_tokens(m["content"]) for m in fixed)
    shown: list[tuple[int, Chunk, str]] = []
    for hit in hits[: settings.max_passages]:
        n, chunk, text = len(shown) + 1, hit.chunk, hit.chunk.text
        cost = estimate_tokens(_render_passage(n, chunk, text)) + 1
        if cost > budget and not shown:
            ends = [s.end for s in chunk.sentences]
            text = ""
            for end in ends:
                if estimate_tokens(_render_passage(n, chunk, chunk.text[:end])) + 1 > budget:
                    break
                text = chunk.text[:end]
            cost = estimate_tokens(_render_passage(n, chunk, text)) + 1
        if not text or cost > budget:
            break
        shown.append((n, chunk, text))
        budget -= cost
    return shown


def _render_passage(n: int, chunk: Chunk, text: str) -> str:
    return texts_fr.LLM_PASSAGE.format(n=n, title=chunk.title, text=text)


def build_messages(
    question: str, history: str, shown: list[tuple[int, Chunk, str]]
) -> list[dict[str, str]]:
    """The system and user messages, rendered strictly: a missing variable raises KeyError."""
    passages = "\n\n".join(_render_passage(n, chunk, text) for n, chunk, text in shown)
    return [
        {
            "role": "system",
            "content": texts_fr.LLM_SYSTEM_PROMPT.format(no_answer=texts_fr.LLM_NO_ANSWER),
        },
        {
            "role": "user",
            "content": texts_fr.LLM_USER_PROMPT.format(
                passages=passages, history=history, question=question
            ),
        },
    ]


# --- renumbering -------------------------------------------------------------------------------


def renumber(kept: list[CheckedSentence], passages: dict[int, Chunk]) -> tuple[str, list[Citation]]:
    """The answer text with markers renumbered 1..m, and one citation per marker.

    A citation is one passage *and* the span quoted from it: two sentences resting on
    different sentences of the same passage get two numbers, each with its exact quote.
    """
    numbers: dict[tuple[int, int, int], int] = {}
    citations: list[Citation] = []
    sentences = []
    for sentence in kept:
        markers = []
        for quote in sentence.quotes:
            key = (quote.n, quote.start, quote.end)
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                citations.append(Citation(numbers[key], passages[quote.n], quote.text))
            markers.append(f"[{numbers[key]}]")
        sentences.append(_with_markers(sentence.claim, "".join(dict.fromkeys(markers))))
    # One sentence a line: a verified sentence is never glued to the next one, whatever the
    # next one starts with (a bullet, a lower-case word), so it is read and checked alone.
    return "\n".join(sentences), citations


def _with_markers(claim: str, markers: str) -> str:
    # Markers go before the final punctuation, "… efficace [1].", so no splitter moves them
    # to the next sentence.
    # A capital start too, so the evaluation's splitter sees a new sentence.
    body, stop = re.fullmatch(r"(.*?)([.!?…]*)", claim, re.DOTALL).groups()  # type: ignore[union-attr]
    return f"{body[:1].upper()}{body[1:].rstrip()} {markers}{stop or '.'}"


# --- HTTP --------------------------------------------------------------------------------------


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
