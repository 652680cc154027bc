"""Messages that ask who answers: « t'es un robot ? », « je parle à une vraie personne ? ».

Such a message is answered by what the assistant is — a program, not a doctor nor a person —
and never searched: the passage nearest « t'es un vrai médecin ? » answers nothing. Their
wordings are too many for patterns (a first set of them caught 15 of 70 such messages written
by a helper), so a logistic model over the message's e5 vector and its character n-grams
decides, fitted by `chatbot fit about` (evaluation/fit_about.py) on profile/about/bank_train.jsonl
and the development questions, measured on eval/about.jsonl, written blind by another helper.
Pure numpy at run time, like the risk detector (safety/linear.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.config import PROFILE_DIR
from chatbot.safety.linear import Ngrams

log = logging.getLogger(__name__)

ABOUT_PATH = PROFILE_DIR / "about" / "model.json"


@dataclass(frozen=True)
class AboutModel:
    """Probability that a whole message asks who answers, over [e5 vector, char n-grams]."""

    ngrams: Ngrams
    coef: np.ndarray
    intercept: float
    threshold: float
    weights_sha256: str
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: Path = ABOUT_PATH, weights_sha256: str | None = None) -> AboutModel | None:
        """The model, or None when missing or fitted on other embedding weights (then no
        message is read as one about the assistant: it is searched like any other)."""
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        model = cls(
            ngrams=Ngrams.from_json(data["ngrams"], "char_wb"),
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            weights_sha256=data["manifest"]["weights_sha256"],
            manifest=data["manifest"],
        )
        if weights_sha256 is not None and model.weights_sha256 != weights_sha256:
            log.warning(
                "%s a été ajusté pour un autre modèle d'embedding : non utilisé. "
                "Réajustez-le : `chatbot fit about`.",
                path,
            )
            return None
        return model

    def probability(self, text: str, vector: np.ndarray) -> float:
        x = np.concatenate([np.asarray(vector, dtype=np.float32), self.ngrams.transform([text])[0]])
        z = float(x @ self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-max(-60.0, min(60.0, z))))

    def asks_about(self, text: str, vector: np.ndarray) -> bool:
        return self.probability(text, vector) >= self.threshold
