"""The refusal's fit with a bank of minimal pairs: the vector terms it learns, and reads back.

Synthetic rows, no model: in the pairs, answerability is written only in how the question's
vector meets its sentence's (one coordinate of their product), never in the signals.
"""

import json

import numpy as np
import pytest

from chatbot.answer.support import FEATURES, Calibration
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
