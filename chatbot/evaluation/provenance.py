"""Where a fitted artefact comes from: its data's sha256, the code's commit, the library.

Every file `make fit`, `make calibrate` or `make safety-model` writes carries this in its
manifest, so that a weight can always be traced to what produced it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from chatbot.config import PROJECT_ROOT


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def shown_path(path: Path) -> str:
    """A data file as a manifest names it: relative to the project when inside it."""
    path = path.resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def git_commit() -> str:
    """The commit of the code in use, or "" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def provenance() -> dict[str, str]:
    """The commit of the code, scikit-learn's version and the time of the fit."""
    commit = git_commit()
    import sklearn

    return {
        "code_commit": commit,
        "scikit_learn": sklearn.__version__,
        "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
