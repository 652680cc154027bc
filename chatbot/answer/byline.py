"""Who wrote a document: answered by the document's own line that names its author.

« Qui a écrit l'article sur le sport ? » asks about the document, not about its subject: no
sentence of the article answers it, and the author's line (« Par le Dr … », a signature at the
end) is never quoted for other questions (text/sentences.py). When a question asks who wrote
the document (`asks_author`, profile/lang/document_conventions.tsv), the line that names one
of the authors of its front matter is quoted, with its `[n]`, from the retrieved document that
holds most of what the question names besides « qui a écrit l'article » (by rarity, the words
the documents use) — if it holds at least half of it. Otherwise, or when the document names no
author in its text (« article non signé »), the engine refuses: no other sentence answers it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from functools import lru_cache

from chatbot.answer.extract import compose
from chatbot.answer.rank import ScoredSentence
from chatbot.answer.support import passage_terms, translated_terms
from chatbot.index.store import Index
from chatbot.records import Answer, AnswerRequest, Chunk, Sentence
from chatbot.text.language import looks_english
from chatbot.text.lexicon import standard_words
from chatbot.text.normalize import content_terms, fold_words, words
from chatbot.text.sentences import ASKS_AUTHOR, DOCUMENT_NOUN, REFERENCE

# Share of the subject's weight the document must hold: the document is about what was named.
# A mechanism's setting, not fitted: half, so that one misspelt word of two does not refuse.
SUBJECT_SHARE = 0.5
MAX_LINE_WORDS = 25  # a signature line; a longer sentence naming the author is about something
# A title before a name in a front matter's author (« Dr Anne Blanchard-Dauphin (neurologue) »).
_TITLE = re.compile(r"^(?:Dr|Pr|Prof|Professeure?|Docteure?|Mme|M)\.?$")


def asks_author(question: str) -> bool:
    """Whether `question` asks who wrote the document it names (« ki a ecrit ce texte »…)."""
    return ASKS_AUTHOR.search(standard_words(question)) is not None


def surnames(authors: tuple[str, ...]) -> list[str]:
    """The family names of the authors that are people (« La rédaction de la revue » is not)."""
    out = []
    for author in authors:
        name = [w for w in author.split("(")[0].split() if not _TITLE.match(w)]
        if name and all(w[0].isupper() for w in name):
            out.append(name[-1])
    return out


def author_lines(index: Index, doc_id: str) -> list[tuple[Chunk, int, Sentence]]:
    """The short lines of the document that name its authors, the first for each, in order."""
    chunks = index.document_chunks(doc_id)
    names = [fold_words(n) for n in surnames(chunks[0].authors)] if chunks else []
    lines: dict[tuple[int, int], tuple[Chunk, int, Sentence]] = {}  # in reading order
    for chunk in chunks:
        for i, sentence in enumerate(chunk.sentences):
            text = sentence.text
            # A reference's author list (« Michel L, Grasmuck C… ») is long, or English.
            if len(words(text)) > MAX_LINE_WORDS or REFERENCE.search(text) or looks_english(text):
                continue
            folded = fold_words(text)
            for name in [n for n in names if re.search(rf"\b{re.escape(n)}\b", folded)]:
                names.remove(name)  # the first line that names each author
                lines[chunk.position, i] = (chunk, i, sentence)
    return list(lines.values())


def subject_share(
    index: Index, subject: str, weights: dict[str, float], doc_id: str
) -> tuple[float, float]:
    """How much of the `subject` (its terms, by rarity: `weights`) the document holds, and
    whether its title holds all of it (between two documents that both speak of fatigue,
    « l'article sur la fatigue » is the one titled with it; a title that holds only part of
    what was named decides nothing, retrieval's order does)."""
    chunks = index.document_chunks(doc_id)
    # A question names a document by its title, where it was published, or what it is about:
    # a word of it is said more than once (one mention of « grossesse » in an article on a
    # treatment does not make it « l'article sur la grossesse »).
    title = passage_terms(chunks[0].title) if chunks else frozenset()
    about = passage_terms(chunks[0].publication) if chunks else frozenset()
    present = _repeated_terms(index, doc_id) | title | about
    present |= translated_terms(index.lexical, subject, present)
    total = sum(weights.values())
    return (
        sum(w for t, w in weights.items() if t in present) / total,
        float(all(t in title for t in weights)),
    )


def author_answer(index: Index, request: AnswerRequest) -> Answer | None:
    """The best document's author line, quoted; None when it cannot answer (see the module)."""
    # What the question names besides « qui a écrit l'article », by rarity: the words the
    # documents use.
    lexical = index.lexical
    subject = DOCUMENT_NOUN.sub(" ", ASKS_AUTHOR.sub(" ", standard_words(request.search_query)))
    weights = {
        t: lexical.idf_of(t)
        for t in dict.fromkeys(lexical.query_terms(subject))
        if t in lexical.terms
    }
    # The document it names: of the retrieved ones, the one that holds most of it (retrieval
    # also weighed « qui a écrit l'article », which says nothing of it).
    documents = list(dict.fromkeys(h.chunk.doc_id for h in request.hits))
    if not weights or not documents:
        return None
    shares = [subject_share(index, subject, weights, d) for d in documents]
    best = max(shares)  # ties: the first retrieved
    if best[0] < SUBJECT_SHARE:
        return None
    found = author_lines(index, documents[shares.index(best)])
    if not found:
        return None
    # The quoted passages are what was used: first among the retrieved ones.
    chunks = list({chunk.chunk_id: chunk for chunk, _, _ in found}.values())
    retrieved = {h.chunk.chunk_id: h for h in request.hits}
    first = {
        c.chunk_id: replace(retrieved.get(c.chunk_id, request.hits[0]), chunk=c, rank=k)
        for k, c in enumerate(chunks, 1)
    }
    others = [h for h in request.hits if h.chunk.chunk_id not in first]
    hits = [*first.values(), *(replace(h, rank=k) for k, h in enumerate(others, len(first) + 1))]
    chosen = [ScoredSentence(first[c.chunk_id], s, i, 0.0, 0.0, 0.0) for c, i, s in found]
    answer = compose(chosen, hits)
    answer.notes.append("author_line")
    return answer


def _repeated_terms(index: Index, doc_id: str) -> frozenset[str]:
    """The terms that more than one sentence of the document uses (each sentence once: passages
    overlap, and a sentence two passages share is still one sentence)."""
    sentences = dict.fromkeys(s.text for c in index.document_chunks(doc_id) for s in c.sentences)
    return _repeated(tuple(sentences))


@lru_cache(maxsize=256)
def _repeated(sentences: tuple[str, ...]) -> frozenset[str]:
    counts = Counter(t for text in sentences for t in set(content_terms(text)))
    return frozenset(t for t, n in counts.items() if n >= 2)
