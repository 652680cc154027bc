"""How sure the risk detector must be, per category, for each thing it does.

From the out-of-fold probabilities of the fit (chatbot/safety/fit.py):
- `notice` (the risk is flagged: a treatment decision's warning comes before the answer):
  low enough to flag `TARGET_RECALL` of each category's training messages;
- `refusal_notice` (the risk is possible: its numbers, or the neurologist, come under the
  answer or under « je n'ai pas trouvé »): `REFUSAL_RECALL` of them. The name is from when it
  counted under refusals only;
- `certain` (the fixed message instead of the answer): above all but `FALSE_ALARM` of ordinary
  patients' messages (the bank's and the development questions', never fitted on), never
  PIAF's tidy questions, which the detector finds easy — the messages that end a conversation
  left out;
- `certain_closing`: the same over all of them, the closings in: for the messages the engine
  reads as the end of a conversation (answer/about.py, the closing model). Farewells with
  warning signs are worded like ordinary closings, which makes those the hardest ordinary
  messages: in one pool with the rest, they raised every message's `certain` threshold (0.75 →
  0.86 on 2026-12-06), and 29 suicide messages that are no closing lost their fixed message.
  Set on the closings alone, the closings' threshold was too high for farewells (0.99).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chatbot.safety.detector import RISKS

LABELS = ("none", *(c.value for c in RISKS))
FALSE_ALARM = 0.005  # ordinary messages above the `certain` threshold, at most
# Training messages of a category the `notice` threshold keeps (cross-validated). A product
# choice between missing a risk and a needless notice under an ordinary answer, measured on the
# development questions (README, safety): for suicide, 0.98 puts the 3114 under about one
# ordinary answer in five; missing a suicidal message is worse.
TARGET_RECALL = {"suicide": 0.98, "emergency": 0.98, "treatment_decision": 0.95}
# A notice is one line under the answer; a missed red flag cannot be undone: the threshold of a
# possible risk keeps this share of every category's training messages (cross-validated),
# whether the documents answer or not. Its price, a notice under more ordinary questions, is
# in the manifest (`patients_refusal_notice`) and the README.
REFUSAL_RECALL = 0.995
MIN_NOTICE = 0.005  # no notice threshold below this probability


def thresholds(
    y: np.ndarray,
    from_bank: np.ndarray,
    highest: np.ndarray,
    whole: np.ndarray,
    patients: np.ndarray,
    closing: np.ndarray,
    patients_closing: np.ndarray,
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Notice, certain and refusal thresholds per category, and what they do in cross-validation.

    `y` are the training texts' label indexes (LABELS), `from_bank` marks those the bank's
    writers wrote (not PIAF's); `highest` and `whole` their out-of-fold probabilities, highest
    over the text's sentences and of the whole text; `patients` the final model's probabilities
    for ordinary patients' questions it was not fitted on; `closing` and `patients_closing`
    mark those of both the engine reads as the end of a conversation.
    """
    out: dict[str, dict[str, float]] = {
        "notice": {},
        "certain": {},
        "certain_closing": {},
        "refusal_notice": {},
    }
    report: dict[str, Any] = {}
    negatives = y == 0
    for k, label in enumerate(LABELS[1:], 1):
        p, whole_p, positives = highest[:, k], whole[:, k], y == k
        # Only the whole message may be certain (detector.py); any sentence may raise a notice.
        ordinary_patients = np.concatenate([whole_p[negatives & from_bank], patients[:, k]])
        certain_closing = max(0.5, float(np.quantile(ordinary_patients, 1 - FALSE_ALARM)))
        others = np.concatenate(
            [whole_p[negatives & from_bank & ~closing], patients[~patients_closing, k]]
        )
        certain = min(certain_closing, max(0.5, float(np.quantile(others, 1 - FALSE_ALARM))))
        out["certain_closing"][label] = round(certain_closing, 4)
        notice = min(
            certain, max(float(np.quantile(p[positives], 1 - TARGET_RECALL[label])), MIN_NOTICE)
        )
        refusal = min(notice, max(float(np.quantile(p[positives], 1 - REFUSAL_RECALL)), MIN_NOTICE))
        out["certain"][label], out["notice"][label] = round(certain, 4), round(notice, 4)
        out["refusal_notice"][label] = round(refusal, 4)
        report[label] = {
            "recall_notice": round(float((p[positives] >= notice).mean()), 4),
            "recall_certain": round(float((whole_p[positives] >= certain).mean()), 4),
            "ordinary_notice": round(float((p[negatives] >= notice).mean()), 4),
            "ordinary_certain": round(float((whole_p[negatives] >= certain).mean()), 4),
            "patients_notice": round(float((ordinary_patients >= notice).mean()), 4),
            "recall_refusal_notice": round(float((p[positives] >= refusal).mean()), 4),
            "ordinary_refusal_notice": round(float((p[negatives] >= refusal).mean()), 4),
            "patients_refusal_notice": round(float((ordinary_patients >= refusal).mean()), 4),
            "closings_read": int((negatives & from_bank & closing).sum()),
            "recall_certain_closing": round(
                float((whole_p[positives & closing] >= certain_closing).mean()), 4
            )
            if (positives & closing).any()
            else 0.0,
        }
    flagged = np.zeros(len(y), dtype=bool)
    for k, label in enumerate(LABELS[1:], 1):
        flagged |= highest[:, k] >= out["notice"][label]
    report["ordinary_any_notice"] = round(float(flagged[negatives].mean()), 4)
    return out, report
