"""The model of messages that ask who answers: read as fitted, left out when it cannot be."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from chatbot.answer.about import MessageModel
from chatbot.safety.linear import char_wb_ngrams


def _model_file(tmp_path, weights="w" * 64):
    grams = sorted(set(char_wb_ngrams("robot humain", (2, 5))))
    coef = [0.0] * 4 + [3.0 if "rob" in g else 0.0 for g in grams]
    data = {
        "coef": coef,
        "intercept": -1.0,
        "threshold": 0.5,
        "ngrams": {"ngram_range": [2, 5], "vocabulary": grams, "idf": [1.0] * len(grams)},
        "manifest": {"weights_sha256": weights},
    }
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_model_reads_the_message_s_words_and_vector(tmp_path):
    model = MessageModel.load(_model_file(tmp_path), weights_sha256="w" * 64)
    assert model is not None
    vector = np.zeros(4, dtype=np.float32)
    assert model.holds("t'es un robot ?", vector)
    assert not model.holds("la fatigue ça se soigne ?", vector)


def test_a_model_fitted_on_other_embedding_weights_is_left_out(tmp_path):
    assert MessageModel.load(_model_file(tmp_path), weights_sha256="x" * 64) is None
    assert MessageModel.load(tmp_path / "missing.json") is None


def _bank(tmp_path: Path, messages: dict[str, list[str]]) -> Path:
    """A bank file holding each label's messages three times (enough rows for five folds)."""
    bank = tmp_path / "bank.jsonl"
    rows = [{"message": m, "label": label} for label, ms in messages.items() for m in ms * 3]
    bank.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return bank


def test_fitting_writes_a_model_that_reads_new_messages(tmp_path):
    from chatbot.evaluation.fit_about import fit_message_model

    about = ["t'es un robot ?", "vous êtes un humain ?", "c un robot ?", "tu es une machine ?"]
    other = ["la fatigue ça passe ?", "le robot de rééducation aide ?", "la biotine marche ?"]
    bank = _bank(tmp_path, {"about_assistant": about, "other": other})
    ordinary = tmp_path / "dev.jsonl"
    ordinary.write_text(
        "".join(
            json.dumps({"question": f"question {k} sur la maladie ?"}) + "\n" for k in range(20)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "model.json"

    def encode(texts):
        return np.zeros((len(texts), 4))

    data = fit_message_model(encode, "w" * 64, bank, [ordinary], out, general=["qui a gagné ?"] * 5)
    assert data["threshold"] >= 0.5
    model = MessageModel.load(out, weights_sha256="w" * 64)
    assert model is not None
    assert model.holds("t'es une machine ?", np.zeros(4, dtype=np.float32))
    assert not model.holds("la biotine ça marche ?", np.zeros(4, dtype=np.float32))


def test_the_nothing_asked_model_learns_questions_typed_without_their_mark(tmp_path):
    from chatbot.evaluation.fit_about import TOLD, fit_message_model

    tells = [
        "journée difficile ce soir",
        "crevée ce soir",
        "irm stable, trop contente",
        "marre ce soir",
    ]
    asks = ["biotine forme progressive", "effets ocrevus", "vaccin grippe sep", "biotine dose"]
    bank = _bank(tmp_path, {"tells": tells, "asks": asks})
    dev = tmp_path / "dev.jsonl"
    questions = [f"effets de la biotine {k} ?" for k in range(10)]
    # A development file's risk message tells: it is no question typed without its mark.
    dev.write_text(
        "".join(json.dumps({"question": q}) + "\n" for q in [*questions, "je veux en finir"]),
        encoding="utf-8",
    )
    out = tmp_path / "model.json"

    def encode(texts):
        return np.zeros((len(texts), 4))

    data = fit_message_model(encode, "w" * 64, bank, [dev], out, general=[], kind=TOLD)
    assert data["manifest"]["messages"] == {"tells": 12, "other": 12 + len(questions)}
    model = MessageModel.load(out, weights_sha256="w" * 64)
    assert model is not None
    assert model.holds("crevée ce soir", np.zeros(4, dtype=np.float32))
    assert not model.holds("effets de la biotine", np.zeros(4, dtype=np.float32))
