"""Votes are stored at once, survive a crash, keep nothing personal, and export as questions."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from chatbot import cli
from chatbot.evaluation.questions import read_questions
from chatbot.serve.feedback import Feedback, FeedbackStore, candidate_question

ROOT = Path(__file__).resolve().parent.parent


def vote(kind: str = "down", **kw: object) -> Feedback:
    fields: dict[str, object] = {
        "vote": kind,
        "question": "et ses effets secondaires ?",
        "history": [
            {"role": "user", "content": "c quoi l'ocrelizumab"},
            {"role": "assistant", "content": "…"},
        ],
        "answer": "Voici ce que disent les documents de l'association : … [1]",
        "chunk_ids": ("ocrelizumab#1",),
        "index_version": "v1:abc:2026",
    }
    fields.update(kw)
    return Feedback(**fields)  # type: ignore[arg-type]


def test_a_vote_and_its_comment_are_stored_with_the_answer_and_nothing_personal(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    vid = store.add(vote("up"))
    store.set_comment(vid, "très clair, merci")
    (fb,) = store.all()
    assert (fb.vote, fb.comment, fb.chunk_ids, fb.index_version) == (
        "up",
        "très clair, merci",
        ("ocrelizumab#1",),
        "v1:abc:2026",
    )
    assert fb.created_at.endswith("Z")
    columns = {
        r[1]
        for r in sqlite3.connect(tmp_path / "fb.sqlite3").execute("PRAGMA table_info(feedback)")
    }
    assert not columns & {"ip", "ip_address", "user_agent", "session", "session_hash", "user"}


def test_a_vote_survives_the_app_being_killed_right_after_it(tmp_path):
    db = tmp_path / "fb.sqlite3"
    code = (
        "import os, signal, sys\n"
        "from chatbot.serve.feedback import Feedback, FeedbackStore\n"
        "s = FeedbackStore(sys.argv[1])\n"
        "s.add(Feedback(vote='down', question='q', answer='a'))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(db)], cwd=ROOT, env={**os.environ}, check=False
    )
    assert proc.returncode == -signal.SIGKILL
    assert [f.question for f in FeedbackStore(db).all()] == ["q"]


def test_export_writes_the_downvotes_as_candidate_questions_the_evaluation_reads(tmp_path):
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    store.add(vote("up", question="question appréciée"))
    down = store.add(vote("down"))
    store.set_comment(down, "ne répond pas")
    store.close()
    out = tmp_path / "candidates.jsonl"
    assert cli.main(["feedback", "export", "--db", str(db), "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["question"] for x in lines] == ["et ses effets secondaires ?"]
    assert lines[0]["kind"] == "followup" and lines[0]["review"]["comment"] == "ne répond pas"
    (q,) = read_questions(out)
    assert q.id == f"feedback-{down}" and q.history[0]["content"] == "c quoi l'ocrelizumab"


def test_candidate_of_a_first_question_is_kind_feedback():
    assert candidate_question(vote(history=[], id=7))["kind"] == "feedback"


def test_a_folder_that_cannot_be_created_is_one_clear_error(tmp_path):
    import pytest

    from chatbot.errors import FeedbackUnavailable

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(FeedbackUnavailable) as err:
        FeedbackStore(blocker / "var" / "feedback.sqlite3")
    assert "not-a-folder" in str(err.value) and "\n" not in str(err.value)


def test_a_vote_keeps_bounded_fields_whatever_it_is_given(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    history = [{"role": "user", "content": f"tour {k} " + "x" * 50_000} for k in range(40)]
    store.add(
        vote(
            safety="s" * 5_000_000,
            chunk_ids=tuple("c" * 100_000 for _ in range(50)),
            history=history,
            answer="a" * 1_000_000,
        )
    )
    (fb,) = store.all()
    assert len(fb.safety or "") == 40 and len(fb.answer) == FeedbackStore.MAX_TEXT_CHARS
    assert len(fb.chunk_ids) == 20 and all(len(c) == 200 for c in fb.chunk_ids)
    assert [t["content"][:7] for t in fb.history] == [f"tour {k}" for k in range(34, 40)]
    assert (tmp_path / "fb.sqlite3").stat().st_size < 200_000


def test_store_files_cut_under_the_app_fail_a_vote_and_never_kill_the_process(tmp_path):
    # With a write-ahead log, truncating its memory-mapped -shm file killed the app (SIGBUS).
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from chatbot.errors import FeedbackError\n"
        "from chatbot.serve.feedback import Feedback, FeedbackStore\n"
        "s = FeedbackStore(Path(sys.argv[1]) / 'fb.sqlite3')\n"
        "s.add(Feedback(vote='down', question='q', answer='a'))\n"
        "for p in Path(sys.argv[1]).iterdir(): os.truncate(p, 0)\n"
        "try:\n"
        "    s.add(Feedback(vote='down', question='q', answer='a'))\n"
        "except FeedbackError as exc:\n"
        "    print('refused:', exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
