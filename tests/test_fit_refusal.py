"""The refusal's fit with a bank of minimal pairs: the vector terms it learns, and reads back.

Synthetic rows, no model: in the pairs, answerability is written only in how the question's
vector meets its sentence's (one coordinate of their product), never in the signals.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from chatbot.answer.support import FEATURES, TOP_SENTENCES, Calibration, support_vector
from chatbot.evaluation.fit_refusal import VECTOR_C_GRID, fit_support

DIM = 4  # the embedding's width in these rows: 2 * DIM vector columns


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Signals that say nothing; the question meets its sentence on coordinate 0 when answered."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    signals = rng.normal(size=(n, len(FEATURES)))
    question = rng.normal(size=(n, DIM))
    sentence = rng.normal(size=(n, DIM))
    # answered: the sentence agrees with the question on coordinate 0; near miss: it opposes it
    sentence[:, 0] = np.abs(sentence[:, 0]) * np.sign(question[:, 0]) * np.where(y == 1, 1, -1)
    return np.hstack([signals, question - sentence, question * sentence]), y


def _probabilities(calibration: Calibration, rows: np.ndarray) -> np.ndarray:
    n = len(FEATURES)
    return np.array(
        [calibration.probability(dict(zip(FEATURES, r[:n], strict=True)), r[n:]) for r in rows]
    )


def _fit(tmp_path, vector_width: int) -> Calibration:
    parts = {"questions": _rows(150, 1), "contrast": _rows(300, 2)}
    if not vector_width:
        parts = {k: (x[:, : len(FEATURES)], y) for k, (x, y) in parts.items()}
    data = fit_support(parts, "questions", {}, {}, vector_width=vector_width)
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return Calibration.load(path)


def test_the_vector_terms_learn_what_the_signals_cannot_say(tmp_path):
    x, y = _rows(400, 3)
    with_vectors = _fit(tmp_path, 2 * DIM)
    p = _probabilities(with_vectors, x)
    accuracy = ((p >= with_vectors.threshold) == (y == 1)).mean()
    assert accuracy > 0.8
    assert with_vectors.manifest["regularisation"]["C"] in VECTOR_C_GRID

    signals_only = _fit(tmp_path, 0)
    assert signals_only.vector_weights is None
    n = len(FEATURES)
    q = np.array([signals_only.probability(dict(zip(FEATURES, r[:n], strict=True))) for r in x])
    assert ((q >= signals_only.threshold) == (y == 1)).mean() < 0.65


def test_a_calibration_with_vector_terms_refuses_to_guess_without_them(tmp_path):
    calibration = _fit(tmp_path, 2 * DIM)
    features = dict.fromkeys(FEATURES, 0.0)
    with pytest.raises(ValueError, match="vector terms"):
        calibration.probability(features)
    with pytest.raises(ValueError, match="vector terms"):
        calibration.probability(features, np.zeros(3 * DIM))


def _scored(text: str, score: float, answer_score: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        sentence=SimpleNamespace(text=text), score=score, answer_score=answer_score
    )


def test_the_vector_terms_read_the_mean_of_the_sentences_an_answer_would_quote():
    vectors = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0], "d": [-5.0, -5.0]}
    index = SimpleNamespace(
        sentence_ids={t: i for i, t in enumerate(vectors)}, sentence_vectors=list(vectors.values())
    )
    request = SimpleNamespace(query_vector=[1.0, 2.0])
    # The answer score, where there is one, decides which sentences an answer quotes first.
    ranked = [
        _scored("d", 0.9, answer_score=0.1),
        _scored("a", 0.2, answer_score=0.8),
        _scored("b", 0.5),
        _scored("c", 0.4),
        _scored("not in the table", 0.99, answer_score=0.95),
    ]
    difference, product = np.split(support_vector(index, request, ranked, 3), 2)
    # The best three are "not in the table", "a", "b": the mean of those the table holds.
    assert np.allclose(difference, [0.5, 1.5])
    assert np.allclose(product, [0.5, 1.0])
    best_alone = np.split(support_vector(index, request, ranked, 1), 2)[0]
    assert np.allclose(best_alone, [1.0, 2.0])  # no vector for it: compared with zeros


def test_a_fit_records_how_many_sentences_it_read_and_older_calibrations_read_one(tmp_path):
    calibration = _fit(tmp_path, 2 * DIM)
    assert calibration.vector_sentences == TOP_SENTENCES
    path = tmp_path / "calibration.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["vector_sentences"]  # as written before the field existed
    path.write_text(json.dumps(data), encoding="utf-8")
    assert Calibration.load(path).vector_sentences == 1
