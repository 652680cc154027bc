"""The quote adapter: applied as fitted, left out for another corpus or model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chatbot.answer.adapter import QuoteAdapter

INDEX = {"corpus_sha256": "c" * 64, "weights_sha256": "w" * 64}


def _adapter_file(tmp_path, weights, bias, index=INDEX):
    path = tmp_path / "quote_adapter.json"
    data = {"weights": weights, "bias": bias, "manifest": {"index": index}}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_adapter_moves_the_question_s_vector_and_keeps_it_unit_length(tmp_path):
    path = _adapter_file(tmp_path, [[0.0, 1.0], [0.0, 0.0]], [0.0, 0.0])
    adapter = QuoteAdapter.load(path, INDEX)
    assert adapter is not None
    moved = adapter.adapt(np.array([1.0, 0.0], dtype=np.float32))
    assert moved == pytest.approx(np.array([1.0, 1.0]) / np.sqrt(2.0))


def test_zero_weights_leave_the_question_as_it_is(tmp_path):
    adapter = QuoteAdapter.load(
        _adapter_file(tmp_path, [[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0]), INDEX
    )
    assert adapter is not None
    assert adapter.adapt(np.array([0.6, 0.8], dtype=np.float32)) == pytest.approx([0.6, 0.8])


@pytest.mark.parametrize("key", ["corpus_sha256", "weights_sha256"])
def test_an_adapter_fitted_for_another_index_is_left_out(tmp_path, key):
    path = _adapter_file(tmp_path, [[0.0]], [0.0])
    assert QuoteAdapter.load(path, {**INDEX, key: "x" * 64}) is None
    assert QuoteAdapter.load(tmp_path / "missing.json", INDEX) is None
