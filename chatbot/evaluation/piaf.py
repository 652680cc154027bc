"""PIAF (French reading-comprehension questions on Wikipedia) as training and validation data.

The chatbot never serves PIAF. It learns general skills from it — which sentence of a passage
answers a question, whether a passage answers at all — and measures them on articles it was
not trained on. `../shared/datasets/piaf-train/` holds the training half of PIAF v1.1 (MIT);
its articles are split here, once and for all, into a training part and a validation part:
every fifth article (0, 5, 10…) is validation. Nothing fitted on PIAF sees a validation
article's questions.

The validation questions are written in the shared question format (../shared/EVAL_FORMAT.md),
so `chatbot eval` measures them like any question set: evidence is the sentence holding the
answer span, the fact is the span itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chatbot.config import PROJECT_ROOT
from chatbot.text.sentences import split_sentences

PIAF_FILE = PROJECT_ROOT.parent / "shared" / "datasets" / "piaf-train" / "piaf-v1.1-train.json"
VALIDATION_EVERY = 5  # every fifth article is validation: 48 of 240


@dataclass(frozen=True)
class PiafQuestion:
    qid: str
    question: str
    answers: tuple[str, ...]  # the answer span(s), as written in the paragraph
    paragraph: str
    answer_start: int  # character offset of the first answer in `paragraph`
    article: int  # position of the article in the file
    title: str

    def answer_sentence(self) -> str:
        """The sentence of the paragraph that holds the answer span (the whole span)."""
        end = self.answer_start + len(self.answers[0])
        for s in split_sentences(self.paragraph):
            if s.start <= self.answer_start and end <= s.end:
                return s.text
        return self.paragraph[max(0, self.answer_start - 60) : end + 60]


def load_articles(path: Path = PIAF_FILE) -> list[dict]:  # type: ignore[type-arg]
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data["data"])


def is_validation(article: int) -> bool:
    return article % VALIDATION_EVERY == 0


def questions(split: str, path: Path = PIAF_FILE) -> Iterator[PiafQuestion]:
    """The questions of the `train` or `validation` articles, in file order."""
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation'. Currently, it is {split!r}")
    for a, article in enumerate(load_articles(path)):
        if is_validation(a) != (split == "validation"):
            continue
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = tuple(
                    dict.fromkeys(x["text"] for x in qa["answers"] if x["text"].strip())
                )
                if not answers or not qa["question"].strip():
                    continue
                yield PiafQuestion(
                    qid=str(qa["id"]),
                    question=qa["question"].strip(),
                    answers=answers,
                    paragraph=context,
                    answer_start=int(qa["answers"][0]["answer_start"]),
                    article=a,
                    title=article["title"],
                )


def write_corpus(out_dir: Path, path: Path = PIAF_FILE) -> int:
    """One Markdown file per article (every article: validation ones are distractors too)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for a, article in enumerate(load_articles(path)):
        body = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
        title = article["title"].replace('"', "'")
        (out_dir / f"piaf-{a:03d}.md").write_text(
            f'---\ntitle: "{title}"\n---\n\n{body}\n', encoding="utf-8"
        )
    return len(load_articles(path))


def write_questions(out: Path, split: str = "validation", path: Path = PIAF_FILE) -> int:
    """The split's questions in the shared question format; returns how many."""
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for q in questions(split, path):
            evidence = _single_line(q.answer_sentence())
            record = {
                "id": f"piaf-{q.qid}",
                "question": q.question,
                "kind": "piaf",
                "answerable": True,
                "evidence": [evidence],
                "facts": [list(q.answers)],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


def _single_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
