"""The profile's French word lists: SMS spellings, chat greetings and the lay-medical lexicon.

Each list is a tab-separated file of profile/lang/ with a source column (`read_table`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from chatbot.text.tables import read_table

# SMS spellings of words, as patients type them on a phone: the standard word the lexical
# index reads, and the full form the embedding model reads (where the SMS form is no word).
SMS_WORDS = {row["sms"]: row["standard"] for row in read_table("sms")}
SMS_WRITTEN = {row["sms"]: row["written"] for row in read_table("sms") if row["written"]}
_TYPED_WORD = re.compile(r"[^\W\d_]+\d*")


def standard_words(text: str) -> str:
    """Folded words, SMS spellings read as the standard word: what the profile's question
    patterns are written for (« ki a fait » -> « qui a fait »)."""
    return " ".join(SMS_WORDS.get(w, w) for w in fold_words(text).split())


def written_out(text: str) -> str:
    """`text` with its SMS spellings written out for the embedding model: « c koi ds ma tete » ->
    « c quoi dans ma tete ». Only lower-case words: « Dr Martin » stays as written."""
    return _TYPED_WORD.sub(lambda m: SMS_WRITTEN.get(m.group(0), m.group(0)), text)


# Patients' everyday words next to the words health documents use (a general French
# lexicon, profile/lang/lay_lexicon.tsv). A question holding the first is searched with the
# second too: « effets secondaires » -> « effets indésirables tolérance ».
LAY_TERMS = {row["lay"]: row["medical"] for row in read_table("lay_lexicon")}
_LAY_PATTERN = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, LAY_TERMS), key=len, reverse=True)) + r")\b"
)


def lay_words(text: str) -> list[str]:
    """The everyday words of `text` that LAY_TERMS gives the documents' words for."""
    return _LAY_PATTERN.findall(" ".join(words(text)))


def with_lay_terms(text: str) -> str:
    """`text` followed by the documents' words for the everyday words it uses."""
    found = dict.fromkeys(LAY_TERMS[m] for m in lay_words(text))
    return f"{text} ({' '.join(found)})" if found else text


# Medicines' brand names and their active substance (profile/lang/drug_names.tsv, from the EMA's
# and the ANSM's registers): a patient says « le tecfidera » where a document says
# « le diméthyl fumarate ». Only what retrieval and the embedding model read is completed;
# the refusal reads the question as typed.
DRUG_NAMES = {row["brand"]: row["substance"] for row in read_table("drug_names")}
_BRAND_PATTERN = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, DRUG_NAMES), key=len, reverse=True)) + r")\b"
)


def with_substances(text: str, documents_use: Callable[[str], bool]) -> str:
    """`text` followed by the substance of each brand it names that the documents never use
    (`documents_use(brand)` false): « tecfidera c un cachet ? » -> « … (diméthyl fumarate) ».
    A brand the documents write is searched as written."""
    found = dict.fromkeys(
        DRUG_NAMES[b] for b in _BRAND_PATTERN.findall(" ".join(words(text))) if not documents_use(b)
    )
    return f"{text} ({' '.join(found)})" if found else text


@lru_cache(maxsize=1)
def _medicines() -> dict[str, str]:
    """Each brand's and substance's folded word -> the medicine it names, as its substance's
    longest word (« interféron bêta » -> « interferon », « acétate de glatiramère » ->
    « glatiramere »): a brand and its substance name the same medicine."""
    key = {sub: max(words(sub), key=len) for sub in set(DRUG_NAMES.values())}
    named = {fold(brand): key[sub] for brand, sub in DRUG_NAMES.items()}
    named.update({k: k for k in key.values()})
    return named


@lru_cache(maxsize=4096)  # the same passages come back question after question
def medicines_named(text: str) -> frozenset[str]:
    """The medicines `text` names, by brand or substance, singular or plural (drug_names.tsv):
    « Tysabri® ou le natalizumab » and « les interférons » name one each."""
    table = _medicines()
    found = set()
    for w in words(text):
        m = table.get(w) or (table.get(w[:-1]) if w.endswith("s") else None)
        if m:
            found.add(m)
    return frozenset(found)


def with_documents_words(text: str, documents_use: Callable[[str], bool]) -> str:
    """`text` followed by the documents' words for its lay words and the substance of the
    brands the documents never write: what retrieval by words and the ranker's « own words »
    read."""
    return with_substances(with_lay_terms(text), documents_use)


# How chat messages open: greetings (profile/lang/chat_openers.tsv), matched with whom they
# greet (« à tous », « tout le monde »), accents optional.
def _accents_optional(text: str) -> str:
    return "".join(
        f"[{c}{fold(c)}]" if fold(c) != c.lower() else re.escape(c) for c in text.lower()
    )


def _alternatives(table: str, column: str) -> str:
    """A table's phrases as one regex alternation, longest first, accents optional."""
    phrases = sorted((row[column] for row in read_table(table)), key=len, reverse=True)
    return "|".join(_accents_optional(p) for p in phrases)


@lru_cache(maxsize=1)
def _opener_pattern() -> re.Pattern[str]:
    alternatives = _alternatives("chat_openers", "opener")
    greeted = r"(?:\s+(?:[àa] (?:tous|toutes|vous|toi)|tout le monde))?"
    return re.compile(rf"^\s*(?:{alternatives})\b{greeted}[\s,;:!.…-]*", re.IGNORECASE)


def _after_openers(message: str) -> str:
    rest = message
    for _ in range(3):
        shorter = _opener_pattern().sub("", rest, count=1)
        if shorter == rest:
            break
        rest = shorter
    return rest


def without_opener(message: str) -> str:
    """`message` without the greetings it opens with (« Bonsoir à tous, … », « slt … »,
    profile/lang/chat_openers.tsv): a polite opening says nothing about risk, nor about what is
    asked. A message that is nothing but a greeting stays as it is."""
    rest = _after_openers(message)
    return rest if rest.strip() else message


@lru_cache(maxsize=1)
def _topic_change_pattern() -> re.Pattern[str]:
    alternatives = _alternatives("topic_changes", "marker")
    # Only as an announcement: a punctuation mark or « mais » after it (« autre chose que la
    # cortisone ? » is a question, not an announcement).
    return re.compile(
        rf"^\s*(?:{alternatives})(?:\s*[,;:!.…-]+|\s+mais\b)[\s,;:!.…-]*", re.IGNORECASE
    )


def without_topic_change(message: str) -> str:
    """`message` without the new subject it announces (« sinon rien à voir, … », « autre
    question : … », profile/lang/topic_changes.tsv): those words are no words of the question,
    and the message is no follow-up of the previous turn."""
    rest = _topic_change_pattern().sub("", message, count=1)
    return rest if rest.strip() else message


def greeting_only(message: str) -> bool:
    """Whether `message` is nothing but a greeting (« Bonjour à tous ! », « slt »)."""
    return bool(message.strip()) and not _after_openers(message).strip(" !?.,…")


# At the end: normalize.py imports this module, which needs normalize's `words` only at call time.
from chatbot.text.normalize import fold, fold_words, words  # noqa: E402
