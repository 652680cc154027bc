"""The synthetic corpora of `make bench`: real passages first, then distinct mixed sentences."""

from __future__ import annotations

import numpy as np

from bench.synthetic import generate
from chatbot.index.fake import FakeEmbedder
from chatbot.index.store import load_index, save_index
from tests.helpers import fake_engine


def test_synthetic_index_keeps_the_real_passages_and_serves_questions(tmp_path):
    real = fake_engine().index
    save_index(real, tmp_path / "real")
    index = generate(tmp_path / "real", size=300, seed=1)

    assert len(index) == 300 and index.faiss_index.ntotal == 300
    assert [c.chunk_id for c in index.chunks[: len(real)]] == [c.chunk_id for c in real.chunks]
    synthetic = index.chunks[len(real) :]
    assert all(c.source.startswith("synthetic/") for c in synthetic)
    # Each passage's sentences are exact spans of its text and all have a vector.
    for c in synthetic[:50]:
        assert all(
            c.text[s.start : s.end] == s.text and s.text in index.sentence_ids for s in c.sentences
        )
    norms = np.linalg.norm(index.faiss_index.reconstruct_n(0, 300), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)

    # It is an ordinary index: saved, loaded and queried like the real one.
    save_index(index, tmp_path / "n300")
    loaded = load_index(tmp_path / "n300", FakeEmbedder())
    engine = fake_engine()
    engine.index = loaded
    engine.retriever.index = loaded
    engine.ranker.index = loaded
    answer = engine.ask("combien de patients ont une reaction a la perfusion ocrelizumab ?")
    assert len(answer.retrieved) == 10
