"""The fine-tuning task: a PIAF question and candidate sentences, one of which holds its answer.

The candidates are the sentences of the question's paragraph and a few of its article's
other paragraphs, natural near misses. For training, the answer's sentence *without its answer
span* is one more candidate: the same subject, the same words, but not what was asked — the
near miss a patient must not be quoted (« combien coûte… » against a sentence on the same
treatment without its price). It teaches the model to bring a question closest to the sentence
that holds the asked value, not to the one that only shares its words: the refusal, which reads
the ranker's confidence, then tells more near misses from answers (README, « Which sentences »).
`accuracy` scores a model on the task the answer needs: the share of questions whose closest
candidate holds the answer (validation has no such added candidate).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from chatbot.build.finetune_encoder import LowerCache, upper
from chatbot.evaluation import piaf
from chatbot.index.embed import PASSAGE_PREFIX, QUERY_PREFIX
from chatbot.text.normalize import fold_for_match
from chatbot.text.sentences import split_sentences

__all__ = ["NEAR_MISSES", "Item", "accuracy", "items", "without_answer"]

NEAR_MISSES = 6  # sentences of the article's other paragraphs added as candidates
MIN_SENTENCE_CHARS = 20  # shorter "sentences" are fragments: no candidate


@dataclass(frozen=True)
class Item:
    """A question and its candidate sentences."""

    query: str
    candidates: tuple[str, ...]
    positives: tuple[int, ...]  # indices of the candidates that hold the answer

    def texts(self) -> list[str]:
        """The question, then the candidates, with e5's prefixes: the rows of one batch."""
        return [QUERY_PREFIX + self.query] + [PASSAGE_PREFIX + c for c in self.candidates]


def items(split: str, rng: random.Random) -> list[Item]:
    """Each question with its paragraph's sentences and a few of its article's other ones."""
    articles = piaf.load_articles()
    sentences_of: dict[str, list[str]] = {}

    def sentences(paragraph: str) -> list[str]:
        if paragraph not in sentences_of:
            sentences_of[paragraph] = [
                s.text for s in split_sentences(paragraph) if len(s.text) > MIN_SENTENCE_CHARS
            ]
        return sentences_of[paragraph]

    out = []
    for q in piaf.questions(split):
        own = sentences(q.paragraph)
        others = [
            s
            for p in articles[q.article]["paragraphs"]
            if p["context"] != q.paragraph
            for s in sentences(p["context"])
        ]
        near = rng.sample(others, min(NEAR_MISSES, len(others)))
        candidates = tuple(dict.fromkeys(own + near))
        positives = tuple(
            i
            for i, s in enumerate(candidates)
            if any(fold_for_match(a) in fold_for_match(s) for a in q.answers)
        )
        if not positives:
            continue
        if split == "train":
            emptied = (without_answer(candidates[i], q.answers) for i in positives)
            candidates += tuple(dict.fromkeys(d for d in emptied if d and d not in candidates))
        out.append(Item(q.question, candidates, positives))
    return out


def without_answer(sentence: str, answers: tuple[str, ...]) -> str | None:
    """`sentence` with its first answer span taken out (« Il en met en fait 97 pour arriver »
    -> « Il en met en fait pour arriver »), or None when no span is in it as written or too
    little is left."""
    for answer in answers:
        if answer and answer in sentence:
            rest = re.sub(r"\s+", " ", sentence.replace(answer, " ")).strip()
            rest = re.sub(r"\s+([,.;:])", r"\1", rest)
            if len(rest) >= MIN_SENTENCE_CHARS and rest != sentence:
                return rest
    return None


def accuracy(model: Any, frozen: int, cache: LowerCache, data: list[Item]) -> float:
    """Share of questions whose closest candidate holds the answer."""
    import torch

    hits = 0
    with torch.inference_mode():
        for item in data:
            hidden, mask = cache.batch(item.texts())
            v = upper(model, frozen, hidden, mask)
            hits += int(int(torch.argmax(v[1:] @ v[0])) in item.positives)
    return hits / max(1, len(data))
