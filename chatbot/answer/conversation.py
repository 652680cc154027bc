"""The conversation around a question: what it continues, what it asks, whether it asks at all.

- `contextualize`: a follow-up (« Et ça se prend comment ? ») is searched with the subject
  of the previous turn; a message that brings its own subject is not a follow-up.
- `focus`: a long message that tells a story around its question is answered on its question;
  `split_question`: so is a two-sentence one, whose opening still goes to retrieval.
- `asks_something`: whether a message asks anything, « ? » or not (« la natation c bien ou
  pas »), or only tells (« jarrete mes cachets, ca sert a rien »);
- `small_talk`: « bonjour », « merci » are answered as such, never searched;
  `without_small_talk`: a message that opens on it (« ok merci ! autre question, … ») is read
  after it.
- `quoted_documents`: what the previous answer quoted, which a follow-up is likely about.
The French patterns are data: profile/lang/conversation.tsv, with their sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chatbot import texts_fr
from chatbot.config import PROFILE_DIR
from chatbot.index.store import Index
from chatbot.text.lexicon import greeting_only, standard_words, without_opener, written_out
from chatbot.text.markers import MARKER, strip_markers
from chatbot.text.normalize import STOP_WORDS, content_terms, fold_words, words
from chatbot.text.sentences import split_sentences
from chatbot.text.tables import read_table

# A message of this many sentences or more tells a story around its question.
LONG_MESSAGE_SENTENCES = 3
# Turns back a follow-up may reach: further, the conversation has moved on.
TURNS_BACK = 4
SMALL_TALK = ("hello", "thanks", "bye")


@dataclass(frozen=True)
class Patterns:
    refers_back: re.Pattern[str]  # a message that continues the previous turn
    may_refer_back: re.Pattern[str]  # a pronoun that may point back
    sentence_refers_back: re.Pattern[str]  # a document sentence that needs the one before
    small_talk: tuple[tuple[str, re.Pattern[str]], ...]
    asks: re.Pattern[str]  # a message that asks something without a question mark


@lru_cache(maxsize=4)
def patterns(profile: Path = PROFILE_DIR) -> Patterns:
    rows = read_table("conversation", profile)

    def joined(kind: str) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{r['pattern']})" for r in rows if r["kind"] == kind))

    return Patterns(
        refers_back=joined("message_refers_back"),
        may_refer_back=joined("message_may_refer_back"),
        sentence_refers_back=joined("sentence_refers_back"),
        small_talk=tuple((kind, joined(f"small_talk_{kind}")) for kind in SMALL_TALK),
        asks=joined("message_asks"),
    )


def asks_something(message: str) -> bool:
    """Whether the message asks anything: a question mark, or the words of a question typed
    without one (« pk ce traitement fatigue autant », « la natation c bien ou pas »).
    A message that only tells something (« jarrete mes cachets, ca sert a rien ») does not."""
    if "?" in message:
        return True
    asks = patterns().asks
    # SMS spellings as the lexical index reads them (« pk » -> « pourquoi ») and written out
    # in full (« jpeu » -> « je peux »).
    readings = (standard_words(message), fold_words(written_out(message)))
    return any(asks.search(reading) for reading in readings)


def small_talk(text: str) -> str | None:
    """Which kind of small talk the whole message is ("merci !", "bonjour"), if it is."""
    folded = _without_punctuation(text)
    if greeting_only(folded):
        return "hello"
    rest = without_opener(folded)  # « bonjour, ça va ? »
    return next((kind for kind, pattern in patterns().small_talk if pattern.match(rest)), None)


def small_talk_as_meant(text: str) -> str | None:
    """Small talk written with SMS spellings (« merci bcp bonne soiree », sms.tsv), or thanks
    then a goodbye (« merci pour les infos, bonne nuit »): read only once the risk detector
    found nothing urgent — « merci pour tout, adieu » may be a farewell of another kind,
    which the detector reads (engine.py), where `small_talk` answers before any model."""
    written = written_out(text)
    kind = small_talk(written)
    if kind is not None:
        return kind
    return "bye" if _thanks_then_goodbye(without_opener(_without_punctuation(written))) else None


def _without_punctuation(text: str) -> str:
    """The folded words of `text`, its punctuation read as spaces: what small talk is read on."""
    return " ".join(re.sub(r"[!?.,…]+", " ", fold_words(text)).split())


def _thanks_then_goodbye(folded: str) -> bool:
    """« merci pour les infos bonne soiree »: thanks, then a goodbye — a goodbye."""
    kinds = dict(patterns().small_talk)
    said = folded.split()
    return any(
        kinds["thanks"].match(" ".join(said[:i])) and kinds["bye"].match(" ".join(said[i:]))
        for i in range(1, len(said))
    )


# Where an acknowledgement typed before the question ends: « ok merci ! », « d'accord. ».
_SMALL_TALK_END = re.compile(r"[.!…]+\s+")


def without_small_talk(message: str) -> str:
    """`message` without the small talk it opens with: « ok merci ! autre question, … »,
    « d'accord. et … ». An acknowledgement of the previous answer is no word of the question
    and does not continue it (« ok » alone opening a message does: « ok et pour les enfants ? »).
    A message that is nothing but small talk stays as it is."""
    rest = message
    for _ in range(3):
        end = next(
            (m for m in _SMALL_TALK_END.finditer(rest) if small_talk(rest[: m.end()]) is not None),
            None,
        )
        if end is None or not rest[end.end() :].strip():
            break
        rest = rest[end.end() :]
    return rest


def asking_turns(history: list[dict[str, str]]) -> list[dict[str, str]]:
    """The conversation without its exchanges that asked nothing: small talk (« ok merci »),
    a message that only told something (« ah mince, c'est dommage »), and the reply each got.

    They carry no subject and quote no document: a follow-up after them (« et sa tolérance ? »)
    is about the last question asked, not about the thanks — after a statement, follow-ups
    found their passage in the top five for 0.746 of them instead of 0.915. The engine's own
    reply says what the turn was; a turn typed by hand is small talk by its words.
    """
    replies = (*texts_fr.SMALL_TALK.values(), texts_fr.NOTHING_ASKED)
    kept: list[dict[str, str]] = []
    i = 0
    while i < len(history):
        turn = history[i]
        reply = history[i + 1] if i + 1 < len(history) else None
        answered = reply is not None and reply.get("role") == "assistant"
        if turn.get("role") == "user" and (
            small_talk(turn.get("content", "")) is not None
            or (answered and reply is not None and reply.get("content", "").startswith(replies))
        ):
            i += 2 if answered else 1
            continue
        kept.append(turn)
        i += 1
    return kept


def focus(message: str) -> str:
    """What a long message asks: its sentences that end with a question mark, else its last one.

    The story around the question would pull retrieval and the answer towards everything else
    it mentions. The whole message still goes to the risk detector.
    """
    sentences = [s.text for s in split_sentences(message)]
    if len(sentences) < LONG_MESSAGE_SENTENCES:
        return message
    asked = [s for s in sentences if s.rstrip().endswith("?")]
    return " ".join(asked) if asked else sentences[-1]


def split_question(message: str) -> tuple[str, str]:
    """What a message asks, and what retrieval reads: the question of a two-sentence message
    that opens on something else (« Mon mari vient d'être diagnostiqué. Il existe des centres
    pour le suivre ? »), the whole message otherwise.

    The opening's words are no words of the question: read with it, the refusal counted them
    as words the documents lack. Retrieval still reads them, since the opening often names
    what the question takes up (« J'ai lu l'article sur le sommeil. Ça marche ? »). Measured on
    80 two-sentence messages written for it (eval/story2.jsonl): answerable ones whose
    opening is only a story answered 9 -> 24 of 30 (facts 6 -> 19), those whose opening
    names the subject 23 -> 24; near misses refused 14 -> 9 of 20. Reading only the question
    for retrieval too, as a longer message is, lost the subject (MRR 0.877 -> 0.709).
    """
    sentences = [s.text.rstrip() for s in split_sentences(message)]
    opening_then_question = (
        len(sentences) == 2 and sentences[1].endswith("?") and not sentences[0].endswith("?")
    )
    return (sentences[1], message) if opening_then_question else (message, message)


def contextualize(
    question: str,
    history: list[dict[str, str]],
    brings_new_word: Callable[[str], bool] | None = None,
) -> str:
    """The question completed with the subject of the previous user turn when it depends on it.

    Only the previous turn's content words are carried over: its question words would pull
    retrieval back to the previous answer. A message opening on a connective or a possessive
    depends on the conversation; so does a pronoun with nothing before it or a one-word
    message, unless the message brings a word the documents never use (`brings_new_word`): a
    new subject. A previous turn that was itself a follow-up brings its own subject along.
    """
    turns = [i for i, t in enumerate(history) if t.get("role") == "user"]
    if not turns or not depends_on_conversation(question, brings_new_word):
        return question
    last = turns[-1]
    earlier = history[last - TURNS_BACK : last] if last >= TURNS_BACK else history[:last]
    previous = contextualize(history[last].get("content", ""), earlier, brings_new_word)
    subject = dict.fromkeys(
        w for w in words(previous) if w not in STOP_WORDS and (len(w) >= 4 or w.isdigit())
    )
    return f"{' '.join(subject) or previous} {question}"


def depends_on_conversation(
    question: str, brings_new_word: Callable[[str], bool] | None = None
) -> bool:
    folded = fold_words(question)
    p = patterns()
    if p.refers_back.search(folded):
        return True
    pronoun = p.may_refer_back.search(folded)
    # « le vélo, ça fatigue ? »: the pronoun takes up the words before it.
    points_back = pronoun is not None and not content_terms(folded[: pronoun.start()])
    may_depend = points_back or len(content_terms(question)) <= 1
    return may_depend and not (brings_new_word is not None and brings_new_word(question))


def refers_to_previous_sentence(sentence: str) -> bool:
    """A document sentence that means nothing, or something else, without the one before."""
    return patterns().sentence_refers_back.match(sentence) is not None


def quoted_documents(index: Index, history: list[dict[str, str]]) -> frozenset[str]:
    """The document the previous answer spoke from: the passage its cited lines match best (the
    engine's own quotes are verbatim; a history written by hand paraphrases them)."""
    answers = [t.get("content", "") for t in history if t.get("role") == "assistant"]
    # What cites the documents: the lines with a marker, not a refusal or a notice.
    cited = [line for line in (answers[-1] if answers else "").splitlines() if MARKER.search(line)]
    if not cited:
        return frozenset()
    best = index.lexical.search(index.lexical.query_terms(strip_markers(" ".join(cited))), 1)
    return frozenset(index.chunks[i].doc_id for i, _ in best)
