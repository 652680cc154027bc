"""One place for the settings, with commented defaults.

A few `CHATBOT_*` environment variables and the CLI flags override them; nothing else does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The deployment's knowledge as data: word lists with their sources, the safety patterns and
# detector, the refusal calibration. Another association or disease: another folder.
PROFILE_DIR = Path(os.environ.get("CHATBOT_PROFILE") or PROJECT_ROOT / "profile")


def _default_cache() -> Path:
    # Model weights are generated files: they live outside git, in the user's cache.
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sep-chatbot"


def _default_layers() -> Path | None:
    folder = PROJECT_ROOT / "models" / "e5-small-piaf"
    return folder if (folder / "manifest.json").is_file() else None


@dataclass(frozen=True)
class Settings:
    # --- where things are -------------------------------------------------------------
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "embeddings"
    cache_dir: Path = field(default_factory=_default_cache)  # assembled embedding model
    # e5-small's top layers fine-tuned on PIAF (chatbot/build/finetune.py, `make finetune`), put over
    # the base model at setup; None serves the base model.
    embedding_layers: Path | None = field(default_factory=lambda: _default_layers())

    # --- chunking (sizes in the embedding model's tokens) ------------------------------
    # 300 tokens + title + "passage: " stays under e5's 512-token window. The retrieval knobs
    # below were chosen by earlier versions on the first question set, now eval/dev.jsonl and
    # eval/heldback.jsonl: 300 beat 120/160/220/400 on recall@5 and MRR.
    chunk_tokens: int = 300
    chunk_overlap_tokens: int = 60  # so a sentence cut at a border is whole in one chunk

    # --- retrieval ------------------------------------------------------------------------
    top_k: int = 10  # passages returned (the result format asks for at least 10)
    # Depth of the dense, lexical and sentence lists before fusion: 60 put more relevant
    # passages in the top 5 than 40; 80 and 100 changed nothing.
    candidates: int = 60
    rrf_k: int = 10  # reciprocal-rank-fusion constant; 10 beat 30 and 60
    # Weights of the dense, lexical and best-sentence rankings in the fusion: the lexical one
    # counts twice.
    fusion_weights: tuple[float, float, float] = (1.0, 2.0, 1.0)
    # A follow-up's subject as a fourth ranking, of the documents whose title names it: 0.25 to
    # 1 gave the same ranks on the follow-ups, 0.5 the best citation precision.
    subject_weight: float = 0.5

    # --- answer ---------------------------------------------------------------------------
    answer_passages: int = 4  # passages whose sentences may be quoted
    max_sentences: int = 4  # sentences quoted at most in one answer
    # The ranker scores sentences in log-odds of holding the answer (rank.py). Chosen on 1,000
    # of PIAF's training questions (`chatbot fit choice`), not on the evaluation sets: the
    # setting whose answers hold the answer span most often (0.799; first piece 0.674) with
    # answers no longer than before (median 533 characters, 544 before).
    sentence_margin: float = 2.0  # quote further sentences scoring this close to the best
    passage_margin: float = 3.0  # the best passage's next best sentence, within this margin
    with_next: bool = False  # quote the sentence after the best one too
    # A sentence the previous answer already gave, in log-odds: PIAF has no conversations to
    # learn it from.
    repeat_penalty: float = 2.0

    # A refusal names the documents nearest the question, each by one passage: where to read
    # on when the refusal is wrong. Of the answerable validation questions
    # refused (211, eleven sets), the answer's document is the first for 0.74, among the first
    # two for 0.86, the first three for 0.94 (docs/history.md, 2026-12-04).
    nearby_documents: int = 3

    # The refusal's weights, fitted for one index (`chatbot calibrate`, support.py).
    calibration: Path = PROFILE_DIR / "calibration.json"
    # What to quote: the question's vector corrected for this corpus (`chatbot fit adapter`,
    # answer/adapter.py); None quotes in the ranker's order.
    quote_adapter: Path | None = PROFILE_DIR / "quote_adapter.json"

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

    # --- what one client may ask of the server (chatbot/serve/guard.py) ------------------------
    # Host names the server answers to, besides its listen address and localhost: the public
    # name behind a reverse proxy. Any other Host header is refused (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    # Peers whose X-Forwarded-For / -Proto are believed: the reverse proxy on this machine.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    # Request bodies, counted on the bytes read (chunked ones too): a 1,000-character question
    # with a 50-turn history fits ten times over, a flood does not.
    max_body_bytes: int = 256 * 1024
    # Per client IP, sustained rate, with a quarter of it at once (chatbot/serve/guard.py): a patient
    # asks a question every ten seconds at most, an office behind one address a few more;
    # 0 turns a limit off.
    questions_per_minute: int = 60
    votes_per_minute: int = 30
    # Questions waiting for the engine, per route (HTTP API, each chat page's queue): beyond,
    # « trop de demandes » at once rather than an answer minutes late. 64 is 3 s of work.
    max_queue: int = 64

    def embedder(self) -> Any:
        """The embedding model these settings name (loaded on first use, never downloaded)."""
        from chatbot.index.embed import load_embedder

        return load_embedder(self.cache_dir, layers=self.embedding_layers)

    def weights_sha256(self) -> str:
        """The sha256 of the embedding model's weights, as an index manifest records it."""
        from chatbot.index.model_folder import WEIGHTS_SHA256, TunedLayers

        return (
            TunedLayers(self.embedding_layers).weights_sha256
            if self.embedding_layers
            else WEIGHTS_SHA256
        )

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
            "calibration": os.environ.get("CHATBOT_CALIBRATION"),
            "questions_per_minute": os.environ.get("CHATBOT_QUESTIONS_PER_MINUTE"),
            "votes_per_minute": os.environ.get("CHATBOT_VOTES_PER_MINUTE"),
            "max_queue": os.environ.get("CHATBOT_MAX_QUEUE"),
        }
        for name, value in env.items():
            if value:
                s = replace(s, **{name: type(getattr(s, name))(value)})
        adapter = os.environ.get("CHATBOT_QUOTE_ADAPTER")
        if adapter is not None:  # empty: none
            s = replace(s, quote_adapter=Path(adapter) if adapter else None)
        layers = os.environ.get("CHATBOT_EMBEDDING_LAYERS")
        if layers is not None:  # empty: the base model
            s = replace(s, embedding_layers=Path(layers) if layers else None)
        origins = os.environ.get("CHATBOT_ALLOWED_ORIGINS")
        if origins:  # comma- or space-separated, e.g. "https://www.asso.fr,https://asso.fr"
            s = replace(
                s, allowed_origins=tuple(o.rstrip("/") for o in origins.replace(",", " ").split())
            )
        hosts = os.environ.get("CHATBOT_ALLOWED_HOSTS")
        if hosts:  # comma- or space-separated, e.g. "chatbot.asso-sep.fr"
            s = replace(s, allowed_hosts=tuple(hosts.replace(",", " ").split()))
        proxies = os.environ.get("CHATBOT_TRUSTED_PROXIES")
        if proxies is not None:  # comma- or space-separated; empty: no proxy is trusted
            s = replace(s, trusted_proxies=tuple(proxies.replace(",", " ").split()))
        clean: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return replace(s, **clean)
