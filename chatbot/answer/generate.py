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

import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import urlsplit

from chatbot import texts_fr
from chatbot.answer.llm_client import ChatClient
from chatbot.answer.prompt import (
    build_messages,
    render_history,
    select_passages,
)
from chatbot.answer.verify import CheckedSentence, verify_answer
from chatbot.errors import GenerationError
from chatbot.records import Answer, AnswerRequest, Chunk, Citation
from chatbot.text.normalize import fold_for_match

logger = logging.getLogger("chatbot.answer.generate")


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
