"""The HTTP API, the widget script and the pages' headers, on the fake engine (fast)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from chatbot.config import Settings  # noqa: E402
from chatbot.records import Document  # noqa: E402
from chatbot.serve.feedback import FeedbackStore  # noqa: E402
from tests.helpers import fake_engine  # noqa: E402

SITE = "https://www.asso-sep.test"
EVIL = "https://pirate.example"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return FeedbackStore(tmp_path_factory.mktemp("fb") / "feedback.sqlite3")


@pytest.fixture(scope="module")
def app(store):
    from chatbot.serve.web import create_app

    # The flood limits have their own tests (test_guard.py); here one client asks many times.
    settings = Settings(
        allowed_origins=(SITE,), feedback_db=store.path, questions_per_minute=0, votes_per_minute=0
    )
    return create_app(settings, fake_engine(), store)


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    # 127.0.0.1: the server answers to its own names only (not TestClient's "testserver").
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def ask(client, body, **kw):
    return client.post("/api/ask", json=body, **kw)


def test_ask_returns_the_shared_result_format_with_citations(client):
    r = ask(
        client, {"question": "quels sont les effets secondaires de l'ocrelizumab ?", "history": []}
    )
    assert r.status_code == 200
    res = r.json()
    assert set(res) >= {
        "id",
        "question",
        "answer",
        "refused",
        "safety",
        "citations",
        "retrieved",
        "timings_ms",
    }
    assert "[1]" in res["answer"] and not res["refused"]
    c = res["citations"][0]
    assert set(c) >= {"n", "chunk_id", "source", "title", "author", "date", "quote", "text"}
    assert c["quote"] in c["text"] and c["source"] == "ocrelizumab.md"
    assert {"retrieve", "answer", "total"} <= set(res["timings_ms"])


def test_a_follow_up_uses_the_history(client):
    history = [
        {"role": "user", "content": "la biotine a forte dose c'est efficace ?"},
        {"role": "assistant", "content": "L'étude de la biotine SPI2 est négative. [1]"},
    ]
    res = ask(client, {"question": "et sur la marche ?", "history": history}).json()
    assert res["citations"] and res["citations"][0]["source"] == "biotine.md"


def test_emergency_is_answered_by_the_safety_message(client):
    res = ask(client, {"question": "je vois plus rien d'un coup depuis ce matin"}).json()
    assert res["safety"] == "emergency" and "15" in res["answer"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"question": ""}, 400, "vide"),
        ({"question": "   "}, 400, "vide"),
        ({"question": "a" * 50_000}, 400, "trop long"),
        ({"question": 123}, 422, "« question » doit être un texte"),
        ({}, 422, "« question » est obligatoire"),
        ({"question": "ok", "history": "non"}, 422, "« history » doit être une liste"),
        ({"question": "ok", "history": [{"role": "robot", "content": "x"}]}, 422, "history.0.role"),
        ([1, 2], 422, "doit être un objet JSON"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_french_message(client, body, status, words):
    r = ask(client, body)
    assert r.status_code == status
    assert words in r.json()["detail"]


def test_invalid_json_is_a_400(client):
    r = client.post(
        "/api/ask", content=b'{"question": "oups', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "JSON valide" in r.json()["detail"]


def test_html_in_the_question_is_returned_as_data_not_markup(client):
    q = "<script>alert(1)</script> ocrelizumab effets secondaires"
    r = ask(client, {"question": q})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["question"] == q


def test_a_question_in_english_is_a_french_refusal_not_an_error(client):
    res = ask(client, {"question": "What are the side effects of ocrelizumab for patients?"}).json()
    assert res["refused"] and "français" in res["answer"]


def test_a_huge_body_is_refused_before_parsing(client):
    r = client.post(
        "/api/ask", content=b"x" * 300_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "volumineuse" in r.json()["detail"]


def test_allowed_site_gets_cors_headers_other_sites_are_refused(client):
    ok = ask(client, {"question": "biotine"}, headers={"Origin": SITE})
    assert ok.headers["access-control-allow-origin"] == SITE
    bad = ask(client, {"question": "biotine"}, headers={"Origin": EVIL})
    assert bad.status_code == 403 and "non autorisée" in bad.json()["detail"]
    pre = client.options(
        "/api/ask", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    pre = client.options(
        "/api/ask",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 200


def test_widget_script_is_served_at_a_stable_url_for_allowed_sites_only(client):
    r = client.get("/widget.js", headers={"Origin": SITE})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["access-control-allow-origin"] == SITE
    assert (
        "/embed/" in r.text
        and "Une question sur la SEP ?" in r.text
        and "__SEP_TEXTS__" not in r.text
    )
    assert client.get("/widget.js", headers={"Origin": EVIL}).status_code == 403


def test_chat_pages_are_french_and_framable_only_by_allowed_sites(client):
    for path in ("/", "/embed/"):
        r = client.get(path, headers={"Accept-Encoding": "gzip, br"})
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert f"frame-ancestors 'self' {SITE}" in csp and "default-src 'self'" in csp
        assert 'lang="fr"' in r.text and "sepTextSize" in r.text


def test_openapi_documents_the_api_on_a_page_that_loads_nothing_outside(client):
    spec = client.get("/api/openapi.json").json()
    assert {"/api/ask", "/api/feedback"} <= set(spec["paths"])
    page = client.get("/api/docs").text
    assert "/api/ask" in page and "<script" not in page and "cdn" not in page.lower()


def test_feedback_endpoint_stores_the_vote(client, store):
    r = client.post(
        "/api/feedback",
        json={
            "vote": "down",
            "question": "q ?",
            "answer": "a [1]",
            "chunk_ids": ["biotine#0"],
            "comment": "faux",
        },
    )
    assert r.status_code == 200
    stored = {f.id: f for f in store.all()}[r.json()["id"]]
    assert (stored.vote, stored.chunk_ids, stored.comment) == ("down", ("biotine#0",), "faux")
    assert (
        client.post(
            "/api/feedback", json={"vote": "bof", "question": "q", "answer": "a"}
        ).status_code
        == 422
    )


@pytest.mark.server
def test_gradio_python_client_calls_the_chat(app):
    from gradio_client import Client

    from tests.webserver import live_server

    with live_server(app) as url:
        result = Client(url, verbose=False).predict(
            question="la biotine a forte dose est-elle efficace ?", history=[], api_name="/ask"
        )
    assert result["citations"] and result["citations"][0]["source"] == "biotine.md"


@pytest.mark.server
def test_gradio_js_client_calls_the_chat(app, tmp_path):
    """Gradio's JS client (npm @gradio/client, installed once into build/node) gets an answer."""
    import shutil
    import subprocess
    from pathlib import Path

    from tests.webserver import NODE_PREFIX, live_server, npm_package

    root = Path(__file__).resolve().parent.parent
    assert shutil.which("node"), "node missing: run `make browser`"
    npm_package("@gradio/client@2.7.0")
    script = NODE_PREFIX / "gradio_client.mjs"  # next to node_modules, so that the import resolves
    shutil.copy(root / "examples" / "gradio_client.mjs", script)
    with live_server(app) as url:
        out = subprocess.run(
            ["node", str(script), url, "la biotine a forte dose est-elle efficace ?"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    assert "[1]" in out and "biotine.md" in out


def _hostile_document() -> Document:
    """A document whose title and text hold markup, which the chat must show as text."""
    return Document(
        doc_id="h",
        source="h.md",
        title="Grippe <script>x()</script>",
        authors=("Dr A",),
        date="2021",
        text="La vaccination antigrippale est recommandée <img src=x onerror=y()> chez les patients SEP.",
    )


def test_rendering_escapes_documents_and_links_each_marker_to_its_highlighted_source():
    from chatbot.serve.chat import render_answer, render_question

    answer = fake_engine(docs=[_hostile_document()]).ask(
        "la vaccination antigrippale est recommandée ?"
    )
    html = render_answer(answer, turn=2)
    assert "<script" not in html and "<img" not in html and "&lt;img src=x onerror=y()&gt;" in html
    assert '<a class="sep-cite" href="#sep-src-2-1">[1]' in html and 'id="sep-src-2-1"' in html
    assert "<mark>" in html and "Dr A · 2021" in html and "sep-done" in html
    assert "sep-done" not in render_answer(answer, turn=2, upto=3)  # still appearing
    assert "&lt;b&gt;" in render_question("<b>gras</b>") and "\n\n" not in html


def test_a_refusal_shows_its_nearest_documents_unhighlighted_and_unnumbered():
    from chatbot import texts_fr
    from chatbot.records import Answer
    from chatbot.serve.chat import render_answer

    chunk = fake_engine(docs=[_hostile_document()]).index.chunks[0]
    html = render_answer(Answer(text=texts_fr.REFUSAL, refused=True, nearby=[chunk]), turn=3)
    assert texts_fr.NEARBY_TITLE.split(",")[0] in html and "Dr A · 2021" in html
    assert "<script" not in html and "<img" not in html and "&lt;img src=x onerror=y()&gt;" in html
    assert "sep-cite" not in html and "<mark>" not in html and "sep-src-" not in html


def test_a_refusal_with_a_3114_notice_is_a_refusal_with_the_notice_set_apart():
    from chatbot import texts_fr
    from chatbot.records import Answer
    from chatbot.safety.detector import Assessment, Category
    from chatbot.safety.respond import safety_message, with_safety
    from chatbot.serve.chat import render_answer

    chunk = fake_engine(docs=[_hostile_document()]).index.chunks[0]
    refusal = Answer(text=texts_fr.REFUSAL, refused=True, nearby=[chunk])
    risk = Assessment(possible=(Category.SUICIDE,))
    html = render_answer(with_safety(refusal, risk), turn=4)
    assert 'class="sep-answer' in html and 'class="sep-safety-text"' in html
    assert 'href="tel:3114"' in html and "details" in html
    urgent = safety_message(Assessment(flagged=(Category.SUICIDE,), certain=(Category.SUICIDE,)))
    assert 'class="sep-safety' in render_answer(urgent, turn=5)  # in place of an answer


def test_the_api_gives_a_refusal_its_nearest_documents(client):
    res = ask(client, {"question": "le tabac c'est mauvais quand on a une sep ?"}).json()
    assert res["refused"] and res["citations"] == []
    assert res["nearby"] and {"title", "source", "text"} <= set(res["nearby"][0])
    answered = ask(client, {"question": "la biotine a forte dose ca marche ?"}).json()
    assert answered["citations"] and answered["nearby"] == []


def test_a_lone_surrogate_is_cleaned_not_a_500(client):
    body = b'{"question": "la biotine \\ud800 a forte dose est-elle efficace ?", "id": "x\\udfff"}'
    r = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["citations"]
    assert r.json()["question"] == "la biotine \ufffd a forte dose est-elle efficace ?"


def test_a_short_question_in_english_gets_the_not_french_reply(client):
    res = ask(client, {"question": "Does biotin work?"}).json()
    assert res["refused"] and "uniquement en français" in res["answer"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("safety", "s" * 100_000),
        ("chunk_ids", ["c" * 100_000]),
        ("chunk_ids", ["c"] * 21),
        ("question", "q" * 2_001),
        ("history", [{"role": "user", "content": "x"}] * 21),
    ],
)
def test_every_field_of_a_vote_has_a_bound(client, store, field, value):
    before = len(list(store.all()))
    r = client.post(
        "/api/feedback", json={**{"vote": "up", "question": "q", "answer": "a"}, field: value}
    )
    assert r.status_code == 422 and field in r.json()["detail"]
    assert len(list(store.all())) == before


def test_health_says_ok_and_checks_the_index_and_the_store(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["index"].startswith("v")
    assert health["checks"] == {"index": "ok", "feedback": "ok", "calibration": "ok"}
    assert health["problems"] == []


def test_a_refusal_fitted_for_another_corpus_is_served_but_health_says_so(store):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from chatbot.engine import Engine
    from chatbot.serve.web import create_app
    from tests.helpers import FAKE_CALIBRATION

    engine = fake_engine()
    other = replace(FAKE_CALIBRATION, manifest={"index": {"corpus_sha256": "0" * 64}})
    engine = Engine(engine.index, engine.embedder, calibration=other)
    app = create_app(Settings(feedback_db=store.path), engine, store)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        health = c.get("/api/health").json()
        answer = c.post("/api/ask", json={"question": "la biotine a forte dose ca marche ?"})
    assert health["status"] == "degraded" and health["checks"]["calibration"] == "à réajuster"
    assert "chatbot calibrate" in health["problems"][0]
    assert answer.status_code == 200


def test_an_index_found_corrupt_after_start_stops_answers_in_french(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from chatbot.engine import Engine
    from chatbot.index import store as index_module
    from chatbot.index.fake import FakeEmbedder
    from chatbot.index.store import load_index, save_index
    from chatbot.serve.web import create_app
    from tests.helpers import FAKE_CALIBRATION

    save_index(fake_engine().index, tmp_path / "ix")
    vectors = tmp_path / "ix" / "passages.faiss"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    monkeypatch.setattr(index_module, "HASH_AT_LOAD_BYTES", 0)  # as a large index: hashed later
    index = load_index(tmp_path / "ix", FakeEmbedder(), corpus_digest="test")
    assert index.integrity is not None
    index.integrity.wait(timeout=30)
    engine = Engine(index, FakeEmbedder(), Settings(), calibration=FAKE_CALIBRATION)
    app = create_app(
        Settings(feedback_db=tmp_path / "fb.sqlite3"),
        engine,
        FeedbackStore(tmp_path / "fb.sqlite3"),
    )
    with TestClient(app, base_url="http://127.0.0.1") as c:
        health = c.get("/api/health")
        assert health.status_code == 503 and health.json()["status"] == "error"
        assert "passages.faiss" in health.json()["problems"][0]
        r = ask(c, {"question": "la biotine est-elle efficace ?"})
        assert (
            r.status_code == 503
            and r.json()["code"] == "index"
            and "indisponible" in r.json()["detail"]
        )


def test_a_vote_the_store_cannot_write_gets_a_french_message_in_the_chat(tmp_path):
    from chatbot.errors import FeedbackUnavailable
    from chatbot.serve.chat import ChatPage

    class FullDisk(FeedbackStore):
        def add(self, fb):
            raise FeedbackUnavailable("disque plein")

    page = ChatPage(fake_engine(), FullDisk(tmp_path / "fb.sqlite3"))
    record = {
        "question": "q",
        "history": [],
        "answer": "a",
        "chunk_ids": [],
        "safety": None,
        "refused": False,
    }

    class Like:
        index, liked = 1, True

    _, vote_id, status = page.vote({1: record}, Like())  # type: ignore[arg-type]
    assert vote_id is None and "n'a pas pu être enregistré" in status


def test_a_document_quoted_with_markdown_or_latex_signs_is_shown_as_written():
    from chatbot.serve.chat import render_answer, render_question

    quote = "La vitamine D : $$10 000$$ unités, *selon* [ici](x)."
    doc = Document(doc_id="signes", source="signes.md", title="Signes", text=quote)
    answer = fake_engine(docs=[doc]).ask("la vitamine D combien d'unités ?")
    assert answer.citations and quote in render_answer(answer, turn=2)
    assert "$$E=mc^2$$ *gras*" in render_question("$$E=mc^2$$ *gras*")
