"""Questions through retrieval, as material to fit on: PIAF's with and without their answer,
and a deployment's development questions as the engine asks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from chatbot.answer.rank import RankerWeights
from chatbot.answer.support import Calibration
from chatbot.config import PROFILE_DIR, Settings
from chatbot.engine import Engine, read_message
from chatbot.evaluation.piaf import PiafQuestion
from chatbot.evaluation.questions import Question
from chatbot.records import AnswerRequest, Hit
from chatbot.safety.detector import patterns_only
from chatbot.text.normalize import fold_for_match


@dataclass
class Example:
    """One PIAF question through retrieval: its request, and the same without its answer."""

    question: PiafQuestion
    request: AnswerRequest
    masked: AnswerRequest  # the passages holding the answer sentence removed: a near miss


def holds(text: str, needle: str) -> bool:
    return fold_for_match(needle) in fold_for_match(text)


def piaf_examples(
    engine: Engine, questions: Iterable[PiafQuestion], progress: bool = False
) -> list[Example]:
    """Retrieve every question once; keep the request with and without its answer's passages."""
    items = list(questions)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="PIAF", unit="q")
    out = []
    top_k = engine.settings.top_k
    for q in items:
        retrieval = engine.retriever.search(q.question, top_k * 2)
        gold = q.answer_sentence()
        kept = [h for h in retrieval.hits if not holds(h.chunk.text, gold)]
        out.append(
            Example(
                question=q,
                request=_request(q.question, retrieval.hits[:top_k], retrieval.query_vector),
                masked=_request(q.question, kept[:top_k], retrieval.query_vector),
            )
        )
    return out


def _request(question: str, hits: list[Hit], vector: np.ndarray) -> AnswerRequest:
    ranked_hits = [replace(h, rank=k) for k, h in enumerate(hits, 1)]
    return AnswerRequest(
        question=question, search_query=question, hits=ranked_hits, query_vector=vector
    )


def question_requests(engine: Engine, questions: Sequence[Question]) -> list[AnswerRequest]:
    """The development questions through retrieval, as the engine asks them."""
    out = []
    for q in questions:
        reading = read_message(q.question, patterns_only().assess(q.question))
        request, _ = engine.prepare(reading.asked, q.history, new_subject=reading.new_subject)
        out.append(request)
    return out


def neutral_engine(settings: Settings) -> Engine:
    """An engine on `settings`' index whose ranker and refusal weigh nothing yet (for fitting)."""
    from chatbot.index.store import load_index, read_manifest

    embedder = settings.embedder()
    read_manifest(settings.index_dir)
    index = load_index(settings.index_dir, embedder)
    weights = (
        RankerWeights.load()
        if (PROFILE_DIR / "ranker.json").is_file()
        else RankerWeights(weights={"dense": 1.0}, bias=0.0, manifest={})
    )
    return Engine(
        index,
        embedder,
        settings,
        calibration=Calibration(weights={}, bias=0.0),
        ranker_weights=weights,
    )
