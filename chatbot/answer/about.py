"""Messages read as a whole, by a small model: what kind of message it is, not what it asks.

- Messages that ask who answers: « t'es un robot ? », « vous êtes un humain ? ».
  Such a message is answered by what the assistant is — a program, not a doctor nor a person —
  and never searched: the passage nearest « t'es un vrai médecin ? » answers nothing. Their
  wordings are too many for patterns (a first set of them caught 15 of 70 such messages written
  by a helper). Fitted by `chatbot fit about` on profile/about/bank_train.jsonl and the
  development questions, measured on eval/about.jsonl, written blind by another helper.
- Messages that tell and ask nothing: « crevée. juste crevée », « trop contente de ma balade »,
  « résultats de la ponction reçus, bandes oligoclonales positives ». The passages nearest a
  statement answer no question, yet they read like an answer (README, « Nothing asked »). Only
  messages with neither a question mark nor the words of a question are read by this model: a
  question typed without one (« la sep ça se soigne ») must stay a question. Fitted by
  `chatbot fit told` on profile/told/bank_train.jsonl, measured on eval/told.jsonl.
- Messages that end the conversation: « merci c'était très clair, bonne nuit », « mrc pr l aide,
  jsuis ko ce soir », « je file, le repas est prêt ». Thanks and goodbyes come in
  more wordings than the small-talk patterns hold (2 of 100 written blind got a goodbye; 69 the
  « nothing asked » reply, 18 « je n'ai pas trouvé », one a quote). Read, like the previous kind,
  only in messages that ask nothing by their words, and only once the risk detector has read
  them: a farewell may be another thing. Fitted by `chatbot fit closing` on
  profile/closing/bank_train.jsonl, measured on eval/safety/fresh_test6.jsonl.

Each is a logistic model over the message's e5 vector and its character n-grams
(evaluation/fit_about.py). Pure numpy at run time, like the risk detector (safety/linear.py).
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
TOLD_PATH = PROFILE_DIR / "told" / "model.json"
CLOSING_PATH = PROFILE_DIR / "closing" / "model.json"


@dataclass(frozen=True)
class MessageModel:
    """Probability that a whole message is of one kind (asks who answers, tells without
    asking), over [e5 vector, char n-grams]."""

    ngrams: Ngrams
    coef: np.ndarray
    intercept: float
    threshold: float
    weights_sha256: str
    manifest: dict[str, Any]

    @classmethod
    def load(
        cls, path: Path = ABOUT_PATH, weights_sha256: str | None = None
    ) -> MessageModel | None:
        """The model, or None when missing or fitted on other embedding weights (then no
        message is read as of its kind: it is searched like any other)."""
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
                "Réajustez-le : `chatbot fit %s`.",
                path,
                path.parent.name,
            )
            return None
        return model

    def probability(self, text: str, vector: np.ndarray) -> float:
        x = np.concatenate([np.asarray(vector, dtype=np.float32), self.ngrams.transform([text])[0]])
        z = float(x @ self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-max(-60.0, min(60.0, z))))

    def holds(self, text: str, vector: np.ndarray) -> bool:
        """Whether the message is of the model's kind."""
        return self.probability(text, vector) >= self.threshold
