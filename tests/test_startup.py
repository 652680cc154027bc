"""`python app.py` with a broken index: one French line, never a traceback; the app refuses
to start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    return [line for line in stderr.splitlines() if line.strip() and "\r" not in line and "it/s]" not in line]


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
        env=app_env(CHATBOT_INDEX=str(index_copy), CHATBOT_PORT=str(free_port()),
                    CHATBOT_FEEDBACK_DB=str(tmp_path / "fb.sqlite3")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    lines = messages(proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("Erreur : ") and words in lines[0] and "make index" in lines[0]
