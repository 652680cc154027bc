"""A synthetic corpus of any size, made from the real corpus, to measure how the engine scales.

Embedding 100,000 passages with the real model would take hours on 2 cores, so the vectors
are *derived*, not computed, and every figure measured on these corpora says so:

- Sentences: each synthetic sentence joins the first part of one real sentence to the last
  part of another (each cut at a random word between 30 % and 70 % of its length), so the texts read like the corpus, share
  its vocabulary and are (almost all) distinct, as in a real large corpus. Its vector is the
  normalized mix of the two real sentence vectors, weighted by the share of text each gives.
- Passages: 3 to 7 synthetic sentences under a real article title. The passage vector is a
  normalized random convex combination (Dirichlet weights) of its sentence vectors.
- The real passages come first, unchanged with their real vectors, so the question set still
  finds its answers among the synthetic distractors.

The lexical index is built on the synthetic texts themselves, and the FAISS index is the one
`build_index` would choose for that size (HNSW above `HNSW_THRESHOLD` passages). The real
sentence vectors are the ones the corpus index already holds (the model embedded them).

    python -m bench.synthetic --from embeddings --sizes 1000 10000 100000 --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from chatbot.index.chunk import passage_text
from chatbot.index.chunks_file import chunk_from_dict
from chatbot.index.lexical import LexicalIndex
from chatbot.index.manifest import FORMAT_VERSION, read_manifest
from chatbot.index.store import Index, save_index
from chatbot.index.vectors import make_faiss
from chatbot.records import Chunk, Sentence

CHUNKS_PER_DOCUMENT = 25
SENTENCES_PER_CHUNK = (3, 7)  # inclusive bounds
MIN_SENTENCE_CHARS = 40  # shorter "sentences" are headings or author lines: poor material


def load_real(index_dir: Path) -> tuple[list[Chunk], np.ndarray, list[str], np.ndarray, dict]:
    """The real index's passages, their vectors, and its sentences with their vectors.

    Read straight from the files, so no embedding model is needed to generate a corpus.
    """
    import faiss

    manifest = read_manifest(index_dir)
    with (index_dir / "chunks.jsonl").open(encoding="utf-8") as f:
        chunks = [chunk_from_dict(json.loads(line)) for line in f]
    flat = faiss.read_index(str(index_dir / "passages.faiss"))
    vectors = flat.reconstruct_n(0, flat.ntotal)
    sentences = json.loads((index_dir / "sentences.json").read_text(encoding="utf-8"))
    sentence_vectors = np.load(index_dir / "sentences.npy")
    return chunks, vectors, sentences, sentence_vectors, manifest


def _cuts(text: str) -> list[int]:
    """Spaces between 30 % and 70 % of the sentence: where it may be cut."""
    n = len(text)
    spaces = [i for i, ch in enumerate(text) if ch == " " and 0.3 * n <= i <= 0.7 * n]
    return spaces or [n // 2]


def _normalize(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def generate(index_dir: Path, size: int, seed: int = 0) -> Index:
    """An index of `size` passages: the real ones, then synthetic ones up to `size`."""
    chunks, vectors, sentences, sentence_vectors, manifest = load_real(index_dir)
    rng = np.random.default_rng(seed)
    material = [i for i, s in enumerate(sentences) if len(s) >= MIN_SENTENCE_CHARS]
    cuts = [_cuts(sentences[i]) for i in material]
    titles = sorted({c.title for c in chunks})

    out_chunks = list(chunks[:size])
    out_vectors = [vectors[: len(out_chunks)]]
    sentence_ids = {s: i for i, s in enumerate(sentences)}
    new_sentence_vectors: list[np.ndarray] = [sentence_vectors]
    n_new = size - len(out_chunks)
    # Draw everything at once: numpy does the per-sentence arithmetic in bulk.
    per_chunk = rng.integers(SENTENCES_PER_CHUNK[0], SENTENCES_PER_CHUNK[1] + 1, n_new)
    total = int(per_chunk.sum())
    a = rng.integers(0, len(material), total)
    b = rng.integers(0, len(material), total)
    # A random cut of each: with a few hundred real sentences and a dozen cut points each,
    # millions of combinations, so the synthetic sentences are distinct like real ones.
    cut_a = [cuts[i][int(rng.integers(len(cuts[i])))] for i in a]
    cut_b = [cuts[j][int(rng.integers(len(cuts[j])))] for j in b]
    texts = [
        f"{sentences[material[i]][:ca]} {sentences[material[j]][cb + 1 :]}"
        for i, j, ca, cb in zip(a, b, cut_a, cut_b, strict=True)
    ]
    share = np.array(cut_a, np.float32) / np.maximum(
        1, np.array([len(t) for t in texts], np.float32)
    )
    va, vb = sentence_vectors[np.asarray(material)[a]], sentence_vectors[np.asarray(material)[b]]
    mixed = _normalize(share[:, None] * va + (1 - share[:, None]) * vb)
    del va, vb

    rows = np.empty(total, np.int64)  # row of each drawn sentence in the sentence table
    next_row = len(sentences)
    fresh: list[int] = []
    for k, text in enumerate(texts):
        row = sentence_ids.get(text)
        if row is None:
            row = sentence_ids[text] = next_row
            next_row += 1
            fresh.append(k)
        rows[k] = row
    new_sentence_vectors.append(mixed[np.asarray(fresh, dtype=np.int64)])
    table = np.vstack(new_sentence_vectors)
    del new_sentence_vectors

    weights = rng.dirichlet(np.ones(SENTENCES_PER_CHUNK[1]), n_new).astype(np.float32)
    chunk_vectors = np.empty((n_new, table.shape[1]), np.float32)
    start = 0
    for c in range(n_new):
        n = int(per_chunk[c])
        span = slice(start, start + n)
        w = weights[c, :n] / weights[c, :n].sum()
        chunk_vectors[c] = w @ table[rows[span]]
        doc = c // CHUNKS_PER_DOCUMENT
        title = titles[int(rng.integers(len(titles)))]
        text, sents = "", []
        for t in texts[span]:
            if text:
                text += " "
            sents.append(Sentence(text=t, start=len(text), end=len(text) + len(t)))
            text += t
        out_chunks.append(
            Chunk(
                chunk_id=f"synth-{doc:05d}#{c % CHUNKS_PER_DOCUMENT}",
                doc_id=f"synth-{doc:05d}",
                position=c % CHUNKS_PER_DOCUMENT,
                text=text,
                sentences=tuple(sents),
                source=f"synthetic/{doc:05d}.md",
                title=title,
                publication="(corpus synthétique)",
            )
        )
        start += n
    out_vectors.append(_normalize(chunk_vectors))
    all_vectors = np.vstack(out_vectors)

    lexical = LexicalIndex.build([passage_text(c) for c in out_chunks])
    faiss_index = make_faiss(all_vectors, all_vectors.shape[1])
    synthetic_manifest = dict(manifest)
    synthetic_manifest.update(
        format_version=FORMAT_VERSION,  # written by this code, whatever built the source
        chunks=len(out_chunks),
        sentences=len(table),
        faiss=type(faiss_index).__name__,
        synthetic={
            "real_chunks": min(len(chunks), size),
            "real_sentences": len(sentences),
            "seed": seed,
            "method": "sentences = start of one real sentence + end of another, vector = mix of theirs; "
            "passage vector = normalized Dirichlet mix of its sentence vectors",
        },
    )
    return Index(
        chunks=out_chunks,
        faiss_index=faiss_index,
        lexical=lexical,
        sentence_vectors=table,
        sentence_ids=sentence_ids,
        manifest=synthetic_manifest,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.synthetic", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--from", dest="source", type=Path, required=True, help="a built index of the real corpus"
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument(
        "--out", type=Path, required=True, help="one index folder per size is written here"
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    timings = {}
    for size in args.sizes:
        t0 = time.perf_counter()
        index = generate(args.source, size, args.seed)
        built = time.perf_counter() - t0
        save_index(index, args.out / f"n{size}")
        timings[size] = {
            "generate_and_index_s": round(built, 1),
            "total_s": round(time.perf_counter() - t0, 1),
        }
        print(f"{size} passages ({index.manifest['faiss']}) en {built:.1f} s", file=sys.stderr)
        del index
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
