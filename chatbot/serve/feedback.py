"""The patients' 👍/👎 on answers, kept in SQLite, and their export as candidate questions.

Each vote is committed as soon as it is given (rollback journal, synchronous=FULL), so a crash
of the app loses nothing already acknowledged. Only what the team needs to review an answer is
stored: the conversation, the answer, the cited chunk ids, the index version and the time —
never an IP address, a session id or anything else about the person.

A store that cannot write (disk full, read-only, folder gone) raises FeedbackUnavailable and
remembers why (`problem`), so that the app says so on /api/health and keeps answering. No file
of the store is memory-mapped: a WAL's `-shm` file truncated under the app killed it (SIGBUS).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chatbot.errors import FeedbackError, FeedbackUnavailable

Vote = Literal["up", "down"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,        -- UTC, ISO 8601
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    question TEXT NOT NULL,
    history TEXT NOT NULL,           -- JSON list of earlier turns, oldest first
    answer TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,         -- JSON list, in citation order
    safety TEXT,                     -- safety rule that answered, else NULL
    refused INTEGER NOT NULL,
    index_version TEXT NOT NULL,     -- which built index answered (see index_version())
    comment TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class Feedback:
    """One vote on one answer."""

    vote: Vote
    question: str
    answer: str
    chunk_ids: tuple[str, ...] = ()
    history: list[dict[str, str]] = field(default_factory=list)
    safety: str | None = None
    refused: bool = False
    index_version: str = ""
    comment: str = ""
    created_at: str = ""  # filled in by the store
    id: int | None = None


def index_version(manifest: dict[str, Any]) -> str:
    """A short, stable name for a built index: format, corpus digest and build time."""
    corpus = str(manifest.get("corpus_sha256") or "")[:12]
    return f"v{manifest.get('format_version', '?')}:{corpus}:{manifest.get('built_at', '')}"


class FeedbackStore:
    """Thread-safe access to the feedback database; one connection, one write at a time."""

    # What one vote keeps: a vote is about one answer, and the team reviews it with the turns
    # just before (a follow-up looks three questions back at most).
    MAX_COMMENT_CHARS = 2000
    MAX_TEXT_CHARS = 10_000
    MAX_HISTORY_TURNS = 6
    MAX_CHUNK_IDS = 20

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.problem: str | None = None  # why the last write failed; None once one succeeds
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # A rollback journal, not WAL: WAL's shared-memory file is memory-mapped, and a
            # fault on it (truncated, its disk gone) is a SIGBUS that kills the whole app.
            self._db.execute("PRAGMA journal_mode=DELETE")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA mmap_size=0")
            self._db.execute("PRAGMA busy_timeout=5000")  # `feedback export` may be reading
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackUnavailable(f"base d'avis inutilisable : {self.path} ({exc})") from exc

    def add(self, fb: Feedback) -> int:
        """Store a vote now (committed before returning); returns its id."""
        if fb.vote not in ("up", "down"):
            raise FeedbackError(f"vote must be 'up' or 'down', got {fb.vote!r}")
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        cut = self.MAX_TEXT_CHARS
        history = [
            {"role": t.get("role", ""), "content": t.get("content", "")[:cut]}
            for t in fb.history[-self.MAX_HISTORY_TURNS :]
        ]
        row = (
            created,
            fb.vote,
            fb.question[:cut],
            json.dumps(history, ensure_ascii=False),
            fb.answer[:cut],
            json.dumps([c[:200] for c in fb.chunk_ids[: self.MAX_CHUNK_IDS]]),
            fb.safety[:40] if fb.safety else fb.safety,
            int(fb.refused),
            fb.index_version[:200],
            fb.comment[: self.MAX_COMMENT_CHARS],
        )
        cur = self._write(
            "INSERT INTO feedback (created_at, vote, question, history, answer, chunk_ids,"
            " safety, refused, index_version, comment) VALUES (?,?,?,?,?,?,?,?,?,?)",
            row,
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def set_comment(self, feedback_id: int, comment: str) -> None:
        """Attach the optional comment to a vote already stored."""
        cur = self._write(
            "UPDATE feedback SET comment = ? WHERE id = ?",
            (comment[: self.MAX_COMMENT_CHARS], feedback_id),
        )
        if cur.rowcount != 1:
            raise FeedbackError(f"unknown feedback id {feedback_id}")

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        with self._lock:
            try:
                cur = self._db.execute(sql, params)
            except sqlite3.Error as exc:
                self.problem = f"écriture impossible dans {self.path} ({exc})"
                raise FeedbackUnavailable(self.problem) from exc
            self.problem = None
            return cur

    def all(self, vote: Vote | None = None) -> Iterator[Feedback]:
        query = "SELECT * FROM feedback" + (" WHERE vote = ?" if vote else "") + " ORDER BY id"
        with self._lock:
            rows = self._db.execute(query, (vote,) if vote else ()).fetchall()
        for r in rows:
            yield Feedback(
                id=r[0],
                created_at=r[1],
                vote=r[2],
                question=r[3],
                history=json.loads(r[4]),
                answer=r[5],
                chunk_ids=tuple(json.loads(r[6])),
                safety=r[7],
                refused=bool(r[8]),
                index_version=r[9],
                comment=r[10],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def candidate_question(fb: Feedback) -> dict[str, Any]:
    """A 👎 answer as a question of the shared question format, to be reviewed by the team.

    `answerable`, `evidence` and `facts` cannot be known from a vote: they are left for the
    reviewer (answerable defaults to true, evidence and facts empty), and what the patient
    saw is kept under `review` so the reviewer can judge it.
    """
    return {
        "id": f"feedback-{fb.id}",
        "question": fb.question,
        "history": fb.history,
        "kind": "followup" if fb.history else "feedback",
        "answerable": True,
        "evidence": [],
        "facts": [],
        "review": {
            "answer": fb.answer,
            "comment": fb.comment,
            "chunk_ids": list(fb.chunk_ids),
            "refused": fb.refused,
            "safety": fb.safety,
            "index_version": fb.index_version,
            "created_at": fb.created_at,
        },
    }


def export_downvotes(store: FeedbackStore, out: Path) -> int:
    """Write every 👎 answer as a candidate question (JSON Lines); returns how many."""
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for fb in store.all("down"):
            f.write(json.dumps(candidate_question(fb), ensure_ascii=False) + "\n")
            n += 1
    return n
