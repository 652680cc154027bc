"""Index: documents cut into passages and sentences, embedded and indexed, saved with a manifest.

Enters: `Document` records, the embedding model (`embed.Embedder`), chunking settings.
Leaves: an `Index` (`store.py`): passages (`Chunk`), FAISS over passage and sentence vectors,
a BM25 lexical index (`lexical.py`), a manifest that loading checks (files' sha256, model,
corpus), refused with the rebuild command when stale or damaged.
Must not import: answer, safety, serve, evaluation.

Modules: `chunk.py` cuts documents into passages and sentences; `embed.py` is the embedding
model (`model_folder.py` checks its assembled folder; `fake.py` stands in for it in tests);
`lexical.py` is the BM25 index; `store.py` builds, saves and loads an `Index`, with
`vectors.py` (FAISS, the sentence table), `chunks_file.py` (chunks.jsonl), `manifest.py`
(what built the index, and whether it still fits) and `integrity.py` (each file's size and
sha256).
"""
