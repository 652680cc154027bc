"""One policy for every route, against the real HTTP server (uvicorn on 127.0.0.1, fake engine).

What an attacker or a clumsy client would try from outside: huge and chunked bodies, foreign
Host and Origin headers, uploads, Gradio routes the chat does not use, invalid UTF-8, a flood
of questions or votes, a full queue. Every refusal is a French message with a stable code.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from chatbot.config import Settings  # noqa: E402
from chatbot.serve.feedback import FeedbackStore  # noqa: E402
from tests.helpers import fake_engine  # noqa: E402
from tests.webserver import live_server  # noqa: E402

pytestmark = pytest.mark.server

SITE = "https://www.asso-sep.test"
EVIL = "http://evil.example"
MB = 1024 * 1024
QUESTION = {"question": "la biotine à forte dose est-elle efficace ?", "history": []}
VOTE = {"vote": "up", "question": "q ?", "answer": "a [1]", "chunk_ids": ["biotine#0"]}


def serve(tmp: Path, engine: Any = None, **settings: Any) -> Any:
    from chatbot.serve.web import create_app

    s = Settings(allowed_origins=(SITE,), feedback_db=tmp / "feedback.sqlite3", **settings)
    return live_server(create_app(s, engine or fake_engine(), FeedbackStore(s.feedback_db)))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(tmp_path_factory.mktemp("guard"), allowed_hosts=("chat.asso.test",)) as base:
        yield base


def check_refusal(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["detail"][:1].isupper(), body  # a French sentence
    return body


# --- body size ---------------------------------------------------------------------------------
def raw_post(base: str, path: str, *, chunked: bool, total: int = 30 * MB) -> tuple[int, str, int]:
    """POST `total` bytes of body (declared or chunked), stopping as soon as the server answers
    or stops reading; returns (status, body, bytes sent)."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    sock = socket.create_connection((host, port), timeout=10)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{length}\r\n\r\n".encode()
    )
    block, sent = b"x" * (64 * 1024), 0
    sock.settimeout(2)  # a send that blocks this long: the server has stopped reading
    while sent < total:
        if select.select([sock], [], [], 0)[0]:
            break  # answered before the body was whole
        data = b"%x\r\n%s\r\n" % (len(block), block) if chunked else block
        try:
            sock.sendall(data)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            break
        sent += len(block)
    sock.settimeout(10)
    response = b""
    try:
        while b"\r\n\r\n" not in response or len(response.split(b"\r\n\r\n", 1)[1]) < int(
            response.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0]
        ):
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    except (IndexError, ValueError):  # no Content-Length yet
        response += sock.recv(65536)
    except ConnectionResetError:
        pass
    sock.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode("utf-8", "replace"), sent


ROUTES = [
    "/api/ask",
    "/api/feedback",
    "/gradio_api/queue/join",
    "/embed/gradio_api/queue/join",
    "/gradio_api/call/ask",
    "/embed/gradio_api/call/ask",
]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_30_mb_body_is_refused_on_every_route_without_being_read_whole(url, chunked):
    for path in ROUTES:
        status, body, sent = raw_post(url, path, chunked=chunked)
        assert status == 413, (path, status, body)
        assert json.loads(body)["code"] == "body_too_large" and "volumineuse" in body
        # Sent, not read: the socket buffers take a few MB (10 at most) before a send blocks;
        # a server reading the whole body would take all 30.
        assert sent < 15 * MB, f"{path}: {sent} bytes sent before the refusal"


def test_uploads_are_off_even_for_a_small_file(url):
    for path in ("/gradio_api/upload", "/embed/gradio_api/upload"):
        r = httpx.post(url + path, files={"files": ("a.txt", b"hello")})
        check_refusal(r, 403, "upload")


def test_gradio_routes_the_chat_does_not_use_are_not_served(url):
    for method, path in [
        ("GET", "/gradio_api/file=/etc/passwd"),
        ("GET", "/monitoring"),
        ("POST", "/gradio_api/component_server"),
        ("POST", "/gradio_api/run/ask"),
        ("GET", "/api/unknown"),
    ]:
        check_refusal(httpx.request(method, url + path), 404, "not_found")
    assert httpx.get(url + "/").status_code == 200
    assert httpx.get(url + "/gradio_api/info").status_code == 200


def test_invalid_utf8_body_gets_a_french_message_with_a_code(url):
    for path in ("/api/ask", "/gradio_api/queue/join"):
        r = httpx.post(
            url + path,
            content=b'{"question": "biot\xffine"}',
            headers={"content-type": "application/json"},
        )
        check_refusal(r, 400, "encoding")


def test_a_json_body_nested_too_deep_is_refused_not_a_crash(url):
    for path in ("/api/ask", "/gradio_api/queue/join"):
        r = httpx.post(
            url + path, content=b"[" * 200_000, headers={"content-type": "application/json"}
        )
        check_refusal(r, 400, "json_invalid")


def test_a_wrong_method_is_refused_in_french(url):
    check_refusal(httpx.get(url + "/api/ask"), 405, "method")


# --- host and origin -----------------------------------------------------------------------------
def test_a_host_that_is_not_the_servers_is_refused_dns_rebinding(url):
    port = urlsplit(url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"chat.asso.test:{port}"):
        assert httpx.get(url + "/api/health", headers={"Host": host}).status_code == 200
    rebinding = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    for method, path in [("GET", "/"), ("POST", "/api/ask"), ("POST", "/gradio_api/queue/join")]:
        r = httpx.request(method, url + path, headers=rebinding, json=QUESTION)
        assert "evil.example" in check_refusal(r, 400, "host")["detail"]


def test_a_foreign_origin_is_refused_on_every_route_and_no_credentials_are_allowed(url):
    for method, path in [
        ("POST", "/api/ask"),
        ("POST", "/api/feedback"),
        ("POST", "/gradio_api/queue/join"),
        ("POST", "/embed/gradio_api/queue/join"),
        ("POST", "/gradio_api/call/ask"),
        ("POST", "/gradio_api/upload"),
        ("GET", "/gradio_api/info"),
        ("GET", "/widget.js"),
        ("GET", "/embed/"),
    ]:
        r = httpx.request(method, url + path, headers={"Origin": EVIL}, json=QUESTION)
        check_refusal(r, 403, "origin")
        assert "access-control-allow-origin" not in r.headers
    ok = httpx.post(url + "/api/ask", headers={"Origin": SITE}, json=QUESTION)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == SITE
    assert "access-control-allow-credentials" not in ok.headers


# --- limits per client ---------------------------------------------------------------------------
def test_a_flood_from_one_client_is_cut_at_its_limit_and_other_clients_are_served(tmp_path):
    # 20 questions a minute: 5 at once, then one every 3 s; 12 votes a minute: 3 at once.
    with serve(tmp_path, questions_per_minute=20, votes_per_minute=12) as base:
        flooder, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
        codes = [
            httpx.post(base + "/api/ask", json=QUESTION, headers=flooder).status_code
            for _ in range(8)
        ]
        assert codes == [200] * 5 + [429] * 3
        r = httpx.post(base + "/api/ask", json=QUESTION, headers=flooder)
        body = check_refusal(r, 429, "rate_question")
        assert int(r.headers["retry-after"]) >= 1 and "questions" in body["detail"]
        # The chat's own route counts for the same client: the queue is not a way round.
        join = {"data": ["biotine", []], "fn_index": 10, "session_hash": "abc", "event_data": None}
        check_refusal(
            httpx.post(base + "/gradio_api/queue/join", json=join, headers=flooder),
            429,
            "rate_question",
        )
        assert httpx.post(base + "/api/ask", json=QUESTION, headers=other).status_code == 200
        votes = [
            httpx.post(base + "/api/feedback", json=VOTE, headers=flooder).status_code
            for _ in range(4)
        ]
        assert votes == [200] * 3 + [429]
        assert httpx.post(base + "/api/feedback", json=VOTE, headers=other).status_code == 200


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path):
    with serve(tmp_path, questions_per_minute=8, trusted_proxies=()) as base:  # 2 at once
        for k in range(2):  # two "clients" who are one: the peer is not a trusted proxy
            assert (
                httpx.post(
                    base + "/api/ask", json=QUESTION, headers={"X-Forwarded-For": f"10.0.0.{k}"}
                ).status_code
                == 200
            )
        r = httpx.post(base + "/api/ask", json=QUESTION, headers={"X-Forwarded-For": "10.0.0.99"})
        check_refusal(r, 429, "rate_question")


class HeldEngine:
    """The fake engine, whose questions wait at a gate while `hold` is set."""

    def __init__(self) -> None:
        self.engine = fake_engine()
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Semaphore(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        if not self.gate.is_set():
            self.waiting.release()
            self.gate.wait(30)
        return self.engine.ask(*args, **kwargs)


def test_a_full_queue_answers_trop_de_demandes_at_once(tmp_path):
    held = HeldEngine()
    with serve(tmp_path, engine=held, max_queue=2, questions_per_minute=0) as base:
        held.gate.clear()
        statuses: list[int] = []
        threads = [
            threading.Thread(
                target=lambda: statuses.append(
                    httpx.post(base + "/api/ask", json=QUESTION, timeout=60).status_code
                )
            )
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        for _ in threads:
            assert held.waiting.acquire(timeout=30)  # both are with the engine
        r = httpx.post(base + "/api/ask", json=QUESTION)
        assert "Trop de demandes" in check_refusal(r, 503, "busy")["detail"]
        assert r.headers["retry-after"] == "1"
        # Gradio's queue: 8 at work and 2 waiting at most; Gradio's page shows the French text.
        joins = [
            httpx.post(base + "/gradio_api/call/ask", json={"data": ["biotine", []]})
            for _ in range(15)
        ]
        refused = [j for j in joins if j.status_code != 200]
        assert len(refused) >= 5
        for j in refused:
            assert "Trop de demandes" in check_refusal(j, 429, "busy")["detail"]
        held.gate.set()
        for t in threads:
            t.join(30)
        assert statuses == [200, 200]


# --- Gradio's API keeps the promises of /api ------------------------------------------------------
def gradio_call(base: str, data: list[Any]) -> tuple[str, Any]:
    """(event, data) of one /gradio_api/call/ask: "complete" and the record, or "error"."""
    body = json.dumps({"data": data})  # \u escapes: a lone surrogate travels as JSON allows
    headers = {"content-type": "application/json"}
    event_id = httpx.post(base + "/gradio_api/call/ask", content=body, headers=headers).json()[
        "event_id"
    ]
    text = httpx.get(base + f"/gradio_api/call/ask/{event_id}", timeout=30).text
    event = text.split("event: ", 1)[1].split("\n", 1)[0]
    return event, json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])


def test_gradio_api_refuses_a_long_history_and_shows_no_internal_error(url):
    turn = {"role": "user", "content": "x"}
    r = httpx.post(url + "/gradio_api/call/ask", json={"data": ["biotine", [turn] * 10_000]})
    check_refusal(r, 413, "body_too_large")  # 10,000 turns are over the body limit already
    event, data = gradio_call(url, ["biotine", [turn] * 51])  # one more than /api/ask takes
    assert event == "error" and "trop longue" in data["error"]
    event, data = gradio_call(url, ["biotine", "abc"])
    assert event == "error" and "mal formé" in data["error"] and "attribute" not in data["error"]
    event, data = gradio_call(url, ["la biotine \ud800 est-elle efficace ?", []])
    assert event == "complete" and data[0]["citations"]


def test_an_unexpected_error_is_a_french_message_never_the_exception(tmp_path):
    class Broken(HeldEngine):
        def ask(self, *args: Any, **kwargs: Any) -> Any:
            if args and "panne" in str(args[0]):
                raise RuntimeError("secret internal detail")
            return self.engine.ask(*args, **kwargs)

    with serve(tmp_path, engine=Broken()) as base:
        r = httpx.post(base + "/api/ask", json={"question": "panne ?"})
        assert "secret" not in r.text
        check_refusal(r, 500, "internal")
        event, data = gradio_call(base, ["panne ?", []])
        assert (
            event == "error"
            and "erreur interne" in data["error"]
            and "secret" not in json.dumps(data)
        )


# --- storage faults -------------------------------------------------------------------------------
@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder and its files made read-only for this process, root included (chattr +i)."""
    import subprocess

    paths = [folder, *folder.iterdir()]
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    else:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        with pytest.raises(OSError):  # the fault is real before anything is tested
            (folder / "probe").write_text("x")
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        else:
            for p in paths:
                p.chmod(0o755 if p.is_dir() else 0o644)


def test_read_only_storage_degrades_votes_and_the_chat_keeps_answering(tmp_path):
    with serve(tmp_path) as base:
        assert httpx.post(base + "/api/feedback", json=VOTE).status_code == 200
        with read_only(tmp_path):
            r = httpx.post(base + "/api/feedback", json=VOTE)
            assert (
                "n'a pas pu être enregistré" in check_refusal(r, 503, "feedback_failed")["detail"]
            )
            health = httpx.get(base + "/api/health").json()
            assert health["status"] == "degraded" and health["checks"]["feedback"] == "indisponible"
            assert health["problems"] and "feedback.sqlite3" in health["problems"][0]
            assert httpx.post(base + "/api/ask", json=QUESTION).json()["citations"]
        assert httpx.post(base + "/api/feedback", json=VOTE).status_code == 200
        assert httpx.get(base + "/api/health").json()["status"] == "ok"


def test_a_store_file_cut_under_the_server_is_a_refused_vote_not_a_crash(tmp_path):
    with serve(tmp_path) as base:
        assert httpx.post(base + "/api/feedback", json=VOTE).status_code == 200
        for name in os.listdir(tmp_path):
            os.truncate(tmp_path / name, 0)
        r = httpx.post(base + "/api/feedback", json=VOTE)
        assert r.status_code in (200, 503)  # an emptied file may be written afresh
        assert httpx.post(base + "/api/ask", json=QUESTION).status_code == 200


def test_the_rate_limit_refills_at_its_rate_per_client():
    from chatbot.serve.guard import RateLimiter

    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # 15 at once, then one a second
    assert [limiter.wait_s("a") for _ in range(15)] == [0.0] * 15
    assert limiter.wait_s("a") == pytest.approx(1.0)
    assert limiter.wait_s("b") == 0.0  # another client has its own bucket
    now[0] += 1.0
    assert limiter.wait_s("a") == 0.0 and limiter.wait_s("a") > 0
    assert RateLimiter(0).wait_s("a") == 0.0  # 0: no limit
