"""The run-time XLM-R tokenizer gives the token ids of tokenizer.json's own pipeline.

If it did not, the question's vector would not be the one the model was trained and the index
built with. The reference is the `tokenizers` library reading tokenizer.json, on the texts the
product embeds (the corpus, the question sets, PIAF) and on random strings of the characters
that normalization changes: accents, ligatures, typographic spaces, emoji with joiners,
control characters, the special tokens typed as text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from chatbot.index.embed import MAX_SEQ_LENGTH, PASSAGE_PREFIX, QUERY_PREFIX, E5Embedder
from chatbot.index.xlmr_tokenizer import XlmrTokenizer

ROOT = Path(__file__).resolve().parent.parent
PIAF = ROOT.parent / "shared" / "datasets" / "piaf-train"

ODD = list(
    "aàâeéèêëiîïoôuùûüçœÆ AZ'’«» \t\n\u00a0\u2009\u202f\u3000,.;:!?-–—…()[]<>/\\\"0123456789"
    "€%$#@&*+=~^`|_😀🙏🏽👨‍👩‍👧✅ﬁﬂ²³½ĳ㎏日本語العربيةрусский\u0301\u200b\u200d\ufeff\x00\x01\x7f"
) + ["<s>", "</s>", "<unk>", "<mask>", "<pad>", "  ", "   ", "e\u0301"]


def product_texts() -> list[str]:
    texts = [
        p for f in sorted((ROOT / "corpus").rglob("*.md")) for p in f.read_text().split("\n\n")
    ]
    for f in sorted((ROOT / "eval").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            record = json.loads(line)
            texts += [record["question"]] if isinstance(record.get("question"), str) else []
    for f in sorted(PIAF.glob("*.json")):
        for article in json.loads(f.read_text())["data"][:40]:
            for paragraph in article["paragraphs"]:
                texts += [paragraph["context"], *(q["question"] for q in paragraph["qas"])]
    return [t for t in texts if t.strip()]


def random_texts(n: int) -> list[str]:
    rnd = random.Random(12)
    return ["".join(rnd.choice(ODD) for _ in range(rnd.randint(0, 40))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizers_pair(e5_embedder: E5Embedder) -> tuple[XlmrTokenizer, object]:
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(e5_embedder.path / "tokenizer.json"))
    reference.enable_truncation(MAX_SEQ_LENGTH)
    return XlmrTokenizer(e5_embedder.path, MAX_SEQ_LENGTH), reference


@pytest.mark.integration
@pytest.mark.parametrize("source", ["product", "random"])
def test_token_ids_are_those_of_tokenizer_json(tokenizers_pair: tuple, source: str) -> None:
    ours, reference = tokenizers_pair
    texts = product_texts() if source == "product" else random_texts(3000)
    assert len(texts) > 1000
    texts = [prefix + t for t in texts for prefix in (QUERY_PREFIX, PASSAGE_PREFIX)]
    expected = [e.ids for e in reference.encode_batch(texts)]
    different = [t for t, a, b in zip(texts, ours.encode(texts), expected, strict=True) if a != b]
    assert different == []


@pytest.mark.integration
def test_long_texts_are_cut_like_tokenizer_json(tokenizers_pair: tuple) -> None:
    ours, reference = tokenizers_pair
    text = " ".join(product_texts()[:200])  # thousands of tokens
    (ids,) = ours.encode([text])
    assert len(ids) == MAX_SEQ_LENGTH and ids == reference.encode(text).ids
    assert len(ours.encode([text], truncate=False)[0]) > MAX_SEQ_LENGTH


@pytest.mark.integration
def test_a_near_tied_word_far_into_a_message_is_cut_as_tokenizer_json_cuts_it(
    tokenizers_pair: tuple,
) -> None:
    # « casser » is « ▁casse|r » by 3e-5 over « ▁ca|sser »: summed over 160 tokens in float32,
    # SentencePiece's Viterbi could not tell them apart; word by word it does.
    ours, reference = tokenizers_pair
    text = QUERY_PREFIX + "je ne veux pas " * 40 + "casser ses espoirs"
    assert ours.encode([text]) == [reference.encode(text).ids]
