"""How the extractive answer picks what it quotes: what a patient reads, sentence by sentence."""

from __future__ import annotations

from chatbot.answer import ExtractiveAnswerer, ScoredSentence, SentenceRanker, _quotable, compose
from chatbot.chunk import split_sentences
from chatbot.records import Chunk, Hit

TEXT = (
    "Transplantation de Cellules Souches Hématopoïétiques Autologues (AHSCT)\n\n"
    "Par le Dr Hélène Zéphir, Neurologue - Hôpital Roger Salengro, Lille\n\n"
    "Une étude a suivi 277 patients dont l'IRM montrait des anomalies découvertes par hasard. "
    "Ce résultat était retrouvé chez les hommes et chez les femmes. "
    "Par contre, la procédure reste réservée aux formes particulièrement actives."
)


def _hit() -> Hit:
    chunk = Chunk(
        chunk_id="greffe#0",
        doc_id="greffe",
        position=0,
        text=TEXT,
        sentences=tuple(split_sentences(TEXT)),
        source="greffe.md",
        title="Greffe",
    )
    return Hit(chunk=chunk, score=1.0, rank=1)


def _scored(hit: Hit, starting: str, score: float) -> ScoredSentence:
    i = next(i for i, s in enumerate(hit.chunk.sentences) if s.text.startswith(starting))
    return ScoredSentence(hit, hit.chunk.sentences[i], i, score, score, 0.0)


def _answerer() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(SentenceRanker.__new__(SentenceRanker), max_sentences=1, with_next=False)


def test_a_quote_that_refers_back_comes_with_the_sentence_it_refers_to():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Ce résultat", 0.9)])
    answer = compose(chosen, [hit])
    # "Ce résultat…" alone would not say which result: the study is quoted before it.
    assert "277 patients" in answer.text
    assert answer.text.index("277 patients") < answer.text.index("Ce résultat")
    assert answer.citations[0].quote in TEXT


def test_a_sentence_opening_on_par_contre_is_not_mistaken_for_a_byline():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Par contre", 0.9)])
    assert "formes particulièrement actives" in compose(chosen, [hit]).text


def test_headings_and_bylines_are_never_quoted_as_an_answer():
    quotable = [s.text for s in _hit().chunk.sentences if _quotable(s.text)]
    assert not any(t.startswith(("Transplantation", "Par le Dr")) for t in quotable)
    assert any(t.startswith("Par contre") for t in quotable)
