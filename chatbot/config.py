"""One place for the settings, with commented defaults.

A few `CHATBOT_*` environment variables and the CLI flags override them; nothing else does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_cache() -> Path:
    # Model weights are generated files: they live outside git, in the user's cache.
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sep-chatbot"


@dataclass(frozen=True)
class Settings:
    # --- where things are -------------------------------------------------------------
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "embeddings"
    cache_dir: Path = field(default_factory=_default_cache)  # assembled embedding model

    # --- chunking (sizes in the embedding model's tokens) ------------------------------
    # 300 tokens + title + "passage: " stays under e5's 512-token window; on the question set
    # 300 beat 120/160/220/400 on recall@5 and MRR (README, "Choosing the numbers").
    chunk_tokens: int = 300
    chunk_overlap_tokens: int = 60  # so a sentence cut at a border is whole in one chunk

    # --- retrieval ------------------------------------------------------------------------
    top_k: int = 10  # passages returned (the result format asks for at least 10)
    # Depth of the dense, lexical and sentence lists before fusion: 60 put one more relevant
    # passage in the top 5 than 40 did (recall@5 0.959 -> 0.969); 80 and 100 changed nothing.
    candidates: int = 60
    rrf_k: int = 10  # reciprocal-rank-fusion constant; 10 beat 30 and 60 on the question set

    # --- answer ---------------------------------------------------------------------------
    answer_passages: int = 4  # passages whose sentences may be quoted
    max_sentences: int = 4  # sentences quoted at most in one answer
    sentence_margin: float = 0.04  # quote further sentences scoring this close to the best

    # --- input limits -------------------------------------------------------------------
    max_question_chars: int = 1000  # longer questions are refused with a message, not cut
    # Earlier turns a question may come with, and characters in one: a follow-up looks three
    # turns back at most, so 50 is a long conversation, not a limit a patient meets.
    max_history_turns: int = 50
    max_turn_chars: int = 20_000

    # --- app ------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    # Sites allowed to embed the widget and call the API from a browser, e.g.
    # ("https://www.asso-sep.fr",); every other origin is refused. Empty: the chat's own only.
    allowed_origins: tuple[str, ...] = ()
    # Patients' votes; outside git, kept across restarts and upgrades.
    feedback_db: Path = PROJECT_ROOT / "var" / "feedback.sqlite3"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then `CHATBOT_*` variables, then explicit overrides (CLI flags)."""
        s = cls()
        env = {
            "corpus_dir": os.environ.get("CHATBOT_CORPUS"),
            "index_dir": os.environ.get("CHATBOT_INDEX"),
            "cache_dir": os.environ.get("CHATBOT_CACHE"),
            "host": os.environ.get("CHATBOT_HOST"),
            "port": os.environ.get("CHATBOT_PORT"),
            "feedback_db": os.environ.get("CHATBOT_FEEDBACK_DB"),
        }
        for name, value in env.items():
            if value:
                s = replace(s, **{name: type(getattr(s, name))(value)})
        origins = os.environ.get("CHATBOT_ALLOWED_ORIGINS")
        if origins:  # comma- or space-separated, e.g. "https://www.asso.fr,https://asso.fr"
            s = replace(s, allowed_origins=tuple(o.rstrip("/") for o in origins.replace(",", " ").split()))
        clean: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return replace(s, **clean)
