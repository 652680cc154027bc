"""The quote adapter: the question's vector moved towards the sentences that answer it here.

e5 reads « ça se prend comment ce médicament ? » close to every sentence on it; which one
answers is in the way this corpus writes it. The adapter is a linear correction of the question's
vector, `v + v·W + b`, fitted by ridge regression (`chatbot fit adapter`,
evaluation/fit_adapter.py) on the deployment's own labelled questions — the development set, the
minimal pairs and the bank — to point at the mean vector of the retrieved sentences that hold
each question's facts. The correction is a residual: with no data it is the identity.

It chooses *what to quote* only. Retrieval and the refusal read the question's own vector, so
whether the documents answer is decided as without it, by a calibration fitted without it. It is
fitted for one corpus and one embedding model (its manifest names them): for another index it is
left out, with a warning, and the ranker's order is quoted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import PROFILE_DIR

log = logging.getLogger(__name__)

ADAPTER_PATH = PROFILE_DIR / "quote_adapter.json"


@dataclass(frozen=True)
class QuoteAdapter:
    weights: np.ndarray  # (dim, dim)
    bias: np.ndarray  # (dim,)
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: Path, index_manifest: dict[str, Any]) -> QuoteAdapter | None:
        """The adapter, or None when missing or fitted for another corpus or model."""
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        fitted = data["manifest"].get("index", {})
        for key, what in (
            ("corpus_sha256", "un autre corpus"),
            ("weights_sha256", "un autre modèle"),
        ):
            if fitted.get(key) != index_manifest.get(key):
                log.warning(
                    "%s a été ajusté pour %s : non utilisé (les phrases sont citées dans l'ordre du "
                    "classement). Réajustez-le : `make adapter`.",
                    path,
                    what,
                )
                return None
        return cls(
            weights=np.asarray(data["weights"], dtype=np.float32),
            bias=np.asarray(data["bias"], dtype=np.float32),
            manifest=data["manifest"],
        )

    def adapt(self, vector: np.ndarray) -> np.ndarray:
        v = np.asarray(vector, dtype=np.float32)
        moved = v + v @ self.weights + self.bias
        return (moved / np.linalg.norm(moved)).astype(np.float32)
