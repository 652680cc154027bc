"""What an answer becomes when the message carries a risk: a fixed message, notices, a warning.

- A sure urgent risk (suicide, emergency) gets its fixed message instead of any answer, with
  the notices of the other risks the message may carry (the 3114 beside the 15, the
  neurologist beside the 3114).
- A possible one gets the answer — or « je n'ai pas trouvé », never that alone — with the
  numbers, or the neurologist, right under it. The lower thresholds (the detector's
  `refusal_notice`) count whether the documents answer or not: the refusal alone would leave a
  red flag with nothing, and a refusal that learns to answer more must not take the notice away.
- A personal treatment decision is sent to the neurologist before the documents' general
  answer, or before « je n'ai pas trouvé » when they say nothing: the refusal stays, since a
  general question about a treatment is sometimes read as a decision, and the patient must
  still learn that the documents do not answer it. A decision told without a question
  (« jarrete mes cachets ») gets no quote at all: the engine answers it with an invitation to
  ask (`texts_fr.DECISION_TOLD`) under the neurologist's message.
"""

from __future__ import annotations

from dataclasses import replace

from chatbot import texts_fr
from chatbot.records import Answer
from chatbot.safety.detector import URGENT, Assessment, Category


def safety_message(risk: Assessment) -> Answer:
    """The fixed message of the most serious sure risk, instead of any answer."""
    category = risk.urgent
    if category is None:
        raise ValueError("safety_message needs an urgent risk. Currently, none is certain")
    notices = [
        texts_fr.SAFETY_NOTICES[c.value] for c in risk.flagged if c in URGENT and c is not category
    ]
    if Category.TREATMENT_DECISION in risk.flagged:
        # « j'arrête tout » may be about a treatment too: who decides is said as well.
        notices.append(texts_fr.SAFETY_MESSAGES[Category.TREATMENT_DECISION.value])
    text = "\n\n".join([texts_fr.SAFETY_MESSAGES[category.value], *notices])
    return Answer(text=text, safety=category.value)


def with_safety(answer: Answer, risk: Assessment) -> Answer:
    """The answer with what the risks call for: notices, a warning, never a plain refusal."""
    sure = risk.flagged
    risk = risk.with_possible()
    category = risk.category
    if category is None:
        return answer
    if category is Category.INJECTION:
        return replace(answer, safety=category.value)
    # Most ordinary questions a notice shows under are false alarms: under the answer, visible.
    notices = [texts_fr.SAFETY_NOTICES[c.value] for c in risk.flagged if c in URGENT]
    if Category.TREATMENT_DECISION in risk.flagged and Category.TREATMENT_DECISION not in sure:
        # Only possible: the answer, or « je n'ai pas trouvé », stays; who decides is said.
        notices.append(texts_fr.SAFETY_MESSAGES[Category.TREATMENT_DECISION.value])
    elif Category.TREATMENT_DECISION in risk.flagged:
        answer = _with_treatment_warning(answer)
    text = "\n\n".join([answer.text, *notices])
    return replace(answer, text=text, safety=category.value)


def _with_treatment_warning(answer: Answer) -> Answer:
    message = texts_fr.SAFETY_MESSAGES[Category.TREATMENT_DECISION.value]
    general = answer.text.replace(texts_fr.LEAD_IN, texts_fr.TREATMENT_GENERAL_LEAD, 1)
    return replace(answer, text=f"{message}\n\n{general}")
