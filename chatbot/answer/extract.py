"""Answer backends. The default one quotes the documents: no generator, grounded by construction.

The extractive answerer takes the sentences the ranker scored (rank.py), keeps the few that
answer the question, and quotes them verbatim, each followed by the `[n]` of its passage; the
sentence most likely to hold the answer is what the reader sees first. Whether the documents
answer at all is decided before (support.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from chatbot import texts_fr
from chatbot.answer.conversation import refers_to_previous_sentence
from chatbot.answer.rank import ScoredSentence, SentenceRanker
from chatbot.records import Answer, AnswerRequest, Chunk, Citation, Hit
from chatbot.text.language import looks_english
from chatbot.text.lexicon import medicines_named
from chatbot.text.sentences import BYLINE, SENTENCE_END, quotable


class AnswerBackend(Protocol):
    name: str

    def answer(self, request: AnswerRequest) -> Answer: ...


class ExtractiveAnswerer:
    """Quotes the sentences that answer, each with its `[n]` citation."""

    name = "extractive"

    def __init__(
        self,
        ranker: SentenceRanker,
        max_sentences: int,
        margin: float,
        passage_margin: float,
        with_next: bool,
    ) -> None:
        if max_sentences <= 0:
            raise ValueError(
                f"max_sentences must be greater than 0. Currently, it is {max_sentences}"
            )
        self.ranker = ranker
        self.max_sentences = max_sentences
        # Further sentences are quoted when their log-odds are this close to the best one's.
        self.margin = margin
        # The best passage's next best sentence, within this wider margin: it costs no further
        # source, and often holds the figure the best one leads to.
        self.passage_margin = passage_margin
        # The sentence that matches a question best often sets the scene (« 300 patients ont été
        # suivis 10 ans ») and the next one holds the answer (« la moitié ont… »).
        self.with_next = with_next
        self._positions: dict[str, int] | None = None  # chunk id -> row, made on first use

    def answer(self, request: AnswerRequest, ranked: list[ScoredSentence] | None = None) -> Answer:
        ranked = self.ranker.rank(request) if ranked is None else ranked
        chosen = self.choose(on_the_medicines_asked(ranked, request))
        if not chosen:
            return Answer(text=texts_fr.REFUSAL, refused=True, retrieved=request.hits)
        return compose(chosen, request.hits)

    def choose(self, ranked: list[ScoredSentence]) -> list[ScoredSentence]:
        if not ranked:
            return []
        best = self._with_room_after(ranked[0])
        chosen = [best]
        # After a sentence that announces a list, "the next one" is the one after the list:
        # « …trois bourses ont été attribuées : » | names | « Leurs travaux
        # portent sur…".
        listed = _announced(best)
        following = _next_sentence(listed[-1] if listed else best) if self.with_next else None
        chosen += listed
        if following is not None:
            chosen.append(following)
        taken = {s.sentence.text for s in chosen}
        for s in ranked[1:]:
            if len(chosen) >= self.max_sentences or s.score < best.score - self.margin:
                break
            if s.sentence.text not in taken:
                chosen.append(s)
                taken.add(s.sentence.text)
        for s in ranked[1:]:
            if s.score < best.score - self.passage_margin:
                break
            if s.hit.chunk.chunk_id == best.hit.chunk.chunk_id and s.sentence.text not in taken:
                chosen.append(s)
                taken.add(s.sentence.text)
                break
        # A quote that opens on "Ce résultat…", "Ces patients…" or "Ils…" means nothing, or
        # something else, without the sentence it refers to: that sentence is quoted too. One
        # that ends on « …trois bourses ont été attribuées : » comes with what
        # it announces.
        for k, s in enumerate(list(chosen)):
            if s.sentence.text.endswith(":"):
                s = chosen[k] = self._with_room_after(s)
            before: list[ScoredSentence] = []
            if refers_to_previous_sentence(s.sentence.text):
                s = chosen[k] = self._with_room_before(s, chosen)
                before = _antecedents(s)
            for c in before + _announced(s):
                if c.sentence.text not in taken:
                    chosen.append(c)
                    taken.add(c.sentence.text)
        return chosen

    def _with_room_after(self, s: ScoredSentence) -> ScoredSentence:
        """`s`, or the same sentence in the document's next passage when `s` ends its own.

        Passages overlap, so a sentence cut off from what follows it ("…décernés à de jeunes
        attribuées :" | "Anne Martin et Paul Durand") is whole in the next one.
        """
        if s.index + 1 < len(s.hit.chunk.sentences):
            return s
        return self._in_adjacent_chunk(s, 1)

    def _with_room_before(self, s: ScoredSentence, chosen: list[ScoredSentence]) -> ScoredSentence:
        """`s`, or the same sentence in the document's previous passage when `s` opens its own.

        A passage may open on « Ce qui signifie également que 49 % des patients… », whose
        antecedent (« 51 % des patients ont développé… ») ends the previous passage, where the
        same sentence is whole, the overlap of passages holding it. Unless the next quoted
        sentence refers back to `s` in turn: moved, `s` would leave that one without its own.
        """
        if s.index > 0:
            return s
        follower = _next_sentence(s)
        if (
            follower is not None
            and refers_to_previous_sentence(follower.sentence.text)
            and any(c.sentence.text == follower.sentence.text for c in chosen)
        ):
            return s
        return self._in_adjacent_chunk(s, -1)

    def _in_adjacent_chunk(self, s: ScoredSentence, step: int) -> ScoredSentence:
        """`s` as the document's next (`step` 1) or previous (-1) passage holds it — not as
        that passage's last (or first) sentence, where it would be cut off again — or `s`."""
        other = self._adjacent_chunk(s.hit.chunk, step)
        if other is None:
            return s
        n = len(other.sentences)
        for i in range(n - 1) if step > 0 else range(1, n):
            if other.sentences[i].text == s.sentence.text:
                return replace(
                    s, hit=replace(s.hit, chunk=other), sentence=other.sentences[i], index=i
                )
        return s

    def _adjacent_chunk(self, chunk: Chunk, step: int) -> Chunk | None:
        """The document's next (`step` 1) or previous (-1) passage, if any."""
        chunks = self.ranker.index.chunks
        if self._positions is None:
            self._positions = {c.chunk_id: i for i, c in enumerate(chunks)}
        i = self._positions.get(chunk.chunk_id)
        if i is None or not 0 <= i + step < len(chunks) or chunks[i + step].doc_id != chunk.doc_id:
            return None
        return chunks[i + step]


def on_the_medicines_asked(
    ranked: list[ScoredSentence], request: AnswerRequest
) -> list[ScoredSentence]:
    """`ranked` without the sentences that speak of other medicines only, in a passage that
    never names the one the question names (or the conversation does): asked about one
    medicine, a patient reading that another one's trial showed no effect would take it for
    the one asked. A sentence naming only the comparator of a trial of the asked medicine
    (« …versus un autre traitement… ») stays, its passage naming both. When no sentence speaks
    of the asked medicine, `ranked` as it is: whether the documents answer was decided before,
    on all of them, and a quote that names its medicine misleads no one."""
    asked = medicines_named(request.question) or medicines_named(request.search_query)
    if not asked or not ranked:
        return ranked

    def speaks_of_it(s: ScoredSentence) -> bool:
        return bool(medicines_named(s.sentence.text) & asked) or bool(
            medicines_named(s.hit.chunk.text) & asked
        )

    kept = [s for s in ranked if not medicines_named(s.sentence.text) or speaks_of_it(s)]
    # Only when some sentence does speak of it: else a sentence naming no medicine, from another
    # medicine's passage (« les perfusions ont lieu tous les 6 mois »), would be put first.
    return kept if any(speaks_of_it(s) for s in kept) else ranked


def _announced(s: ScoredSentence, most: int = 4) -> list[ScoredSentence]:
    """The lines a sentence ending with a colon introduces: a list, names, a link."""
    if not s.sentence.text.endswith(":"):
        return []
    sentences = s.hit.chunk.sentences
    out: list[ScoredSentence] = []
    for i in range(s.index + 1, min(s.index + 1 + most, len(sentences))):
        text = sentences[i].text
        # What the colon announces may start a paragraph; a further paragraph is something else.
        new_paragraph = (
            i > s.index + 1
            and "\n\n" in s.hit.chunk.text[sentences[i - 1].end : sentences[i].start]
        )
        if new_paragraph or BYLINE.match(text) or text.endswith("?") or looks_english(text):
            break
        out.append(ScoredSentence(s.hit, sentences[i], i, s.score, s.dense, 0.0))
        if text.endswith((".", "!", "…")):  # the end of the list
            break
    return out


def _antecedents(s: ScoredSentence) -> list[ScoredSentence]:
    """The sentences before `s` that it needs to mean what it says: the one before it, and the
    one before that while each refers back in turn (« Une méthode de gymnastique… » | « Elle
    est douce… » | « Cette revue a recensé… »), within the passage."""
    out: list[ScoredSentence] = []
    current = s
    while refers_to_previous_sentence(current.sentence.text):
        before = _previous_sentence(current)
        if before is None:
            break
        out.append(before)
        current = before
    return out


def _next_sentence(s: ScoredSentence) -> ScoredSentence | None:
    return _neighbour(s, s.index + 1)


def _previous_sentence(s: ScoredSentence) -> ScoredSentence | None:
    return _neighbour(s, s.index - 1)


def _neighbour(s: ScoredSentence, i: int) -> ScoredSentence | None:
    sentences = s.hit.chunk.sentences
    if not 0 <= i < len(sentences) or not quotable(sentences[i].text):
        return None
    return ScoredSentence(s.hit, sentences[i], i, s.score, s.dense, 0.0)


def compose(chosen: list[ScoredSentence], hits: list[Hit]) -> Answer:
    """Lead-in, then the quoted sentences grouped by passage, with markers.

    Passages come in the order of their best sentence, and the run of sentences holding the
    best one comes first.
    """
    by_chunk: dict[str, list[ScoredSentence]] = {}
    for s in chosen:
        by_chunk.setdefault(s.hit.chunk.chunk_id, []).append(s)
    # Passages in the order of their best sentence; sentences in reading order inside each.
    citations: list[Citation] = []
    lines = [texts_fr.LEAD_IN, ""]
    best = chosen[0].sentence.text
    for group in by_chunk.values():
        group.sort(key=lambda s: s.index)
        runs = _contiguous_runs(group)
        # What a reader sees first is the sentence most likely to answer; the passage's other
        # quotes follow in reading order.
        runs.sort(key=lambda run: all(s.sentence.text != best for s in run))
        for run in runs:
            chunk: Chunk = run[0].hit.chunk
            n = len(citations) + 1
            quote = chunk.text[run[0].sentence.start : run[-1].sentence.end]
            citations.append(Citation(n=n, chunk=chunk, quote=quote))
            lines.append(f"{' '.join(s.sentence.text for s in run)} [{n}]")
            lines.append("")
    return Answer(text="\n".join(lines).rstrip(), citations=citations, retrieved=hits)


def _contiguous_runs(group: list[ScoredSentence]) -> list[list[ScoredSentence]]:
    """Adjacent sentences quoted together, as one span under one marker.

    A line that does not end like a sentence (a list of names, a list item) closes its span:
    "… Paul Durand (Lyon)" and "Leurs travaux portent sur…" would read as one
    sentence if joined.
    """
    runs: list[list[ScoredSentence]] = []
    for s in group:
        previous = runs[-1][-1] if runs else None
        if (
            previous
            and s.index == previous.index + 1
            and SENTENCE_END.search(previous.sentence.text)
        ):
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs
