"""A second deployment — another association, another disease, three documents — end to end.

Switching deployment means switching the profile folder: the test builds one from
tests/profiles/diabete (its deployment.toml, corpus and development questions) and the French
word lists of the main profile, then runs the `chatbot` command on it, as another association
would: index, calibrate on its own questions, ask. No code changes between the two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
SECOND = ROOT / "tests" / "profiles" / "diabete"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("diabete")
    profile = base / "profile"
    shutil.copytree(ROOT / "profile" / "lang", profile / "lang")
    (profile / "safety").mkdir()
    shutil.copy(
        ROOT / "profile" / "safety" / "patterns.tsv", profile / "safety"
    )  # no learned detector
    shutil.copy(ROOT / "profile" / "ranker.json", profile)  # general: fitted on PIAF
    shutil.copy(SECOND / "deployment.toml", profile)
    env = {
        **os.environ,
        "CHATBOT_PROFILE": str(profile),
        "CHATBOT_INDEX": str(base / "index"),
        "CHATBOT_CORPUS": str(SECOND / "corpus"),
        "CHATBOT_FEEDBACK_DB": str(base / "votes.sqlite3"),
        "HF_HUB_OFFLINE": "1",
    }

    def chatbot(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "chatbot.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode in (0, 1), done.stderr[-2000:]
        return done

    chatbot("index")
    chatbot("calibrate", "--questions", str(SECOND / "questions.jsonl"))
    return {"chatbot": chatbot, "profile": profile}


def _ask(deployment: dict[str, Any], question: str) -> dict[str, Any]:
    return dict(json.loads(deployment["chatbot"]("ask", question, "--json").stdout))


def test_its_own_documents_answer_with_citations(deployment):
    result = _ask(deployment, "je dois prendre combien de sucre pendant une hypo ?")
    assert not result["refused"]
    assert "quinze grammes" in result["answer"]
    assert result["citations"][0]["source"] == "hypoglycemie.md"


def test_its_own_names_are_in_what_the_patient_reads(deployment):
    hello = _ask(deployment, "bonjour")["answer"]
    assert "diabète" in hello and "sclérose" not in hello
    refused = _ask(deployment, "le cannabis aide contre le diabete ?")
    assert refused["refused"] and "Diabète Ensemble" in refused["answer"]


def test_its_calibration_is_bound_to_its_own_index(deployment):
    calibration = json.loads(
        (deployment["profile"] / "calibration.json").read_text(encoding="utf-8")
    )
    index_manifest = json.loads(
        (deployment["profile"].parent / "index" / "manifest.json").read_text(encoding="utf-8")
    )
    assert calibration["manifest"]["index"]["corpus_sha256"] == index_manifest["corpus_sha256"]
    assert "questions.jsonl" in " ".join(calibration["manifest"]["fitted_on"])


def test_the_explicit_safety_patterns_and_its_specialist_hold_there_too(deployment):
    suicide = _ask(deployment, "j'ai des idees noires en ce moment")
    assert suicide["safety"] == "suicide" and "3114" in suicide["answer"]
    decision = _ask(deployment, "j'arrete mon traitement la semaine prochaine")
    assert decision["safety"] == "treatment_decision" and "diabétologue" in decision["answer"]
