"""A built index is served only as it was built: every file checked by size, shape and sha256."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatbot.errors import IndexMismatch
from chatbot.index import store as index_module
from chatbot.index.fake import FakeEmbedder
from chatbot.index.integrity import describe
from chatbot.index.store import INDEX_FILES, REBUILD_HINT, load_index, save_index
from tests.helpers import fake_engine


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    save_index(fake_engine().index, tmp_path / "ix")
    return tmp_path / "ix"


def refused(index_dir: Path) -> str:
    with pytest.raises(IndexMismatch) as err:
        load_index(index_dir, FakeEmbedder(), corpus_digest="test")
    message = str(err.value)
    assert message.endswith(REBUILD_HINT) and "\n" not in message  # one line, with the fix
    return message


def test_the_manifest_records_size_and_sha256_of_every_file(saved):
    files = json.loads((saved / "manifest.json").read_text())["files"]
    assert set(files) == set(INDEX_FILES)
    for name, entry in files.items():
        assert entry["bytes"] == (saved / name).stat().st_size and len(entry["sha256"]) == 64
    assert load_index(saved, FakeEmbedder(), corpus_digest="test").problem() is None


@pytest.mark.parametrize("name", INDEX_FILES)
def test_a_truncated_file_is_refused_with_the_rebuild_hint(saved, name):
    path = saved / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = refused(saved)
    assert name in message and "tronqué" in message


@pytest.mark.parametrize("name", INDEX_FILES)
def test_bytes_overwritten_in_a_file_are_refused(saved, name):
    path = saved / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    path.write_bytes(bytes(data))
    assert name in refused(saved) and "modifié" in refused(saved)


def test_a_missing_file_is_refused(saved):
    (saved / "lexical.npz").unlink()
    assert "lexical.npz" in refused(saved)


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        ("[1, 2]", "objet JSON attendu, pas list"),
        ("{", "Manifeste illisible"),
        ('"texte"', "pas str"),
    ],
)
def test_a_malformed_manifest_is_refused_with_the_rebuild_hint(saved, manifest, words):
    (saved / "manifest.json").write_text(manifest)
    assert words in refused(saved)


def test_a_manifest_without_file_records_or_with_an_odd_entry_is_refused(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["files"]["chunks.jsonl"] = {"bytes": "12"}
    (saved / "manifest.json").write_text(json.dumps(manifest))
    assert "chunks.jsonl" in refused(saved)
    del manifest["files"]
    (saved / "manifest.json").write_text(json.dumps(manifest))
    assert "liste de fichiers" in refused(saved)


def test_a_file_from_another_build_is_refused_even_at_the_right_size(saved, tmp_path):
    # Another corpus, same shapes nowhere: the counts of the manifest do not add up.
    from tests.helpers import DOCS

    other = tmp_path / "other"
    save_index(fake_engine(docs=DOCS[:1]).index, other)
    (saved / "sentences.json").write_bytes((other / "sentences.json").read_bytes())
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["files"]["sentences.json"] = describe(saved / "sentences.json")
    (saved / "manifest.json").write_text(json.dumps(manifest))
    assert "phrases" in refused(saved)  # consistent hashes, inconsistent counts


def test_the_messages_say_what_differs():
    from chatbot.index.manifest import FORMAT_VERSION
    from chatbot.index.store import check_manifest

    embedder = FakeEmbedder()
    version = str(FORMAT_VERSION)
    manifest = {
        "format_version": version,
        "model_id": embedder.model_id,
        "weights_sha256": "0" * 64,
    }
    with pytest.raises(IndexMismatch) as err:
        check_manifest(manifest, embedder)
    message = str(err.value)
    # not « format 7 au lieu de 7 »
    assert f"format '{version}' (texte) au lieu de {version}" in message
    assert f"poids du modèle {embedder.model_id!r} différents" in message
    assert "000000000000 au lieu de" in message  # not « modèle 'X' différent de 'X' »


def test_a_large_index_is_served_at_once_and_hashed_in_the_background(saved, monkeypatch):
    monkeypatch.setattr(index_module, "HASH_AT_LOAD_BYTES", 0)
    path = saved / "sentences.faiss"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a vector changed: the structure still loads
    path.write_bytes(bytes(data))
    index = load_index(saved, FakeEmbedder(), corpus_digest="test")
    assert index.integrity is not None
    index.integrity.wait(timeout=30)
    assert not index.checking() and "sentences.faiss" in (index.problem() or "")


def test_a_sentence_table_cut_under_a_running_server_is_reported_not_read(saved):
    index = load_index(saved, FakeEmbedder(), corpus_digest="test")
    path = saved / "sentences.npy"
    with path.open("r+b") as f:  # cut in place, as a failing disk or a careless copy would
        f.truncate(path.stat().st_size - 100)
    assert "sentences.npy" in (index.problem() or "")
    with pytest.raises(IndexMismatch):
        index.sentence_vectors[len(index.sentence_vectors) - 1]


def test_make_index_rebuilds_an_index_whose_files_do_not_match(saved):
    from chatbot.config import Settings
    from chatbot.index.rebuild import index_is_current as _index_is_current

    manifest = json.loads((saved / "manifest.json").read_text())
    settings = Settings(
        chunk_tokens=manifest["chunking"]["chunk_tokens"],
        chunk_overlap_tokens=manifest["chunking"]["chunk_overlap_tokens"],
    )
    # (The fake embedder's weights are not the real model's: only the file check is shown.)
    path = saved / "chunks.jsonl"
    path.write_bytes(path.read_bytes()[:-10])
    assert not _index_is_current(saved, manifest["corpus_sha256"], settings)
