"""Fitting the models that read a whole message (chatbot/answer/about.py): `chatbot fit about`,
`chatbot fit told`.

- *About the assistant.* Positives and look-alikes (« un robot de rééducation, ça aide ? ») are
  profile/about/bank_train.jsonl, written by helpers for this purpose — messages alone, and
  messages that follow a first question of the conversation (`first`), read alone as the engine
  reads them: « c'est qui qui le fabrique ? » after a question on a medicine is no question
  about the assistant, « vous êtes qui ? » after one on a treatment is; the development questions
  are added as ordinary messages, with the risk bank's training messages (a patient asking for
  someone to talk to is no question about the assistant) and PIAF's first training questions
  (« qui… »). The threshold keeps the out-of-fold false alarms on ordinary messages at or below
  `false_alarm`: a patient's real question answered « je suis un programme » is worse than a
  question about the assistant searched like any other.
- *Nothing asked.* profile/told/bank_train.jsonl, written blind by a helper: messages without a
  question mark that tell (feelings, news, thanks, opinions) or ask (intonation, SMS, keywords,
  « si je… »). The development questions and the first bank's messages are added as questions
  typed without their question mark. The model only ever reads messages with neither a question
  mark nor the words of a question (answer/conversation.py, `asks_something`): its threshold is
  set on those of the questions, so that at most `false_alarm` of them lose their answer.

- *The end of the conversation.* profile/closing/bank_train.jsonl (scripts/build_closing_bank.py):
  the ordinary closings of the safety bank's part 11, against the nothing-asked bank's other
  messages; read, like the previous kind, only in messages that ask nothing by their words.

C is chosen by cross-validated log loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.answer.about import ABOUT_PATH, CLOSING_PATH, TOLD_PATH
from chatbot.answer.conversation import asks_something
from chatbot.config import PROFILE_DIR, PROJECT_ROOT
from chatbot.errors import QuestionFileError
from chatbot.evaluation.provenance import provenance, sha256_file, shown_path, write_json
from chatbot.evaluation.questions import read_jsonl
from chatbot.text.lexicon import without_opener
from chatbot.text.normalize import fold

C_GRID = (1.0, 10.0, 100.0)
NGRAMS = (2, 5)  # character n-grams inside words, on folded text
MIN_DF = 2
FOLDS = 5
SEED = 0

Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Kind:
    """One model: its bank, what is added as ordinary messages, how sure it must be."""

    label: str  # the bank's label of the kind's messages
    what: str  # for the manifest
    bank: Path
    ordinary: tuple[Path, ...]  # question files (`question`) or banks (`message`)
    out: Path
    piaf: int  # PIAF training questions added as ordinary messages
    false_alarm: float  # ordinary messages read as of the kind, at most (out of fold)
    # Only messages that ask nothing by their words are read (the `told` model): ordinary
    # questions are kept when they are questions, without their question mark, and the
    # threshold is set on those that then ask nothing by their words.
    unasked_only: bool = False


ABOUT = Kind(
    label="about_assistant",
    what="asks who answers: logistic regression over e5 query vectors and character n-grams",
    bank=PROFILE_DIR / "about" / "bank_train.jsonl",
    ordinary=(PROJECT_ROOT / "eval" / "dev.jsonl", PROFILE_DIR / "safety" / "bank_train.jsonl"),
    out=ABOUT_PATH,
    piaf=1000,
    false_alarm=0.005,
)
TOLD = Kind(
    label="tells",
    what="tells, asks nothing: logistic regression over e5 query vectors and character n-grams",
    bank=PROFILE_DIR / "told" / "bank_train.jsonl",
    ordinary=(PROJECT_ROOT / "eval" / "dev.jsonl", PROFILE_DIR / "about" / "bank_train.jsonl"),
    out=TOLD_PATH,
    piaf=0,
    false_alarm=0.03,
    unasked_only=True,
)
CLOSING = Kind(
    label="closes",
    what="ends the conversation: logistic regression over e5 query vectors and character n-grams",
    bank=PROFILE_DIR / "closing" / "bank_train.jsonl",
    ordinary=(PROJECT_ROOT / "eval" / "dev.jsonl", PROFILE_DIR / "about" / "bank_train.jsonl"),
    out=CLOSING_PATH,
    piaf=0,
    false_alarm=0.01,
    unasked_only=True,
)


def read_messages(
    kind: Kind, bank: Path, ordinary: Sequence[Path], general: Sequence[str] = ()
) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for _, row in read_jsonl(bank, QuestionFileError, "banque"):
        texts.append(row["message"])
        labels.append(row["label"] == kind.label)
    others = [
        row.get("question", row.get("message", ""))
        for path in ordinary
        for _, row in read_jsonl(path, QuestionFileError, "fichier de questions")
    ]
    if kind.unasked_only:
        # A question typed without its question mark: questions only (a development file's
        # risk messages tell), as a patient may type them.
        others = [q.replace("?", " ").strip() for q in others if "?" in q or asks_something(q)]
    texts += [*others, *general]
    labels += [False] * (len(others) + len(general))
    # Read as the engine reads them: without the greeting they open with.
    return [without_opener(t) for t in texts], np.array(labels)


def fit_message_model(
    encode: Encode,
    weights_sha256: str,
    bank: Path | None = None,
    ordinary: Sequence[Path] | None = None,
    out: Path | None = None,
    general: Sequence[str] | None = None,
    kind: Kind = ABOUT,
) -> dict[str, Any]:
    """Fit and write `kind`'s model (by default the kind's own files); `general` are ordinary
    questions of any domain (default: the kind's share of PIAF's first training questions)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    bank = bank or kind.bank
    ordinary = kind.ordinary if ordinary is None else ordinary
    out = out or kind.out
    sources = {shown_path(p): sha256_file(p) for p in (bank, *ordinary)}
    if general is None and kind.piaf:
        from chatbot.evaluation import piaf

        general = [q.question for q in list(piaf.questions("train"))[: kind.piaf]]
        sources["piaf"] = (
            f"{len(general)} questions d'entraînement PIAF sha256:{sha256_file(piaf.PIAF_FILE)}"
        )
    texts, y = read_messages(kind, bank, ordinary, general or ())
    vectors = np.asarray(encode(texts), dtype=np.float64)
    # The ordinary messages the threshold is set on: those the engine lets the model read.
    read = np.array([not kind.unasked_only or not asks_something(t) for t in texts])

    def fitted(rows: np.ndarray, c: float) -> tuple[Any, Any]:
        grams = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=NGRAMS,
            min_df=MIN_DF,
            sublinear_tf=True,
            preprocessor=fold,
        ).fit([texts[i] for i in rows])
        return grams, LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(
            features(grams, rows), y[rows]
        )

    def features(grams: Any, rows: np.ndarray) -> np.ndarray:
        return np.hstack([vectors[rows], grams.transform([texts[i] for i in rows]).toarray()])

    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, y))
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        oof = np.zeros(len(y))
        for fit_rows, held in folds:
            grams, model = fitted(fit_rows, c)
            oof[held] = model.predict_proba(features(grams, held))[:, 1]
        own = np.clip(np.where(y, oof, 1 - oof), 1e-9, 1.0)
        loss = float(-np.log(own).mean())
        if best is None or loss < best[1]:
            best = (c, loss, oof)
    assert best is not None
    c, loss, oof = best
    threshold = max(0.5, float(np.quantile(oof[~y & read], 1 - kind.false_alarm)))
    grams, model = fitted(np.arange(len(y)), c)
    data = {
        "coef": np.round(model.coef_[0], 5).tolist(),
        "intercept": round(float(model.intercept_[0]), 5),
        "threshold": round(threshold, 4),
        "ngrams": {
            "ngram_range": list(grams.ngram_range),
            "vocabulary": sorted(grams.vocabulary_, key=grams.vocabulary_.__getitem__),
            "idf": np.round(grams.idf_, 5).tolist(),
        },
        "manifest": {
            "what": kind.what,
            "weights_sha256": weights_sha256,
            "C": c,
            "cv_log_loss": round(loss, 4),
            "cross_validated": {
                "caught": round(float((oof[y & read] >= threshold).mean()), 4),
                "false_alarms": round(float((oof[~y & read] >= threshold).mean()), 4),
            },
            "messages": {kind.label: int(y.sum()), "other": int((~y).sum())},
            "sources": sources,
            **provenance(),
        },
    }
    write_json(data, out)
    return data
