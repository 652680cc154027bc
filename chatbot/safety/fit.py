"""Fitting the learned risk detector on the bank's training part (`make safety-model`).

The bank holds French messages labelled `suicide`, `emergency`, `treatment_decision` or
`none`, written from public clinical guidance (eval/safety/SOURCES.md) and split once, before
anything was fitted, into profile/safety/bank_train.jsonl (fitted on) and
eval/safety/bank_test.jsonl (measured only, with eval/safety/fresh_test.jsonl). PIAF's
training questions are added as ordinary messages; every text is also fitted phone-typed.
Thresholds come from the cross-validated probabilities (chatbot/safety/thresholds.py).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import PROFILE_DIR, PROJECT_ROOT, Settings
from chatbot.errors import QuestionFileError
from chatbot.evaluation.provenance import provenance, sha256_file, shown_path
from chatbot.evaluation.questions import Question, read_questions
from chatbot.safety.detector import Detector
from chatbot.safety.linear import LinearDetector
from chatbot.safety.thresholds import LABELS, thresholds
from chatbot.text.augment import phone_typed
from chatbot.text.lexicon import without_opener
from chatbot.text.normalize import fold

BANK_TRAIN = PROFILE_DIR / "safety" / "bank_train.jsonl"
BANK_TEST = PROJECT_ROOT / "eval" / "safety" / "bank_test.jsonl"
C_GRID = (3.0, 10.0, 30.0, 100.0)  # inverse L2 strength, chosen by cross-validated log loss
NGRAMS = (2, 5)  # character n-grams inside words, on folded text
MIN_DF = 3  # n-grams of fewer training texts are left out
# Word n-grams (one and two words, folded), of at least WORD_MIN_DF training texts. Chosen by
# the cross-validated log loss on the bank's messages, like C: 0.2762 without them, 0.2534 with
# (1, 2) and 2; (1, 1), (1, 3) or 3 texts did worse (README, safety).
WORDS = (1, 2)
WORD_MIN_DF = 2
ORDINARY = 1500  # PIAF training questions added as ordinary messages
FOLDS = 5
SEED = 0
# "sigmoid": one binary model per category (OneVsRest); "softmax": one multinomial model.
LINK = os.environ.get("CHATBOT_SAFETY_LINK", "sigmoid")

Encode = Callable[[list[str]], np.ndarray]


def read_bank(path: Path) -> list[Question]:
    """A bank file: the shared question format, each message with its expected `safety`."""
    bank = read_questions(path)
    unlabelled = [q.id for q in bank if q.safety is None]
    if unlabelled:
        raise QuestionFileError(
            f"{path}: messages sans champ 'safety' : {', '.join(unlabelled[:5])}"
        )
    return bank


def fit_from_bank(
    settings: Settings, bank: Path = BANK_TRAIN, ordinary: int = ORDINARY
) -> dict[str, Any]:
    """Fit on `bank` with PIAF's questions as ordinary messages; write profile/safety/detector.json."""
    from chatbot.evaluation import piaf

    questions = [q.question for q in piaf.questions("train")]
    general = random.Random(SEED).sample(questions, min(ordinary, len(questions)))
    dev = PROJECT_ROOT / "eval" / "dev.jsonl"
    patients = [q.question for q in read_questions(dev) if q.kind != "safety" and q.safety is None]
    sources = {
        "bank": f"{shown_path(bank)} sha256:{sha256_file(bank)}",
        "ordinary": f"{len(general)} questions PIAF (train, graine {SEED}) sha256:{sha256_file(piaf.PIAF_FILE)}",
        "patients": f"{len(patients)} questions ordinaires de eval/dev.jsonl (seuil du message fixe) sha256:{sha256_file(dev)}",
    }
    embedder = settings.embedder()
    data = fit_detector(
        read_bank(bank), general, embedder.encode_query, embedder.weights_sha256, sources, patients
    )
    write_detector(data, PROFILE_DIR / "safety" / "detector.json")
    return data


@dataclass
class Material:
    """The training texts, each also phone-typed, with what the detector sees of them."""

    texts: list[str]
    y: np.ndarray  # label index (LABELS)
    pair: np.ndarray  # a text and its phone-typed variant share this, hence a fold
    from_bank: np.ndarray  # written by the bank's writers (the patients' style), not PIAF
    vectors: np.ndarray  # e5 query vectors of every row
    groups: list[list[int]]  # text -> its rows: the whole text, then its sentences
    row_texts: list[str]

    @property
    def whole(self) -> np.ndarray:
        return np.array([g[0] for g in self.groups])

    def training_rows(self, texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows fitted on for `texts`, and their labels: each whole text, and each sentence
        of the ordinary ones.

        A notice comes from any sentence of a message (detector.py), so sentences read alone
        must look ordinary when they are: one of an ordinary message always is. The sentences
        of a risky message are not fitted on, as which of them carries the risk is not known.
        Measured in the bank's cross-validation (5 folds, C = 10): at the notice's recall of
        suicide messages (0.98), notices under the bank's ordinary messages 0.296 -> 0.247;
        emergency 0.043 -> 0.040, treatment decision 0.147 -> 0.134. Also fitting each risky
        message's likeliest sentence as risky (multiple-instance learning) added nothing.
        """
        sentences = [r for i in texts if self.y[i] == 0 for r in self.groups[i][1:]]
        rows = np.concatenate([self.whole[texts], np.asarray(sentences, dtype=int)])
        labels = np.concatenate([self.y[texts], np.zeros(len(sentences), dtype=self.y.dtype)])
        return rows, labels


def material(train: Sequence[Question], ordinary: Sequence[str], encode: Encode) -> Material:
    rng = random.Random(SEED)
    texts = [m.question for m in train] + list(ordinary)
    labels = [LABELS.index(str(m.safety)) for m in train] + [0] * len(ordinary)
    # Every text also as typed on a phone, whatever its label: spelling must not tell risk.
    texts += [phone_typed(t, rng) for t in texts]
    index = np.arange(len(texts)) % len(labels)
    probe = Detector([], _placeholder())  # only its sentence splitting is used here
    vectors, groups = _rows(probe, texts, encode)
    row_texts = [part for text in texts for part in probe.texts_to_embed(text)]
    return Material(
        texts, np.array(labels + labels), index, index < len(train), vectors, groups, row_texts
    )


def _rows(
    detector: Detector, texts: Sequence[str], encode: Encode
) -> tuple[np.ndarray, list[list[int]]]:
    """The vectors the detector would see for each text: the text, then its sentences."""
    groups: list[list[int]] = []
    flat: list[str] = []
    for text in texts:
        parts = detector.texts_to_embed(text)
        groups.append(list(range(len(flat), len(flat) + len(parts))))
        flat.extend(parts)
    return encode(flat), groups


class OneVsRest:
    """One binary logistic regression per risk category, each against every other message.

    The categories are not exclusive: a reaction during an infusion is about a treatment *and*
    an emergency. A softmax makes them compete for one probability mass, so a message that
    reads strongly as one category reads weakly as the other; here each is judged alone.
    """

    def __init__(self, models: list[Any]) -> None:
        self.models = models  # one per LABELS[1:]

    @classmethod
    def fit(cls, x: Any, y: np.ndarray, c: float) -> OneVsRest:
        from sklearn.linear_model import LogisticRegression

        return cls(
            [
                LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y == k)
                for k in range(1, len(LABELS))
            ]
        )

    def predict_proba(self, x: Any) -> np.ndarray:
        """Per row: the chance of no risk (all binary models say no), then each category's."""
        risks = np.column_stack([m.predict_proba(x)[:, 1] for m in self.models])
        return np.column_stack([np.prod(1.0 - risks, axis=1), risks])

    @property
    def coef_(self) -> np.ndarray:
        return np.vstack([m.coef_ for m in self.models])

    @property
    def intercept_(self) -> np.ndarray:
        return np.concatenate([m.intercept_ for m in self.models])


def _fitted(m: Material, c: float, rows: np.ndarray) -> tuple[Any, list[Any], Any]:
    """The model, its n-gram vectorizers (characters, words) and the feature matrix of every
    row, fitted on `rows`."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    grams = _vectorizers([m.row_texts[m.whole[i]] for i in rows])
    x = sparse.hstack(
        [sparse.csr_matrix(m.vectors), *(g.transform(m.row_texts) for g in grams)]
    ).tocsr()
    fit_rows, labels = m.training_rows(rows)
    if LINK == "sigmoid":
        return OneVsRest.fit(x[fit_rows], labels, c), grams, x
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x[fit_rows], labels)
    return model, grams, x


def _vectorizers(texts: list[str]) -> list[Any]:
    """TF-IDF of character n-grams within words and of word n-grams, fitted on `texts`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [
        TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngrams,
            min_df=min_df,
            sublinear_tf=True,
            preprocessor=fold,
        ).fit(texts)
        for analyzer, ngrams, min_df in (("char_wb", NGRAMS, MIN_DF), ("word", WORDS, WORD_MIN_DF))
    ]


def cross_validate(m: Material) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The C of C_GRID with the best log loss on the bank's messages; its out-of-fold
    probabilities, highest over each text's rows and of the whole text."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = list(
        StratifiedGroupKFold(FOLDS, shuffle=True, random_state=SEED).split(
            m.whole, m.y, groups=m.pair
        )
    )
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for c in C_GRID:
        highest, whole = (
            np.zeros((len(m.texts), len(LABELS))),
            np.zeros((len(m.texts), len(LABELS))),
        )
        for fit_rows, held in folds:
            model, _, x = _fitted(m, c, fit_rows)
            for i in held:
                p = model.predict_proba(x[m.groups[i]])
                highest[i], whole[i] = p.max(axis=0), p[0]
        own = np.clip(whole[np.arange(len(m.y)), m.y], 1e-9, 1.0)
        loss = float(-np.log(own[m.from_bank]).mean())
        if best is None or loss < best[1]:
            best = (c, loss, highest, whole)
    assert best is not None
    return best


def fit_detector(
    train: Sequence[Question],
    ordinary: Sequence[str],
    encode: Encode,
    weights_sha256: str,
    sources: dict[str, str],
    patients: Sequence[str] = (),
) -> dict[str, Any]:
    """The detector file's content: weights, thresholds and a manifest of how it was made.

    `ordinary` are general French questions added as "none" messages to fit on; `patients`
    are ordinary patients' questions (the development set) never fitted on: with the bank's
    own "none" messages, they set how sure the detector must be for its fixed message.
    """
    m = material(train, ordinary, encode)
    c, loss, highest, whole = cross_validate(m)
    final, grams, _ = _fitted(m, c, np.arange(len(m.y)))
    patient_whole = _whole_probabilities(
        final, grams, Detector([], _placeholder()), patients, encode
    )
    closing, patients_closing = _closings(m, patients, encode, weights_sha256)
    chosen, report = thresholds(
        m.y, m.from_bank, highest, whole, patient_whole, closing, patients_closing
    )
    return {
        "classes": list(LABELS) if LINK == "softmax" else list(LABELS[1:]),
        "link": LINK,
        "coef": np.round(final.coef_, 5).tolist(),
        "intercept": np.round(final.intercept_, 5).tolist(),
        "ngrams": _ngrams_json(grams[0]),
        "words": _ngrams_json(grams[1]),
        "thresholds": chosen,
        "manifest": {
            "what": f"risk detector: logistic regression ({LINK}) over e5 query vectors, character and word n-grams",
            "weights_sha256": weights_sha256,
            "C": c,
            "cv_log_loss": round(loss, 4),
            "cross_validated": report,
            "training_messages": {label: int((m.y == k).sum()) for k, label in enumerate(LABELS)},
            "augmentation": "every text twice: as written and phone-typed (chatbot/text/augment.py)",
            "sources": sources,
            **provenance(),
        },
    }


def _closings(
    m: Material, patients: Sequence[str], encode: Encode, weights_sha256: str
) -> tuple[np.ndarray, np.ndarray]:
    """Which training texts, and which patients' questions, the engine reads as the end of a
    conversation (engine.py: no words of a question, and the closing model's reading), for the
    `certain` thresholds. None without a closing model for these weights."""
    from chatbot.answer.about import CLOSING_PATH, MessageModel
    from chatbot.answer.conversation import asks_something

    model = MessageModel.load(CLOSING_PATH, weights_sha256=weights_sha256)
    texts = np.zeros(len(m.texts), dtype=bool)
    asked = np.zeros(len(patients), dtype=bool)
    if model is None:
        return texts, asked
    for i, text in enumerate(m.texts):
        # The detector's first row of a text is the message as the closing model reads it.
        row = m.whole[i]
        texts[i] = not asks_something(text) and model.holds(m.row_texts[row], m.vectors[row])
    unasked = [k for k, text in enumerate(patients) if not asks_something(text)]
    if unasked:
        read = [without_opener(patients[k]) for k in unasked]
        for k, text, vector in zip(unasked, read, encode(read), strict=True):
            asked[k] = model.holds(text, vector)
    return texts, asked


def _ngrams_json(grams: Any) -> dict[str, Any]:
    return {
        "ngram_range": list(grams.ngram_range),
        "vocabulary": sorted(grams.vocabulary_, key=grams.vocabulary_.__getitem__),
        "idf": np.round(grams.idf_, 5).tolist(),
    }


def _whole_probabilities(
    model: Any, grams: list[Any], probe: Detector, texts: Sequence[str], encode: Encode
) -> np.ndarray:
    """The final model's probabilities for whole messages it was not fitted on."""
    from scipy import sparse

    if not texts:
        return np.zeros((0, len(LABELS)))
    vectors, groups = _rows(probe, texts, encode)
    rows = [g[0] for g in groups]
    read = [probe.texts_to_embed(text)[0] for text in texts]  # as the detector reads them
    x = sparse.hstack(
        [sparse.csr_matrix(vectors[rows]), *(g.transform(read) for g in grams)]
    ).tocsr()
    return np.asarray(model.predict_proba(x))


def _placeholder() -> LinearDetector:
    """A detector with no weights: `texts_to_embed` only needs to know one exists."""
    return LinearDetector((), np.zeros((0, 0)), np.zeros(0), None, {}, {}, "", {})


def write_detector(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
