"""Generative mode on the project's question set, against a scripted OpenAI-compatible server.

The server writes, from the passages it is given, one faithful sentence for each of (up to)
four passages plus an
invented sentence, a sentence citing a passage it was not given, and one contradicting its
passage. Whatever the server writes, the answers the engine returns must score grounded
sentences = 1.00, and a server failing mid-stream must leave the patient a quoted answer.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from chatbot.answer.generate import GenerativeAnswerer, LLMSettings
from chatbot.config import Settings
from chatbot.evaluation.metrics import compute_metrics
from chatbot.evaluation.questions import read_questions
from tests.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.integration

QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "dev.jsonl"
PASSAGE = re.compile(r"^\[(\d+)\] [^\n]*\n(.+?)(?=^\[\d+\] |\Z)", re.S | re.M)


def write_answer(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    sentences = []
    for n, text in PASSAGE.findall(prompt)[:4]:
        first = re.split(r"(?<=[.!?])\s+", text.strip())[0].rstrip(".")
        sentences.append(f"{first} [{n}].")
    sentences.append("La vitamine D guérit la sclérose en plaques en trois semaines [1].")
    sentences.append("Les patients doivent arrêter leur traitement sans avis médical [9].")
    sentences.append("La biotine à forte dose est très efficace dans les formes progressives [1].")
    return " ".join(sentences)


@pytest.fixture(scope="module")
def server():
    fake = FakeOpenAIServer().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def engine(server):
    from chatbot.engine import Engine

    engine = Engine.load(Settings.from_env())
    llm = LLMSettings(base_url=server.base_url, model="fake", timeout_s=5.0)
    engine.backend = GenerativeAnswerer(llm, fallback=engine.extractive)
    return engine


def test_every_sentence_of_generative_answers_is_grounded(server, engine):
    server.reply_from(write_answer)
    questions = read_questions(QUESTIONS)
    results = []
    for q in questions:
        try:
            results.append(engine.ask(q.question, q.history).to_result(q.id, q.question))
        except Exception as exc:  # noqa: BLE001 - an invalid question is not this test's subject
            pytest.fail(f"{q.id}: {exc!r}")
    metrics = compute_metrics(questions, results)
    assert metrics["grounded_sentences"] == 1.0
    generative = [r for r in results if r["backend"] == "generative"]
    assert len(generative) >= 30, "the server's faithful sentences should survive verification"
    for r in generative:
        assert "vitamine D guérit" not in r["answer"]
        assert "[9]" not in r["answer"]
        assert "très efficace" not in r["answer"]


def test_a_stream_cut_mid_answer_gives_the_quoted_answer_through_the_api(server, engine):
    from fastapi.testclient import TestClient

    from chatbot.serve.web import create_app

    server.reply_cut("La biotine à forte dose ne montre pas d'efficacité [1]. Elle", after=30)
    # 127.0.0.1: the server answers to its own names only (not TestClient's "testserver").
    client = TestClient(create_app(Settings.from_env(), engine=engine), base_url="http://127.0.0.1")
    t0 = time.perf_counter()
    response = client.post("/api/ask", json={"question": "la biotine ca marche ?", "history": []})
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200
    result = response.json()
    assert result["backend"] == "extractive-fallback"
    assert result["citations"] and not result["refused"]
    assert elapsed < 5.0 + 2.0
