"""Phone-typed variants of a text, for fitting what must not depend on spelling.

Patients type on phones: no accents, no apostrophes, SMS spellings, a slipped letter. A model
fitted on well-written ordinary questions and phone-typed risk messages would learn that SMS
spelling means risk. So every training text, whatever its label, also gets a phone-typed
variant made by the same transformations: style then says nothing about the label.
The SMS spellings are the profile's own list (profile/lang/sms.tsv), read backwards.
"""

from __future__ import annotations

import random
import re

from chatbot.text.lexicon import SMS_WORDS
from chatbot.text.normalize import fold

# standard word -> its SMS spellings ("quoi" -> ["koi", "kesako"])
_SMS_FOR: dict[str, list[str]] = {}
for _sms, _standard in SMS_WORDS.items():
    if _sms != _standard:
        _SMS_FOR.setdefault(_standard, []).append(_sms)

_WORD = re.compile(r"[^\W\d_]+")


def phone_typed(text: str, rng: random.Random) -> str:
    """`text` as typed on a phone: folded or lower case, SMS words, a typo now and then."""
    out = fold(text) if rng.random() < 0.8 else text.lower()
    out = re.sub(r"['’]", "" if rng.random() < 0.6 else " ", out)

    def respell(m: re.Match[str]) -> str:
        word = m.group(0)
        forms = _SMS_FOR.get(fold(word))
        if forms and rng.random() < 0.6:
            return rng.choice(forms)
        if len(word) > 4 and rng.random() < 0.06:  # two letters swapped
            k = rng.randrange(1, len(word) - 2)
            return word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        return word

    out = _WORD.sub(respell, out)
    if rng.random() < 0.4:
        out = out.rstrip(" ?!.")
    return out
