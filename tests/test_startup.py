"""`python app.py` with a broken index or an unusable feedback path: one French line, never a
traceback; the app refuses to start (index) or serves without votes (feedback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chatbot.config import Settings
from tests.webserver import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def app_env(**variables: str) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "CHATBOT_HOST": "127.0.0.1",
        **variables,
    }


def messages(stderr: str) -> list[str]:
    """What the app said, without progress bars (\\r-redrawn lines)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and "\r" not in line and "it/s]" not in line
    ]


@pytest.fixture
def index_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "embeddings"
    shutil.copytree(Settings.from_env().index_dir, copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("truncate", "sentences.npy fait"),
        ("manifest_list", "Manifeste mal formé"),
    ],
)
def test_a_damaged_index_stops_the_app_with_one_french_line(index_copy, tmp_path, damage, words):
    if damage == "truncate":
        path = index_copy / "sentences.npy"
        path.write_bytes(path.read_bytes()[:1000])
    else:
        (index_copy / "manifest.json").write_text("[1, 2]")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env=app_env(
            CHATBOT_INDEX=str(index_copy),
            CHATBOT_PORT=str(free_port()),
            CHATBOT_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"),
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    lines = messages(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("Erreur : ") and words in lines[0] and "make index" in lines[0]


def test_an_unusable_feedback_path_gives_one_line_and_the_chat_answers(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        env=app_env(CHATBOT_PORT=str(port), CHATBOT_FEEDBACK_DB=str(blocker / "feedback.sqlite3")),
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (
                f"app.py exited: {proc.stderr.read() if proc.stderr else ''}"
            )
            try:
                health = httpx.get(base + "/api/health", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "app.py did not start in 120 s"
                time.sleep(0.5)
        body = health.json()
        assert health.status_code == 200 and body["status"] == "degraded"
        assert body["checks"]["feedback"] == "indisponible"
        assert (
            httpx.post(
                base + "/api/ask", json={"question": "la biotine est-elle efficace ?"}
            ).status_code
            == 200
        )
        r = httpx.post(base + "/api/feedback", json={"vote": "up", "question": "q", "answer": "a"})
        assert r.status_code == 503 and "n'a pas pu être enregistré" in r.json()["detail"]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    lines = messages(stderr)
    assert "Traceback" not in stderr, stderr
    assert [line for line in lines if "Avis désactivés" in line] == lines[:1]
    assert "a-file" in lines[0]
