"""The XLM-R tokenizer of multilingual-e5, in a tenth of the memory of `tokenizers`' own.

`tokenizers` builds a trie of hash maps over the 250,002 pieces of tokenizer.json: 280 MB of
private memory in every process that embeds, about a third of what the chat server holds.
SentencePiece's C++ encoder keeps the same pieces and scores in a double-array trie (a few
MB). The two encoders agree only if the text reaches them normalized the same way, so the
normalization of tokenizer.json is redone here exactly as `tokenizers` does it:
- special tokens typed in the text (« <s> », « </s> »…) are cut out first and keep their ids;
- the Precompiled normalizer (SentencePiece's nmt_nfkc character map) is applied grapheme by
  grapheme: a grapheme shorter than 6 bytes is replaced whole by the mapping of its shortest
  mapped prefix, otherwise each character by its own mapping;
- runs of spaces become one space, and the text gets the « ▁ » prefix unless it starts with
  a space;
then SentencePiece's Unigram Viterbi runs with an identity normalizer. Token ids are checked
equal to `tokenizers`' on the corpus, the question sets, PIAF and random strings of unusual
characters (tests/test_tokenizer.py).

`write_tokenizer_files` derives the two files this reads from tokenizer.json, at assembly
time (`make setup`): `sentencepiece.model` (the pieces, scores and special ids) and
`sentencepiece.json` (the character map and the special tokens).
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex  # grapheme clusters (\X), which the stdlib's re lacks

if TYPE_CHECKING:
    import sentencepiece

__all__ = ["SPM_FILES", "XlmrTokenizer", "write_tokenizer_files"]

# Their layout is versioned by the model folder's ASSEMBLY_FORMAT (model_folder.py).
SPM_FILES = ("sentencepiece.model", "sentencepiece.json")
_GRAPHEMES = regex.compile(r"\X")
_SPACES = re.compile(" {2,}")  # tokenizer.json's Replace normalizer
_GRAPHEME_CACHE_LIMIT = 50_000


class CharMap:
    """SentencePiece's precompiled character map, read as `tokenizers`' Precompiled does.

    The blob is a uint32 size, a Darts double-array trie over UTF-8 bytes, then the
    NUL-terminated replacement strings the trie's values point into.
    """

    def __init__(self, blob: bytes) -> None:
        (size,) = struct.unpack_from("<I", blob)
        self._units = struct.unpack_from(f"<{size // 4}I", blob, 4)
        self._strings = blob[4 + size :]
        self._graphemes: dict[str, str] = {}

    def _shortest_prefix(self, key: bytes) -> str | None:
        units, pos = self._units, 0
        pos ^= _offset(units[0])
        for byte in key:
            if byte == 0:
                break
            pos ^= byte
            unit = units[pos]
            if unit & ((1 << 31) | 0xFF) != byte:  # the unit's label
                return None
            pos ^= _offset(unit)
            if (unit >> 8) & 1:  # a key ends here: its value indexes the strings
                start = units[pos] & ((1 << 31) - 1)
                return self._strings[start : self._strings.index(b"\0", start)].decode()
        return None

    def normalize(self, text: str) -> str:
        out = []
        for grapheme in _GRAPHEMES.findall(text):
            mapped = self._graphemes.get(grapheme)
            if mapped is None:
                key = grapheme.encode()
                mapped = self._shortest_prefix(key) if len(key) < 6 else None
                if mapped is None:
                    mapped = "".join(
                        m if (m := self._shortest_prefix(c.encode())) is not None else c
                        for c in grapheme
                    )
                if len(self._graphemes) < _GRAPHEME_CACHE_LIMIT:
                    self._graphemes[grapheme] = mapped
            out.append(mapped)
        return "".join(out)


def _offset(unit: int) -> int:
    return (unit >> 10) << ((unit & (1 << 9)) >> 6)


class XlmrTokenizer:
    """Token ids of tokenizer.json's XLM-R pipeline: `<s>` text `</s>`, cut at `max_length`."""

    def __init__(self, folder: Path, max_length: int) -> None:
        import sentencepiece as spm

        extra = json.loads((folder / SPM_FILES[1]).read_text(encoding="utf-8"))
        self._spm: sentencepiece.SentencePieceProcessor = spm.SentencePieceProcessor(
            model_file=str(folder / SPM_FILES[0])
        )
        self._charmap = CharMap(base64.b64decode(extra["charsmap"]))
        self._special: dict[str, int] = extra["special_tokens"]
        self._split = re.compile("(" + "|".join(map(re.escape, self._special)) + ")")
        self._bos, self._eos = self._special["<s>"], self._special["</s>"]
        self._space = self._spm.piece_to_id("▁")
        self.pad_id = self._special["<pad>"]
        self.max_length = max_length

    def encode(self, texts: list[str], *, truncate: bool = True) -> list[list[int]]:
        """Each text's ids, `<s>` and `</s>` included; at most `max_length` if `truncate`."""
        out = []
        for text in texts:
            ids = self._content(text)
            if truncate:
                ids = ids[: self.max_length - 2]
            out.append([self._bos, *ids, self._eos])
        return out

    def _content(self, text: str) -> list[int]:
        ids: list[int] = []
        for part in self._split.split(text):
            if part in self._special:
                ids.append(self._special[part])
                continue
            normalized = _SPACES.sub(" ", self._charmap.normalize(part))
            if normalized == " ":
                ids.append(self._space)  # a lone space is the « ▁ » piece
            elif normalized:
                ids += self._words(normalized)
        return ids

    def _words(self, normalized: str) -> list[int]:
        """Word by word, as tokenizer.json's Metaspace pre-tokenizer cuts the text: no piece
        holds an inner « ▁ », so the pieces are the same, but SentencePiece's Viterbi sums its
        scores in float32 over the whole text, and 60 words in a near-tie between two
        segmentations of one word (« ▁ca|sser » and « ▁casse|r », 3e-5 apart) is decided below
        float32's resolution; `tokenizers` sums each word's own, in float64."""
        text = normalized[1:] if normalized.startswith(" ") else normalized  # the « ▁ » prefix
        # A trailing space is the « ▁ » piece alone (spaces are single here).
        return [i for ids in self._spm.encode(text.split(" ")) for i in (ids or [self._space])]


def write_tokenizer_files(tokenizer_json: bytes, folder: Path) -> None:
    """SentencePiece's model and the normalization data, derived from tokenizer.json."""
    # protobuf's generated classes, untyped
    pb: Any = importlib.import_module("sentencepiece.sentencepiece_model_pb2")

    spec = json.loads(tokenizer_json)  # its sha256 is checked by the caller: XLM-R's Unigram
    (charsmap,) = [
        n["precompiled_charsmap"]
        for n in spec["normalizer"]["normalizers"]
        if n["type"] == "Precompiled"
    ]
    special = {t["content"]: t["id"] for t in spec["added_tokens"] if t["special"]}
    model = pb.ModelProto()
    trainer = model.trainer_spec
    trainer.model_type = pb.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(spec["model"]["vocab"])
    trainer.unk_id, trainer.bos_id = special["<unk>"], special["<s>"]
    trainer.eos_id, trainer.pad_id = special["</s>"], special["<pad>"]
    # The text arrives normalized (CharMap), so SentencePiece only adds the « ▁ » prefix and
    # turns spaces into « ▁ ».
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = True
    normalizer.escape_whitespaces = True
    normalizer.remove_extra_whitespaces = False
    piece_type = pb.ModelProto.SentencePiece
    for piece, score in spec["model"]["vocab"]:
        entry = model.pieces.add()
        entry.piece, entry.score = piece, score
        if piece == "<unk>":
            entry.type = piece_type.UNKNOWN
        elif piece in special:
            entry.type = piece_type.CONTROL
    (folder / SPM_FILES[0]).write_bytes(model.SerializeToString())
    extra = {"special_tokens": special, "charsmap": charsmap}
    (folder / SPM_FILES[1]).write_text(json.dumps(extra, sort_keys=True), encoding="utf-8")
