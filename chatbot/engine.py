"""The question-answering engine: validation -> safety -> retrieval -> support -> answer.

Every entry point (chat, HTTP API, `chatbot ask`, `chatbot eval`) goes through `Engine.ask`,
so the safety rules and the refusal apply everywhere alike.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chatbot import texts_fr
from chatbot.answer.about import CLOSING_PATH, TOLD_PATH, MessageModel
from chatbot.answer.adapter import QuoteAdapter
from chatbot.answer.byline import asks_author, author_answer
from chatbot.answer.conversation import (
    asking_turns,
    asks_something,
    contextualize,
    focus,
    quoted_documents,
    small_talk,
    small_talk_as_meant,
    split_question,
    without_small_talk,
)
from chatbot.answer.extract import AnswerBackend, ExtractiveAnswerer
from chatbot.answer.rank import RankerWeights, ScoredSentence, SentenceRanker
from chatbot.answer.retrieve import Mode, Retriever
from chatbot.answer.support import Calibration, assess_support
from chatbot.config import Settings
from chatbot.errors import InvalidQuestion
from chatbot.index.embed import Embedder
from chatbot.index.store import Index, corpus_hash, load_index, read_manifest
from chatbot.records import Answer, AnswerRequest, Chunk
from chatbot.safety.detector import Assessment, Category, Detector
from chatbot.safety.respond import safety_message, with_safety
from chatbot.text.language import is_english_question, looks_english
from chatbot.text.lexicon import (
    LAY_TERMS,
    with_documents_words,
    with_substances,
    without_opener,
    without_topic_change,
    written_out,
)
from chatbot.text.normalize import words
from chatbot.text.sanitize import clean_history, clean_text

log = logging.getLogger(__name__)


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
        self.retriever = Retriever(
            index,
            embedder,
            self.settings.candidates,
            self.settings.rrf_k,
            self.settings.fusion_weights,
            self.settings.subject_weight,
        )
        self.ranker = SentenceRanker(
            index,
            ranker_weights or RankerWeights.load(),
            self.settings.answer_passages,
            self.settings.repeat_penalty,
        )
        self.extractive = ExtractiveAnswerer(
            self.ranker,
            self.settings.max_sentences,
            self.settings.sentence_margin,
            self.settings.passage_margin,
            self.settings.with_next,
        )
        self.calibration = calibration or Calibration.load(self.settings.calibration)
        # Fitted for another corpus or model: served, never silently (the log, /api/health).
        self.calibration_problem = self.calibration.check_index(index.manifest)
        if self.calibration_problem:
            log.warning(self.calibration_problem)
        self.backend: AnswerBackend = backend or self.extractive
        path = self.settings.quote_adapter
        self.quote_adapter = QuoteAdapter.load(path, index.manifest) if path else None
        self.detector = detector or Detector.load(weights_sha256=embedder.weights_sha256)
        self.about = MessageModel.load(weights_sha256=embedder.weights_sha256)
        self.told = MessageModel.load(TOLD_PATH, weights_sha256=embedder.weights_sha256)
        self.closing = MessageModel.load(CLOSING_PATH, weights_sha256=embedder.weights_sha256)

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
        history = asking_turns(
            clean_history(history, self.settings.max_history_turns, self.settings.max_turn_chars)
        )
        explicit = self.detector.assess(text)  # the exact patterns need no vector
        if explicit.urgent:
            return _timed(safety_message(explicit), t0)
        chat = small_talk(text)
        if chat is not None:
            # A greeting or a thank-you is no question: answered as such, never searched.
            return _timed(_small_talk_answer(chat), t0)
        if looks_english(text) or is_english_question(text):
            raise InvalidQuestion("not_french")

        reading = read_message(text, explicit)
        asked, search_query, retrieval_query = self.queries(
            reading.asked, history or [], reading.new_subject
        )
        # One forward pass for the risk detector's texts and the retrieval query; a short
        # question is both. The documents' words for lay words go to the lexical index only.
        # The question of a long message is usually one of its sentences: embedded once.
        risk_texts = self.detector.texts_to_embed(text)
        # The detector, fitted on messages as typed, reads them as typed.
        model_query = self.model_text(retrieval_query)
        message = without_opener(text)  # as the model of questions about the assistant reads it
        texts = [
            *risk_texts,
            *(t for t in dict.fromkeys([model_query, message]) if t not in risk_texts),
        ]
        vectors = self.embedder.encode_query(texts)
        risk = self.detector.assess(text, vectors[: len(risk_texts)])
        message_vector = vectors[texts.index(message)]
        asks = asks_something(text)
        # « merci c'était très clair, bonne nuit »: the end of the conversation. A decision told
        # on leaving (« jvais sauter la prochaine perf, bonne soirée ») is no closing: it gets
        # the neurologist's message and its invitation to ask, below.
        closing = (
            self.closing is not None
            and Category.TREATMENT_DECISION not in risk.flagged
            and not asks
            and self.closing.holds(message, message_vector)
        )
        if closing:
            # Ordinary closings are worded like farewells: their fixed message answers from the
            # threshold set with them (safety/thresholds.py); below it, a notice under the goodbye.
            risk = risk.as_closing()
        if risk.urgent:
            return _timed(safety_message(risk), t0)
        chat = small_talk_as_meant(text)
        if chat is not None:
            # « merci bcp bonne soiree »: small talk, once read for risks (a notice may come).
            return _timed(with_safety(_small_talk_answer(chat), risk), t0)
        if closing:
            # Read before the model of questions about the assistant: « merci, vous êtes top »
            # thanks, and asks nothing.
            return _timed(with_safety(_small_talk_answer("closing"), risk), t0)
        if self.about is not None and self.about.holds(message, message_vector):
            # « t'es un robot ? »: what answers, plainly; the risks the message may carry too.
            return _timed(with_safety(_small_talk_answer("about"), risk), t0)

        query_vector = vectors[texts.index(model_query)]
        request, ranked = self.prepare(
            asked, history, mode, search_query, query_vector, retrieval_query
        )
        t1 = time.perf_counter()
        decision = Category.TREATMENT_DECISION in risk.flagged
        if not asks and (
            decision or (self.told is not None and self.told.holds(message, message_vector))
        ):
            # Told, nothing asked (« jarrete mes cachets, ca sert a rien », « crevée. juste
            # crevée »): whether the documents answer is not asked. The passages nearest a
            # statement answer nothing — 8 of the 9 quoted in a sample of 40 decisions told;
            # 29 of 80 messages that tell quoted a passage (profile/told/bank_train.jsonl).
            # A decision gets the neurologist's message (with_safety), the rest an invitation.
            text_told = texts_fr.DECISION_TOLD if decision else texts_fr.NOTHING_ASKED
            answer = Answer(text=text_told, refused=True, retrieved=request.hits)
            answer.notes.append("nothing_asked")
        elif asks_author(asked):
            # Who wrote a document is said by its author line, not by a sentence on its
            # subject: without one, no sentence answers what was asked.
            answer = author_answer(self.index, request) or self.refusal(request, ranked)
        else:
            support = assess_support(self.index, request, ranked, self.calibration)
            if not support.answered:
                answer = self.refusal(request, ranked)
            elif self.backend is self.extractive:
                answer = self.extractive.answer(request, self.quote_order(request, ranked))
            else:
                answer = self.backend.answer(request)
            answer.retrieved = request.hits
            answer.notes.append(f"support={support.probability:.3f}")
        answer = with_safety(answer, risk)
        answer.timings_ms = {
            **answer.timings_ms,  # a backend's own timings (e.g. "generate") are kept
            "retrieve": (t1 - t0) * 1000,
            "answer": _ms(t1),
            "total": _ms(t0),
        }
        return answer

    def refusal(self, request: AnswerRequest, ranked: list[ScoredSentence]) -> Answer:
        """« Not found », with the documents nearest the question: the refusal is wrong for
        about one answerable question in five, and then the answer's document is usually
        among them. Nothing is quoted from them, so nothing is said that they do not say.

        The documents come in retrieval's order; each is shown by the passage of its sentence
        the quotes would come first from, else by its best retrieved passage."""
        nearest: dict[str, Chunk] = {}
        for hit in request.hits:
            nearest.setdefault(hit.chunk.doc_id, hit.chunk)
        documents = list(nearest)[: self.settings.nearby_documents]
        quotable: dict[str, Chunk] = {}
        for scored in self.quote_order(request, ranked):
            quotable.setdefault(scored.hit.chunk.doc_id, scored.hit.chunk)
        return Answer(
            text=texts_fr.REFUSAL,
            refused=True,
            retrieved=request.hits,
            nearby=[quotable.get(d, nearest[d]) for d in documents],
        )

    def quote_order(
        self, request: AnswerRequest, ranked: list[ScoredSentence]
    ) -> list[ScoredSentence]:
        """The sentences in the order they are quoted: ranked again with the question's vector
        corrected for this corpus (answer/adapter.py), when an adapter was fitted for it.
        Whether the documents answer was decided on `ranked`, without it."""
        if self.quote_adapter is None:
            return ranked
        adapted = replace(request, query_vector=self.quote_adapter.adapt(request.query_vector))
        return self.ranker.rank(adapted)

    def model_text(self, query: str) -> str:
        """The query as the embedding model reads it best: SMS spellings written out and the
        documents' accents on the words typed without them (« c koi les poussees » -> « c quoi
        les poussées »), and the substance of a medicine named by a brand the documents never
        write (« tecfidera » -> « tecfidera (diméthyl fumarate) »: the model knows no brand).
        Retrieval by words and the refusal's word counts mend words themselves."""
        lexical = self.index.lexical
        return with_substances(lexical.with_accents(written_out(query)), lexical.uses)

    def queries(
        self, asked: str, history: list[dict[str, str]], new_subject: bool = False
    ) -> tuple[str, str, str]:
        """What is asked, the words the answer and the refusal judge, and what retrieval reads
        (split_question: a two-sentence message's opening is read by retrieval only). A message
        that announces a new subject continues nothing: it is searched on its own words."""
        question, searched = split_question(asked)
        if new_subject:
            return question, question, searched
        search_query = self.search_query(question, history)
        if searched == question:
            return question, search_query, search_query
        return question, search_query, self.search_query(searched, history)

    def search_query(self, question: str, history: list[dict[str, str]]) -> str:
        """The question completed with the conversation's subject when it depends on it."""
        lexical = self.index.lexical

        def new_word(message: str) -> bool:
            # A word the documents never use, unless it is an everyday word for one of theirs
            # (« dangereux » for « risque »), is a new subject.
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
        retrieval_query: str | None = None,
        new_subject: bool = False,
    ) -> tuple[AnswerRequest, list[ScoredSentence]]:
        """Retrieve the passages and rank their sentences: everything before the decision."""
        if search_query is None:
            question, search_query, retrieval_query = self.queries(
                question, history or [], new_subject
            )
        retrieval_query = retrieval_query or search_query
        # What a follow-up is about: the words carried over from the previous turn.
        subject = search_query[: -len(question)].strip() if search_query != question else ""
        # The documents' words for lay words, and a brand's substance, help retrieval; they are
        # not the patient's words, so the support decision does not count them.
        if query_vector is None:
            query_vector = self.embedder.encode_query([self.model_text(retrieval_query)])[0]
        retrieval = self.retriever.search(
            with_documents_words(retrieval_query, self.index.lexical.uses),
            self.settings.top_k,
            mode,
            subject,
            vector=query_vector,
            documents=quoted_documents(self.index, history or []) if subject else frozenset(),
        )
        request = AnswerRequest(
            question=question,
            search_query=search_query,
            hits=retrieval.hits,
            query_vector=retrieval.query_vector,
            history=list(history or []),
        )
        return request, self.ranker.rank(request)


def _small_talk_answer(kind: str) -> Answer:
    answer = Answer(text=texts_fr.SMALL_TALK[kind])
    answer.notes.append(f"small_talk={kind}")
    return answer


def _timed(answer: Answer, t0: float) -> Answer:
    answer.timings_ms = {"retrieve": 0.0, "answer": 0.0, "total": _ms(t0)}
    return answer


@dataclass(frozen=True)
class Reading:
    """What a message asks, and whether it announces a new subject (then it continues nothing)."""

    asked: str
    new_subject: bool


def read_message(message: str, explicit: Assessment) -> Reading:
    """What retrieval and the answer work on: without injected instructions, the greeting or
    the acknowledgement it opens with (« bonsoir », « ok merci ! » are no words of the question)
    or the new subject it announces (« sinon rien à voir, »), the question of a long message."""
    message = explicit.cleaned_question if explicit.injection else message
    opened = without_small_talk(without_opener(message))
    rest = without_topic_change(opened)
    return Reading(asked=focus(rest), new_subject=rest != opened)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
