"""The refusal's learned model: the support signals and the question's own vector."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chatbot.answer.support import Calibration
from chatbot.evaluation.fit_refusal import C_GRID, fit_support

FEATURES = {"best_score": 0.0}


def test_the_question_vector_moves_the_probability_along_its_weights():
    # A direction of the question space these documents never answer (a price, a dose…).
    weights = np.zeros(4, dtype=np.float32)
    weights[0] = -3.0
    calibration = Calibration(weights={"best_score": 1.0}, bias=0.0, question_weights=weights)
    asks_a_price = np.array([1.0, 0.0, 0.0, 0.0])
    asks_something_else = np.array([0.0, 1.0, 0.0, 0.0])
    assert calibration.probability(FEATURES, asks_a_price) < 0.1
    assert calibration.probability(FEATURES, asks_something_else) == pytest.approx(0.5)


def test_a_question_vector_of_another_model_is_refused_loudly():
    calibration = Calibration(weights={}, bias=0.0, question_weights=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="4-d question vectors"):
        calibration.probability({}, np.zeros(8))


def test_a_calibration_file_without_question_weights_still_loads(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"weights": {"best_score": 1.0}, "bias": 0.0, "threshold": 0.5}))
    calibration = Calibration.load(path)
    assert calibration.question_weights is None
    assert calibration.probability({"best_score": 0.0}, np.ones(384)) == pytest.approx(0.5)


def test_the_fit_learns_which_questions_the_documents_answer_from_their_vectors():
    # Same support signals for both kinds; only the question's direction tells them apart.
    rng = np.random.default_rng(0)
    n, dim = 120, 6
    labels = np.array([1, 0] * (n // 2))
    vectors = rng.normal(0.0, 0.3, (n, dim))
    vectors[:, 0] += np.where(labels == 1, 1.0, -1.0)
    signals = rng.normal(0.0, 1.0, (n, 13))
    data = fit_support(
        {"questions": (np.hstack([signals, vectors]), labels)},
        "questions",
        {"corpus_sha256": "c", "weights_sha256": "w"},
        {"questions.jsonl": "sha"},
    )
    assert len(data["question_weights"]) == dim
    assert data["manifest"]["regularisation"]["C"] in C_GRID
    accuracy = data["manifest"]["cross_validated_accuracy"]["questions"]
    assert accuracy["answerable"] > 0.9 and accuracy["unanswerable"] > 0.9
    # Written and read back, the model refuses a question of the unanswered kind.
    calibration = Calibration(
        weights=data["weights"],
        bias=data["bias"],
        threshold=data["threshold"],
        question_weights=np.asarray(data["question_weights"], dtype=np.float32),
    )
    neutral = dict.fromkeys(data["weights"], 0.0)
    unanswered_kind = np.zeros(dim)
    unanswered_kind[0] = -1.0
    answered_kind = -unanswered_kind
    assert calibration.probability(neutral, unanswered_kind) < calibration.threshold
    assert calibration.probability(neutral, answered_kind) >= calibration.threshold


def test_what_the_question_shares_with_its_best_sentence_cancels_out():
    from types import SimpleNamespace

    from chatbot.answer.support import question_residual

    sentence = SimpleNamespace(text="La biotine à forte dose n'a pas montré d'efficacité.")
    best = SimpleNamespace(sentence=sentence, score=2.0, answer_score=None)
    other = SimpleNamespace(sentence=SimpleNamespace(text="Autre."), score=-1.0, answer_score=None)
    index = SimpleNamespace(
        sentence_ids={sentence.text: 0, "Autre.": 1},
        sentence_vectors=np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32),
    )
    # The question: the sentence's subject, plus a dose it asks for.
    request = SimpleNamespace(query_vector=np.array([1.0, 0.5, 0.0], dtype=np.float32))
    residual = question_residual(index, request, [other, best])
    assert residual.tolist() == [0.0, 0.5, 0.0]
    # No sentence to compare with: the question's vector itself.
    assert question_residual(index, request, []).tolist() == [1.0, 0.5, 0.0]
