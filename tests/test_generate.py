"""Generative answers: the verifier's decisions, and the answerer against a real HTTP server."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from chatbot import texts_fr
from chatbot.answer import prompt
from chatbot.answer.generate import GenerativeAnswerer, LLMSettings
from chatbot.answer.prompt import build_messages, estimate_tokens, render_history, select_passages
from chatbot.answer.verify import verify_answer
from chatbot.evaluation.metrics import grounded_counts
from chatbot.records import Answer, AnswerRequest, Chunk, Citation, Hit, Sentence
from chatbot.text.markers import answer_sentences as split_sentences
from chatbot.text.markers import marker_numbers
from tests.fake_openai_server import FakeOpenAIServer


def make_chunk(doc_id: str, title: str, sentences: list[str]) -> Chunk:
    text, spans = "", []
    for s in sentences:
        text += " " if text else ""
        spans.append(Sentence(s, len(text), len(text) + len(s)))
        text += s
    return Chunk(
        chunk_id=f"{doc_id}#0",
        doc_id=doc_id,
        position=0,
        text=text,
        sentences=tuple(spans),
        source=f"{doc_id}.md",
        title=title,
    )


BIOTINE = make_chunk(
    "biotine",
    "Déception sur l'étude de la biotine",
    [
        "La biotine à haute dose a été étudiée dans les formes progressives.",
        "Un essai de phase 3 ne montre pas d'efficacité de la biotine à haute dose sur le handicap.",
        "La biotine peut fausser certains examens sanguins.",
    ],
)
OCRELIZUMAB = make_chunk(
    "ocrelizumab",
    "L'ocrelizumab",
    [
        "L'ocrelizumab (Ocrevus®) est un anticorps administré par perfusion tous les six mois.",
        "Dans les essais, il réduit le taux annualisé de poussées de 46 % par rapport à "
        "l'interféron.",
    ],
)
FATIGUE = make_chunk(
    "fatigue",
    "Fatigue et activité physique",
    [
        "L'efficacité de l'activité physique adaptée sur la fatigue chronique est démontrée "
        "chez de nombreux patients.",
        "Dans une étude, la fatigue a diminué de 34 % après douze semaines de rééducation à "
        "l'effort.",
    ],
)
PASSAGES = {1: BIOTINE, 2: OCRELIZUMAB, 3: FATIGUE}

# --- the verifier, sentence by sentence --------------------------------------------------------

DECISIONS = [
    # sentence as the model wrote it, expected reason (None: kept)
    ("La biotine peut fausser certains examens sanguins [1].", None),
    ("La biotine peut fausser certains examens sanguins. [1]", None),  # marker after the stop
    ("L'activité physique adaptée est efficace sur la fatigue chronique [3].", None),
    ("La fatigue a diminué de 34 % après douze semaines [3].", None),
    ("La biotine à haute dose ne montre pas d'efficacité sur le handicap [1].", None),
    ("L'Ocrevus® est administré par perfusion tous les six mois [2].", None),
    ("La biotine peut fausser certains examens sanguins.", "no_marker"),
    ("La biotine peut fausser certains examens sanguins [7].", "unknown_passage"),
    ("La fatigue a diminué de 43 % après douze semaines [3].", "number"),
    ("Le fingolimod réduit le taux annualisé de poussées de 46 % [2].", "name"),
    ("Le Kesimpta® est administré par perfusion tous les six mois [2].", "name"),
    ("La biotine à haute dose est efficace sur le handicap [1].", "contradiction"),
    ("Le yoga guérit définitivement la maladie [3].", "unsupported"),
    ("La biotine marche [1].", "unsupported"),
    # every cited passage must support the sentence on its own
    ("La biotine peut fausser certains examens sanguins [1][2].", "unsupported"),
    # passes the stemmed check but not the evaluation's literal 80 %: "montré" is not there
    ("La biotine n'a pas montré d'efficacité sur le handicap [1].", "not_grounded"),
]


@pytest.mark.parametrize(("sentence", "reason"), DECISIONS)
def test_verifier_decision(sentence: str, reason: str | None) -> None:
    (checked,) = verify_answer(sentence, PASSAGES).sentences
    assert checked.reason == reason, checked.detail
    if reason is None:
        for quote in checked.quotes:
            chunk = PASSAGES[quote.n]
            assert chunk.text[quote.start : quote.end] == quote.text
        # the evaluation's own metric agrees on every kept sentence
        result = {
            "answer": checked.text,
            "citations": [{"n": n, "text": PASSAGES[n].text} for n in checked.cited],
        }
        assert grounded_counts(result) == (1, 1)


def test_verifier_explains_and_quotes() -> None:
    v = verify_answer(
        "La biotine à haute dose est efficace sur le handicap [1]. "
        "La fatigue a diminué de 34 % après douze semaines [3]. Le yoga guérit tout [2].",
        PASSAGES,
    )
    assert [s.reason for s in v.sentences] == ["contradiction", None, "unsupported"]
    assert "ne montre pas d'efficacité" in v.removed[0].detail
    (kept,) = v.kept
    assert [q.text for q in kept.quotes] == [FATIGUE.sentences[1].text]


def test_sentence_splitting_and_markers() -> None:
    text = "- Première phrase [1]. Deuxième, p. ex. la fatigue [2, 3].\n**Troisième** [1;2]"
    assert split_sentences(text) == [
        "Première phrase [1].",
        "Deuxième, p. ex. la fatigue [2, 3].",
        "Troisième [1;2]",
    ]
    assert marker_numbers("a [2, 3] b [2][1]") == (2, 3, 1)


# --- the answerer against a real server --------------------------------------------------------


class QuotingFallback:
    """Stands for the extractive backend: quotes the first sentence of the best passage."""

    name = "extractive"

    def __init__(self) -> None:
        self.calls = 0

    def answer(self, request: AnswerRequest) -> Answer:
        self.calls += 1
        chunk = request.hits[0].chunk
        quote = chunk.sentences[0].text
        return Answer(
            text=f"{quote} [1]",
            citations=[Citation(1, chunk, quote)],
            retrieved=request.hits,
            notes=["quoted"],
        )


def make_request(question: str = "La biotine est-elle efficace ?") -> AnswerRequest:
    hits = [Hit(chunk, 1.0 / n, n) for n, chunk in PASSAGES.items()]
    return AnswerRequest(question=question, search_query=question, hits=hits, query_vector=None)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def fallback() -> QuotingFallback:
    return QuotingFallback()


def answerer(base_url: str, fallback: QuotingFallback, **settings: object) -> GenerativeAnswerer:
    timeouts = {"timeout_s": 1.0, "connect_timeout_s": 1.0, "read_timeout_s": 1.0}
    return GenerativeAnswerer(
        LLMSettings(base_url=base_url, model="fake-model", **{**timeouts, **settings}),  # type: ignore[arg-type]
        fallback,
    )


def test_good_answer_is_kept_and_renumbered(server, fallback) -> None:
    server.reply_stream(
        "L'activité physique adaptée est efficace sur la fatigue chronique [3]. "
        "Dans une étude, la fatigue a diminué de 34 % après douze semaines [3].\n"
        "L'ocrelizumab réduit le taux annualisé de poussées de 46 % [2]."
    )
    request = make_request()
    answer = answerer(server.base_url, fallback).answer(request)

    assert answer.backend == "generative" and fallback.calls == 0
    assert answer.text == (
        "L'activité physique adaptée est efficace sur la fatigue chronique [1].\n"
        "Dans une étude, la fatigue a diminué de 34 % après douze semaines [2].\n"
        "L'ocrelizumab réduit le taux annualisé de poussées de 46 % [3]."
    )
    # one citation per marker, each quoting the exact span of its passage that supports it
    assert [(c.n, c.chunk.chunk_id) for c in answer.citations] == [
        (1, "fatigue#0"),
        (2, "fatigue#0"),
        (3, "ocrelizumab#0"),
    ]
    assert answer.citations[0].quote == FATIGUE.sentences[0].text
    assert answer.citations[1].quote == FATIGUE.sentences[1].text
    assert answer.citations[2].quote == OCRELIZUMAB.text  # "il réduit": both sentences
    assert answer.retrieved == request.hits and answer.notes == []
    assert grounded_counts(answer.to_result("q", request.question)) == (3, 3)

    (sent,) = server.requests
    assert sent["_path"] == "/v1/chat/completions"
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["max_tokens"] == 400 and sent["temperature"] == 0.1
    system, user = sent["messages"]
    assert system["role"] == "system" and texts_fr.LLM_NO_ANSWER in system["content"]
    assert "[1] Déception sur l'étude de la biotine\nLa biotine à haute dose" in user["content"]
    assert "[3] Fatigue et activité physique" in user["content"]
    assert re.findall(r"^\[(\d)\] ", user["content"], re.M) == ["1", "2", "3"]
    assert request.question in user["content"]
    assert "Authorization" not in sent["_headers"]


@pytest.mark.parametrize(
    ("text", "kept", "reason"),
    [
        (  # an invented sentence
            "La biotine peut fausser certains examens sanguins [1]. "
            "Le yoga guérit définitivement la maladie [3].",
            "La biotine peut fausser certains examens sanguins [1].",
            "unsupported",
        ),
        (  # a passage number that was not given
            "L'ocrelizumab réduit le taux annualisé de poussées de 46 % [2]. "
            "La fatigue a diminué de 34 % après douze semaines [7].",
            "L'ocrelizumab réduit le taux annualisé de poussées de 46 % [1].",
            "unknown_passage",
        ),
        (  # the opposite of what the passage says
            "La biotine à haute dose est efficace sur le handicap [1]. "
            "La biotine peut fausser certains examens sanguins [1].",
            "La biotine peut fausser certains examens sanguins [1].",
            "contradiction",
        ),
        (  # a number changed, 34 % -> 43 %
            "L'activité physique adaptée est efficace sur la fatigue chronique [3]. "
            "Dans une étude, la fatigue a diminué de 43 % après douze semaines [3].",
            "L'activité physique adaptée est efficace sur la fatigue chronique [1].",
            "number",
        ),
    ],
    ids=["invented", "wrong-number-7", "contradiction", "changed-number"],
)
def test_bad_sentence_is_removed_and_noted(server, fallback, text, kept, reason) -> None:
    server.reply_stream(text)
    answer = answerer(server.base_url, fallback).answer(make_request())
    assert answer.backend == "generative"
    assert answer.text == kept
    (note,) = answer.notes
    assert note.startswith(f"removed ({reason}):")
    assert [c.n for c in answer.citations] == [1]


def test_too_little_verified_falls_back(server, fallback, caplog) -> None:
    server.reply_stream(
        "Le yoga guérit la maladie [1]. La biotine est un remède miracle [1]. "
        "La biotine peut fausser certains examens sanguins [1]."
    )
    with caplog.at_level(logging.WARNING, logger="chatbot.answer.generate"):
        answer = answerer(server.base_url, fallback).answer(make_request())
    assert answer.backend == "extractive-fallback" and fallback.calls == 1
    assert answer.text == f"{BIOTINE.sentences[0].text} [1]"  # the quoted answer, unchanged
    assert "too little survived verification (1 of 3 sentences kept)" in answer.notes[-1]
    assert answer.notes[0] == "quoted"  # the fallback's own notes are kept
    assert sum(n.startswith("removed (") for n in answer.notes) == 2
    assert any("too little survived" in r.getMessage() for r in caplog.records)


def test_model_saying_the_passages_do_not_answer_falls_back(server, fallback) -> None:
    server.reply_stream(texts_fr.LLM_NO_ANSWER)
    answer = answerer(server.base_url, fallback).answer(make_request())
    assert answer.backend == "extractive-fallback"
    assert "do not answer" in answer.notes[-1]


# Every failure of the server: the quoted answer, and a note naming the failure.
@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (lambda s: s.reply_status(500), "http_status"),
        (lambda s: s.reply_raw("data: <html>Bad gateway</html>\n\n"), "garbage"),
        (lambda s: s.reply_raw("Internal Server Error", "text/plain"), "garbage"),
        (lambda s: s.reply_raw('data: {"id": "x"}\n\ndata: [DONE]\n\n'), "garbage"),
        (lambda s: s.reply_raw('data: {"error": {"message": "overloaded"}}\n\n'), "server_error"),
        (lambda s: s.reply_stream("   "), "empty"),
        (lambda s: s.reply_stream("La biotine peut [1].", finish="length"), "truncated"),
        # Cut in the middle: the end of a medical answer (its caveat) may be lost, so we do not
        # keep its complete sentences: the whole answer falls back to the quoted one.
        (
            lambda s: s.reply_cut("La biotine peut fausser certains examens [1]. Elle", after=45),
            "cut",
        ),
    ],
    ids=["http-500", "not-json", "not-sse", "no-choices", "error-event", "empty", "length", "cut"],
)
def test_server_failure_falls_back(server, fallback, script, reason) -> None:
    script(server)
    answer = answerer(server.base_url, fallback).answer(make_request())
    assert answer.backend == "extractive-fallback" and fallback.calls == 1
    assert f"server failed ({reason}:" in answer.notes[-1]


@pytest.mark.parametrize("script", ["reply_trickle", "reply_silent"])
def test_endless_or_silent_server_is_cut_at_the_deadline(server, fallback, script) -> None:
    getattr(server, script)()
    timeout = 1.0
    started = time.monotonic()
    answer = answerer(server.base_url, fallback, timeout_s=timeout).answer(make_request())
    elapsed = time.monotonic() - started
    assert answer.backend == "extractive-fallback"
    assert "server failed (timeout:" in answer.notes[-1]
    assert elapsed < timeout + 2


def test_trickle_slower_than_read_timeout_is_still_cut_by_the_total_deadline(server, fallback):
    server.reply_trickle(every_s=0.2)  # each read well within read_timeout_s
    started = time.monotonic()
    answer = answerer(server.base_url, fallback, timeout_s=0.8, read_timeout_s=5.0).answer(
        make_request()
    )
    assert "timeout" in answer.notes[-1] and time.monotonic() - started < 0.8 + 2


def test_server_down_falls_back_fast(fallback) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    answer = answerer(f"http://127.0.0.1:{port}/v1", fallback).answer(make_request())
    assert answer.backend == "extractive-fallback"
    assert "server failed (unreachable:" in answer.notes[-1]
    assert time.monotonic() - started < 1.0


def test_non_streamed_completion_is_accepted(server, fallback) -> None:
    body = (
        '{"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", '
        '"content": "La biotine peut fausser certains examens sanguins [1]."}}]}'
    )
    server.reply_raw(body, "application/json")
    answer = answerer(server.base_url, fallback, api_key="sk-test").answer(make_request())
    assert answer.backend == "generative"
    assert answer.text == "La biotine peut fausser certains examens sanguins [1]."
    assert server.requests[0]["_headers"]["Authorization"] == "Bearer sk-test"


# --- prompt and settings -----------------------------------------------------------------------


def context_leaving(budget: int, question: str) -> int:
    """The context window that leaves `budget` tokens for the passages, max_tokens=300."""
    fixed = sum(estimate_tokens(m["content"]) for m in build_messages(question, "(aucune)", []))
    return 300 + prompt._MESSAGE_OVERHEAD_TOKENS + fixed + budget


def test_passages_are_trimmed_to_the_context_window(server, fallback) -> None:
    request = make_request()
    # Passage costs in estimated tokens: [1] 73 (its first sentence alone 32), [2] 57, [3] 69.
    roomy = LLMSettings(base_url=server.base_url, model="m", max_tokens=300)
    assert [n for n, _, _ in select_passages(request.hits, roomy, request.question, "")] == [
        1,
        2,
        3,
    ]
    one = replace(roomy, context_tokens=context_leaving(100, request.question))
    shown = select_passages(request.hits, one, request.question, "(aucune)")
    assert [(n, text) for n, _, text in shown] == [(1, BIOTINE.text)]
    cut = replace(roomy, context_tokens=context_leaving(40, request.question))
    shown = select_passages(request.hits, cut, request.question, "(aucune)")
    assert [(n, text) for n, _, text in shown] == [(1, BIOTINE.sentences[0].text)]

    # the model cites a passage it was not shown: removed like any unknown number
    server.reply_stream(
        "La biotine à haute dose a été étudiée dans les formes progressives [1]. "
        "La fatigue a diminué de 34 % après douze semaines [3]."
    )
    answer = GenerativeAnswerer(one, fallback).answer(request)
    assert re.findall(r"^\[(\d)\] ", server.requests[0]["messages"][1]["content"], re.M) == ["1"]
    assert answer.text == "La biotine à haute dose a été étudiée dans les formes progressives [1]."
    assert answer.notes[0].startswith("removed (unknown_passage):")


def test_history_is_shown_without_old_markers() -> None:
    history = [
        {"role": "user", "content": "Parlez-moi de la biotine"},
        {"role": "assistant", "content": "La biotine peut fausser des examens [1]."},
    ]
    rendered = render_history(history)
    assert rendered == (
        "Patient : Parlez-moi de la biotine\nAssistant : La biotine peut fausser des examens."
    )
    assert render_history([]) == texts_fr.LLM_NO_HISTORY


def test_prompt_rendering_is_strict(monkeypatch) -> None:
    monkeypatch.setattr(texts_fr, "LLM_USER_PROMPT", "{passages} {question} {forgotten}")
    with pytest.raises(KeyError, match="forgotten"):
        build_messages("Question ?", "(aucune)", [])


def test_settings_from_env(monkeypatch) -> None:
    for name in ("BASE_URL", "MODEL", "API_KEY", "TIMEOUT"):
        monkeypatch.delenv(f"CHATBOT_LLM_{name}", raising=False)
    assert LLMSettings.from_env() is None  # no server: the extractive default stays

    monkeypatch.setenv("CHATBOT_LLM_BASE_URL", "http://gpu:8000/v1/")
    monkeypatch.setenv("CHATBOT_LLM_MODEL", "mistralai/Mistral-7B-Instruct-v0.3")
    monkeypatch.setenv("CHATBOT_LLM_TIMEOUT", "30")
    settings = LLMSettings.from_env(max_tokens=300)
    assert settings is not None
    assert settings.base_url == "http://gpu:8000/v1" and settings.timeout_s == 30.0
    assert settings.model == "mistralai/Mistral-7B-Instruct-v0.3" and settings.max_tokens == 300
    assert settings.context_tokens == 4096 and settings.temperature == 0.1

    monkeypatch.setenv("CHATBOT_LLM_TIMEOUT", "vingt")
    with pytest.raises(ValueError, match="'vingt'"):
        LLMSettings.from_env()
    monkeypatch.setenv("CHATBOT_LLM_TIMEOUT", "20")
    monkeypatch.delenv("CHATBOT_LLM_MODEL")
    with pytest.raises(ValueError, match="CHATBOT_LLM_MODEL"):
        LLMSettings.from_env()


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="Currently, base_url is 'localhost:8000'"):
        LLMSettings(base_url="localhost:8000", model="m")
    with pytest.raises(ValueError, match="timeout_s must be greater than 0"):
        LLMSettings(base_url="http://h/v1", model="m", timeout_s=0)
    with pytest.raises(TypeError, match="answer"):
        GenerativeAnswerer(LLMSettings(base_url="http://h/v1", model="m"), object())  # type: ignore[arg-type]
    assert "sk-secret" not in repr(
        LLMSettings(base_url="http://h/v1", model="m", api_key="sk-secret")
    )


# --- inside the engine -------------------------------------------------------------------------


def test_engine_never_sends_safety_or_refused_questions_to_the_model(server) -> None:
    from tests.helpers import fake_engine

    engine = fake_engine()
    engine.backend = GenerativeAnswerer(
        LLMSettings(base_url=server.base_url, model="m", timeout_s=2.0), engine.extractive
    )
    server.reply_stream(
        "Cette grande étude ne montre pas d'efficacité sur la marche [1]. "
        "La biotine est efficace sur la marche [1]."
    )
    emergency = engine.ask("je vois plus rien de l'oeil gauche depuis ce matin")
    refused = engine.ask("Est-ce que la vitamine D et le tabac jouent un role ?")
    assert emergency.safety == "emergency" and refused.refused
    assert server.requests == []  # neither reached the model

    answer = engine.ask("La biotine à forte dose est-elle efficace ?")
    assert len(server.requests) == 1 and answer.backend == "generative"
    assert answer.text == "Cette grande étude ne montre pas d'efficacité sur la marche [1]."
    assert answer.citations[0].chunk.doc_id == "biotine"
    assert grounded_counts(answer.to_result("q", "biotine")) == (1, 1)
