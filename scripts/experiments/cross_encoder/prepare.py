"""Step 1 of the cross-encoder experiment (README.md beside): (question, sentence, label) rows.

Training rows: PIAF's training questions (the answer's sentence against the other sentences of
its paragraph and three of another paragraph of the same article) and the questions the refusal
is fitted on, dev and the pairs (the engine's best 8 candidate sentences, a sentence positive
when it holds the question's facts or evidence; a near miss's are all negative). Validation
rows: the validation question sets (never test), the same way, with the shipped refusal's
probability; and 400 PIAF validation questions against their paragraph's sentences.

Run from the project root after `make index`: .venv/bin/python scripts/experiments/cross_encoder/prepare.py
"""

import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
from chatbot.answer.support import assess_support  # noqa: E402
from chatbot.build.finetune_task import MIN_SENTENCE_CHARS  # noqa: E402
from chatbot.config import Settings  # noqa: E402
from chatbot.engine import Engine  # noqa: E402
from chatbot.evaluation import piaf  # noqa: E402
from chatbot.evaluation.metrics import facts_covered, is_relevant  # noqa: E402
from chatbot.evaluation.questions import Question, read_questions  # noqa: E402
from chatbot.text.sentences import split_sentences  # noqa: E402

OUT = Path("build/ce_exp")
CANDIDATES = 8  # the ranker's best sentences scored per question
TRAIN_SETS = ("dev", "pairs")  # what the refusal is fitted on
VALIDATION_SETS = ("heldback", "bank", "story2", "conv", "short", "pairs2", "blind40", "brands")
PIAF_VALIDATION = 400


def corpus_rows(engine: Engine, name: str, split: str) -> list[dict]:
    """Each ordinary question of a set with the ranker's best sentences, labelled."""
    out = []
    for q in read_questions(Path(f"eval/{name}.jsonl")):
        if q.kind == "safety" or q.safety:
            continue
        request, ranked = engine.prepare(q.question, [])
        support = assess_support(engine.index, request, ranked, engine.calibration)
        candidates = [
            {"s": r.sentence.text, "pos": holds_answer(r.sentence.text, q), "score": r.score}
            for r in ranked[:CANDIDATES]
        ]
        out.append(row(name, split, q.id, q.question, bool(q.answerable), candidates))
        out[-1]["p"] = support.probability
    return out


def holds_answer(sentence: str, q: Question) -> bool:
    if not q.answerable:
        return False
    return bool(q.facts and facts_covered(sentence, q.facts)) or is_relevant(sentence, q)


def row(name: str, split: str, qid: str, question: str, answerable: bool, cands: list) -> dict:
    return {
        "set": name,
        "split": split,
        "id": qid,
        "q": question,
        "answerable": answerable,
        "cands": cands,
    }


def sentences(paragraph: str) -> list[str]:
    return [s.text for s in split_sentences(paragraph) if len(s.text) > MIN_SENTENCE_CHARS]


def piaf_rows() -> list[dict]:
    """PIAF's training questions: the answer's sentence against up to 7 others, from its
    paragraph first, then three from another paragraph of its article."""
    rng = random.Random(0)
    questions = list(piaf.questions("train"))
    articles: dict[int, set[str]] = {}
    for q in questions:
        articles.setdefault(q.article, set()).add(q.paragraph)
    out = []
    for q in questions:
        negatives = [s for s in sentences(q.paragraph) if q.answers[0] not in s]
        others = sorted(p for p in articles[q.article] if p != q.paragraph)
        if others:
            elsewhere = sentences(rng.choice(others))
            negatives += rng.sample(elsewhere, k=min(3, len(elsewhere)))
        cands = [{"s": q.answer_sentence(), "pos": True}]
        cands += [{"s": s, "pos": False} for s in negatives[:7]]
        out.append(row("piaf", "train", q.qid, q.question, True, cands))
    for q in list(piaf.questions("validation"))[:PIAF_VALIDATION]:
        cands = [{"s": s, "pos": any(a in s for a in q.answers)} for s in sentences(q.paragraph)]
        out.append(row("piafval", "val", q.qid, q.question, True, cands))
    return out


def main() -> None:
    engine = Engine.load(Settings())
    data = [r for name in TRAIN_SETS for r in corpus_rows(engine, name, "train")]
    data += [r for name in VALIDATION_SETS for r in corpus_rows(engine, name, "val")]
    data += piaf_rows()
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "rows.json", "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    print(Counter((d["set"], d["answerable"]) for d in data))


if __name__ == "__main__":
    main()
