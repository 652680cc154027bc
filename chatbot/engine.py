"""The question-answering engine: validation -> safety -> retrieval -> support -> answer.

Every entry point (chat, HTTP API, `chatbot ask`, `chatbot eval`) goes through `Engine.ask`,
so the safety rules and the refusal apply everywhere alike.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from chatbot import texts_fr
from chatbot.answer.extract import AnswerBackend, ExtractiveAnswerer
from chatbot.answer.rank import RankerWeights, ScoredSentence, SentenceRanker
from chatbot.answer.retrieve import Mode, Retriever
from chatbot.answer.support import Calibration, assess_support
from chatbot.config import Settings
from chatbot.errors import InvalidQuestion
from chatbot.index.chunk import split_sentences
from chatbot.index.embed import Embedder
from chatbot.index.store import Index, corpus_hash, load_index, read_manifest
from chatbot.records import Answer, AnswerRequest
from chatbot.safety.detector import URGENT, Assessment, Category, Detector
from chatbot.text.normalize import (
    LAY_TERMS,
    STOP_WORDS,
    content_terms,
    fold,
    is_english_question,
    looks_english,
    with_lay_terms,
    words,
)
from chatbot.text.sanitize import clean_history, clean_text

log = logging.getLogger(__name__)

# Words that point back to an earlier turn: "Et ses effets secondaires ?", "Et l'ozanimod ?"
# and a preposition left hanging: "on peut tomber enceinte avec ?"
_REFERS_BACK = re.compile(
    r"^(?:et|mais|alors|aussi|sinon|ok|d accord|donc)\b"
    r"|\b(?:ses|son|leurs?|ce traitement|cette|cet|celui|celle|ceux|celles|en pratique|le meme|la meme)\b"
    r"|\b(?:avec|sans|pendant|apres|avant)\s*\?*$"
)
# Pronouns that may point back ("c'est remboursé ?", "ça marche ?") or to the message's own
# subject: "la vitamine D, ça aide ?" ("sa" is how many patients write "ça"). An impersonal
# "il" or "y" ("faut-il", "il y a", "y en a") points nowhere.
_MAY_REFER_BACK = re.compile(
    r"\b(?:ca|sa|cela|elle|ils|elles)\b"
    r"|(?<!faut )(?<!y a t )\bil\b(?! (?:faut|y a|existe|s agit)\b)"
    r"|(?<!il )\by\b(?! (?:a|en a)\b)"
)


class Engine:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        settings: Settings | None = None,
        calibration: Calibration | None = None,
        backend: AnswerBackend | None = None,
        detector: Detector | None = None,
        ranker_weights: RankerWeights | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, self.settings.candidates, self.settings.rrf_k)
        self.ranker = SentenceRanker(
            index, ranker_weights or RankerWeights.load(), self.settings.answer_passages, self.settings.repeat_penalty
        )
        self.extractive = ExtractiveAnswerer(
            self.ranker,
            self.settings.max_sentences,
            self.settings.sentence_margin,
            self.settings.passage_margin,
            self.settings.with_next,
        )
        self.calibration = calibration or Calibration.load(self.settings.calibration)
        problem = self.calibration.check_index(index.manifest)
        if problem:
            log.warning(problem)
        self.backend: AnswerBackend = backend or self.extractive
        self.detector = detector or Detector.load(weights_sha256=embedder.weights_sha256)

    @classmethod
    def load(cls, settings: Settings) -> Engine:
        """Load the model and the index named by `settings`; refuse a stale index.

        The index is compared with the corpus folder it was built from (recorded in its
        manifest), so an index whose documents changed is never served silently.
        """
        embedder = settings.embedder()
        built_from = read_manifest(settings.index_dir).get("corpus_dir")
        corpus_dir = Path(built_from) if built_from else settings.corpus_dir
        digest = corpus_hash(corpus_dir) if corpus_dir.is_dir() else None
        index = load_index(settings.index_dir, embedder, digest)
        engine = cls(index, embedder, settings)
        engine.use_generator_from_env()
        return engine

    def use_generator_from_env(self) -> None:
        """Write answers with an OpenAI-compatible server when CHATBOT_LLM_BASE_URL is set."""
        from chatbot.answer.generate import GenerativeAnswerer, LLMSettings

        llm = LLMSettings.from_env(max_passages=self.settings.answer_passages)
        if llm is not None:
            self.backend = GenerativeAnswerer(llm, fallback=self.extractive)

    def validate(self, question: object) -> str:
        if not isinstance(question, str):
            raise InvalidQuestion("empty", f"expected text, got {type(question).__name__}")
        text = clean_text(question).strip()
        if not text or not any(ch.isalnum() for ch in text):
            raise InvalidQuestion("empty")
        if len(text) > self.settings.max_question_chars:
            raise InvalidQuestion("too_long", f"{len(text)} > {self.settings.max_question_chars}")
        return text

    def ask(
        self,
        question: object,
        history: list[dict[str, str]] | None = None,
        mode: Mode = "hybrid",
    ) -> Answer:
        """Answer one question. Raises InvalidQuestion for input that cannot be answered."""
        t0 = time.perf_counter()
        text = self.validate(question)
        history = clean_history(history, self.settings.max_history_turns, self.settings.max_turn_chars)
        explicit = self.detector.assess(text)  # the exact patterns need no vector
        if explicit.urgent:
            return _timed(_safety_message(explicit), t0)
        small_talk = _small_talk(text)
        if small_talk is not None:
            # A greeting or a thank-you is no question: answered as such, never searched.
            answer = Answer(text=texts_fr.SMALL_TALK[small_talk])
            answer.notes.append(f"small_talk={small_talk}")
            return _timed(answer, t0)
        if looks_english(text) or is_english_question(text):
            raise InvalidQuestion("not_french")

        asked = asked_part(text, explicit)
        search_query = self.search_query(asked, history or [])
        # One forward pass for the risk detector's texts and the retrieval query; a short
        # question is both. The documents' words for lay words go to the lexical index only.
        risk_texts = self.detector.texts_to_embed(text)
        texts = risk_texts if risk_texts[:1] == [search_query] else [*risk_texts, search_query]
        vectors = self.embedder.encode_query(texts)
        risk = self.detector.assess(text, vectors[: len(risk_texts)])
        if risk.urgent:
            return _timed(_safety_message(risk), t0)

        query_vector = vectors[0] if texts is risk_texts else vectors[-1]
        request, ranked = self.prepare(asked, history, mode, search_query, query_vector)
        t1 = time.perf_counter()
        support = assess_support(self.index, request, ranked, self.calibration)
        if not support.answered:
            answer = Answer(text=texts_fr.REFUSAL, refused=True)
        elif self.backend is self.extractive:
            answer = self.extractive.answer(request, ranked)
        else:
            answer = self.backend.answer(request)
        answer.retrieved = request.hits
        answer.notes.append(f"support={support.probability:.3f}")
        answer = _with_safety(answer, risk)
        answer.timings_ms = {
            **answer.timings_ms,  # a backend's own timings (e.g. "generate") are kept
            "retrieve": (t1 - t0) * 1000,
            "answer": _ms(t1),
            "total": _ms(t0),
        }
        return answer

    def search_query(self, question: str, history: list[dict[str, str]]) -> str:
        """The question completed with the conversation's subject when it depends on it."""
        lexical = self.index.lexical

        def new_word(message: str) -> bool:
            # A word the documents never use, unless it is an everyday word for one of theirs
            # ("dangereux" for "tolérance"), is a new subject.
            plain = " ".join(w for w in words(message) if w not in LAY_TERMS)
            return any(t not in lexical.terms for t in lexical.query_terms(plain))

        return contextualize(question, history, new_word)

    def prepare(
        self,
        question: str,
        history: list[dict[str, str]] | None,
        mode: Mode = "hybrid",
        search_query: str | None = None,
        query_vector: np.ndarray | None = None,
    ) -> tuple[AnswerRequest, list[ScoredSentence]]:
        """Retrieve the passages and rank their sentences: everything before the decision."""
        if search_query is None:
            search_query = self.search_query(question, history or [])
        # What a follow-up is about: the words carried over from the previous turn.
        subject = search_query[: -len(question)].strip() if search_query != question else ""
        # The documents' words for lay words help retrieval; they are not the patient's words,
        # so the support decision and the sentence ranking do not see them.
        if query_vector is None:
            query_vector = self.embedder.encode_query([search_query])[0]
        retrieval = self.retriever.search(
            with_lay_terms(search_query), self.settings.top_k, mode, subject, vector=query_vector
        )
        request = AnswerRequest(
            question=question,
            search_query=search_query,
            hits=retrieval.hits,
            query_vector=retrieval.query_vector,
            history=list(history or []),
        )
        return request, self.ranker.rank(request)


def _safety_message(risk: Assessment) -> Answer:
    """The fixed message of the most serious sure risk, instead of any answer from the documents.

    The notices of the other urgent risks the message may carry come with it: a message sure to
    be an emergency that may also be suicidal shows the 3114 too.
    """
    category = risk.urgent
    assert category is not None
    notices = [texts_fr.SAFETY_NOTICES[c.value] for c in risk.flagged if c in URGENT and c is not category]
    text = "\n\n".join([texts_fr.SAFETY_MESSAGES[category.value], *notices])
    return Answer(text=text, safety=category.value)


def _with_safety(answer: Answer, risk: Assessment) -> Answer:
    """The answer with what the risks call for: notices, a warning, never a plain refusal."""
    category = risk.category
    if category is None:
        return answer
    if category is Category.INJECTION:
        return replace(answer, safety=category.value)
    # A possible red flag: the answer — or "I found nothing", never that alone — then the
    # numbers, visible right under it (most ordinary questions flagged are false alarms).
    notices = [texts_fr.SAFETY_NOTICES[c.value] for c in risk.flagged if c in URGENT]
    if Category.TREATMENT_DECISION in risk.flagged:
        if answer.refused and not notices:
            # Nothing general to quote: the message that sends to the neurologist answers.
            message = texts_fr.SAFETY_MESSAGES[Category.TREATMENT_DECISION.value]
            return replace(answer, text=message, refused=False, safety=category.value)
        answer = _with_treatment_warning(answer)
    text = "\n\n".join([answer.text, *notices])
    return replace(answer, text=text, safety=category.value)


def _timed(answer: Answer, t0: float) -> Answer:
    answer.timings_ms = {"retrieve": 0.0, "answer": 0.0, "total": _ms(t0)}
    return answer


# A message of this many sentences or more tells a story around its question.
LONG_MESSAGE_SENTENCES = 3


def asked_part(message: str, explicit: Assessment) -> str:
    """What retrieval and the answer work on: without injected instructions, the question of a
    long message."""
    return focus(explicit.cleaned_question if explicit.injection else message)


def focus(message: str) -> str:
    """What a long message asks: its sentences that end with a question mark, else its last one.

    « J'ai 58 ans… Avant je faisais de la danse… Est-ce que des gens de mon âge faisaient partie
    de l'étude ? » is searched and answered on its question: the story around it would pull
    retrieval and the answer towards everything else it mentions. The whole message still
    goes to the risk detector.
    """
    sentences = [s.text for s in split_sentences(message)]
    if len(sentences) < LONG_MESSAGE_SENTENCES:
        return message
    asked = [s for s in sentences if s.rstrip().endswith("?")]
    return " ".join(asked) if asked else sentences[-1]


def _with_treatment_warning(answer: Answer) -> Answer:
    message = texts_fr.SAFETY_MESSAGES["treatment_decision"]
    general = answer.text.replace(texts_fr.LEAD_IN, texts_fr.TREATMENT_GENERAL_LEAD, 1)
    return replace(answer, text=f"{message}\n\n{general}")


_OK = r"(?:ok|d accord|super|parfait|top|genial|tres bien|cool)"
# Whole messages that are no question, on their folded text.
_SMALL_TALK = (
    (
        "hello",
        re.compile(
            r"^(?:(?:bonjour|bjr|bonsoir|salut|slt|coucou|cc|hello|allo)(?: a (?:vous|toi|tous))?"
            r"|qui es tu|t es qui|tu es qui|vous etes qui|qui etes vous|c est quoi ce (?:chat|site|robot)"
            r"|(?:comment )?(?:ca va|vous allez bien|tu vas bien))$"
        ),
    ),
    (
        "thanks",
        re.compile(
            rf"^(?:{_OK} )*(?:merci(?: beaucoup| bien| bcp| a vous"
            rf"| pour (?:tout|votre aide|ta reponse|votre reponse|l info))?|{_OK})$"
        ),
    ),
    (
        "bye",
        re.compile(r"^(?:merci(?: beaucoup)? )?(?:et )?(?:au revoir|bye|a bientot|a plus|bonne (?:journee|soiree|nuit))$"),
    ),
)


def _small_talk(text: str) -> str | None:
    """Which kind of small talk the whole message is ("merci !", "bonjour"), if it is."""
    folded = re.sub(r"[\s'’\-!?.,…]+", " ", fold(text)).strip()
    return next((kind for kind, pattern in _SMALL_TALK if pattern.match(folded)), None)


def contextualize(
    question: str, history: list[dict[str, str]], brings_new_word: Callable[[str], bool] | None = None
) -> str:
    """The question completed with the subject of the previous user turn when it depends on it.

    Only the previous turn's content words are carried over ("c'est quoi l'ocrevus ?" gives
    "ocrevus"): its question words would pull retrieval back to the previous answer. A message
    opening on a connective or a possessive ("Et ses effets secondaires ?") depends on the
    conversation; so does a pronoun with nothing before it ("c'est remboursé ?", "ça marche
    ?") or a one-word message, unless the message brings a word the documents never use
    (`brings_new_word`): "la vitamine D, ça aide ?" after a question on a congress is a new
    subject. A previous turn that was itself a follow-up brings its own subject along
    ("l'ocrevus" -> "c'est dangereux ?" -> "Et ses effets secondaires ?").
    """
    turns = [i for i, t in enumerate(history) if t.get("role") == "user"]
    if not turns or not _depends_on_conversation(question, brings_new_word):
        return question
    last = turns[-1]
    # Three turns back at most: further, the conversation has moved on.
    earlier = history[last - 4 : last] if last >= 4 else history[:last]
    previous = contextualize(history[last].get("content", ""), earlier, brings_new_word)
    subject = dict.fromkeys(w for w in words(previous) if w not in STOP_WORDS and (len(w) >= 4 or w.isdigit()))
    return f"{' '.join(subject) or previous} {question}"


def _depends_on_conversation(question: str, brings_new_word: Callable[[str], bool] | None) -> bool:
    folded = re.sub(r"[\s'’\-]+", " ", fold(question)).strip()
    if _REFERS_BACK.search(folded):
        return True
    pronoun = _MAY_REFER_BACK.search(folded)
    # "l'interféron, ça fait vivre plus longtemps ?": the pronoun takes up the words before it.
    points_back = pronoun is not None and not content_terms(folded[: pronoun.start()])
    may_depend = points_back or len(content_terms(question)) <= 1
    return may_depend and not (brings_new_word is not None and brings_new_word(question))


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
