"""How the extractive answer picks what it quotes: what a patient reads, sentence by sentence."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chatbot.answer.extract import ExtractiveAnswerer, compose, quotable
from chatbot.answer.rank import ScoredSentence, SentenceRanker
from chatbot.answer.types import load_answer_types
from chatbot.records import Chunk, Hit
from chatbot.text.sentences import split_sentences

TEXT = (
    "Transplantation de Cellules Souches Hématopoïétiques Autologues (AHSCT)\n\n"
    "Par le Dr Hélène Zéphir, Neurologue - Hôpital Roger Salengro, Lille\n\n"
    "Une étude a suivi 277 patients dont l'IRM montrait des anomalies découvertes par hasard. "
    "Ce résultat était retrouvé chez les hommes et chez les femmes. "
    "Par contre, la procédure reste réservée aux formes particulièrement actives.\n\n"
    "Il a ainsi été montré que le risque était diminué de 32 %. "
    "Deux prix ont été décernés à de jeunes chercheurs :\n\n"
    "Nolwenn Jegou (Rennes) et Nilser Laines Medina (Marseille)\n\n"
    "Ces distinctions soulignent l'engagement de la nouvelle génération."
)


def _chunk(text: str, position: int = 0) -> Chunk:
    return Chunk(
        chunk_id=f"greffe#{position}",
        doc_id="greffe",
        position=position,
        text=text,
        sentences=tuple(split_sentences(text)),
        source="greffe.md",
        title="Greffe",
    )


def _hit(text: str = TEXT) -> Hit:
    return Hit(chunk=_chunk(text), score=1.0, rank=1)


def _scored(hit: Hit, starting: str, score: float) -> ScoredSentence:
    i = next(i for i, s in enumerate(hit.chunk.sentences) if s.text.startswith(starting))
    return ScoredSentence(hit, hit.chunk.sentences[i], i, score, score, 0.0)


def _answerer(*chunks: Chunk) -> ExtractiveAnswerer:
    ranker = SentenceRanker.__new__(SentenceRanker)
    ranker.index = SimpleNamespace(chunks=list(chunks))  # only its passages are looked at
    return ExtractiveAnswerer(
        ranker, max_sentences=1, margin=0.0, passage_margin=0.0, with_next=False
    )


def test_a_quote_that_refers_back_comes_with_the_sentence_it_refers_to():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Ce résultat", 0.9)])
    answer = compose(chosen, [hit])
    # "Ce résultat…" alone would not say which result: the study is quoted before it.
    assert "277 patients" in answer.text
    assert answer.text.index("277 patients") < answer.text.index("Ce résultat")


def test_a_sentence_opening_on_par_contre_is_not_mistaken_for_a_byline():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Par contre", 0.9)])
    assert "formes particulièrement actives" in compose(chosen, [hit]).text


def test_a_chain_of_sentences_referring_back_is_quoted_from_its_start():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Par contre", 0.9)])
    answer = compose(chosen, [hit])
    # « Par contre » follows « Ce résultat… », which means nothing without the study before it:
    # a reader sees the study first, then the two sentences that depend on it, in one quote.
    assert answer.text.index("277 patients") < answer.text.index("Ce résultat")
    assert answer.text.index("Ce résultat") < answer.text.index("Par contre")
    assert len(answer.citations) == 1


@pytest.mark.parametrize(
    ("sentence", "refers_back"),
    [
        ("Ces résultats sont encourageants pour les patients.", True),
        ("Par contre, il n’avait aucun effet sur la douleur.", True),
        ("Il n’y a pas de définition précise à cette expression.", False),  # impersonal, denied
        ("Il ne faut pas arrêter le traitement sans avis.", False),
        ("Il reçoit le traitement depuis deux ans.", True),
    ],
)
def test_which_sentences_mean_nothing_without_the_one_before(sentence, refers_back):
    from chatbot.answer.conversation import refers_to_previous_sentence

    assert refers_to_previous_sentence(sentence) is refers_back


def test_a_further_quote_on_another_medicine_only_is_left_out():
    from chatbot.answer.extract import on_the_medicines_asked
    from chatbot.records import AnswerRequest

    ocrevus = Hit(
        chunk=_chunk(
            "L'ocrélizumab a réduit les poussées de 46 %. Les perfusions ont lieu tous les 6 mois. "
            "Le groupe témoin recevait de l'interféron bêta trois fois par semaine.",
            0,
        ),
        score=1.0,
        rank=1,
    )
    biotine = Hit(
        chunk=_chunk("Cette étude sur la biotine à forte dose ne montre pas d'efficacité.", 1),
        score=0.9,
        rank=2,
    )
    ranked = [
        _scored(ocrevus, "L'ocrélizumab", 0.9),
        _scored(biotine, "Cette étude", 0.8),
        _scored(ocrevus, "Les perfusions", 0.7),  # names no medicine: about what is asked
        _scored(ocrevus, "Le groupe témoin", 0.6),  # its passage is Ocrevus's trial
    ]

    def kept(question: str) -> list[str]:
        request = AnswerRequest(
            question=question, search_query=question, hits=[], query_vector=None
        )
        return [s.sentence.text[:14] for s in on_the_medicines_asked(ranked, request)]

    # Asked about Ocrevus, a reader would take the biotin trial's failure for Ocrevus's.
    assert kept("l'ocrevus ça marche ?") == ["L'ocrélizumab ", "Les perfusions", "Le groupe témo"]
    # Asked about the biotin, the biotin's sentence comes first, though ranked second (a
    # sentence naming no medicine is not judged).
    assert kept("et la biotine ?") == ["Cette étude su", "Les perfusions"]
    # A question naming no medicine, or both, keeps every sentence; one naming a medicine no
    # sentence speaks of keeps them all too (whether to answer was decided before).
    assert len(kept("ça marche ?")) == len(kept("ocrevus ou biotine ?")) == 4
    assert len(kept("et le kesimpta ?")) == 4


def test_headings_and_bylines_are_never_quoted_as_an_answer():
    kept = [s.text for s in _hit().chunk.sentences if quotable(s.text)]
    assert not any(t.startswith(("Transplantation", "Par le Dr")) for t in kept)
    assert any(t.startswith("Par contre") for t in kept)


def test_an_impersonal_il_needs_no_preceding_sentence():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Il a ainsi", 0.9)])
    assert [s.sentence.text[:10] for s in chosen] == ["Il a ainsi"]


def test_a_sentence_announcing_a_list_comes_with_the_list():
    hit = _hit()
    chosen = _answerer().choose([_scored(hit, "Deux prix", 0.9)])
    text = compose(chosen, [hit]).text
    # The names are a short line without a full stop, which alone would pass for a heading.
    assert "Nolwenn Jegou (Rennes) et Nilser Laines Medina (Marseille)" in text
    assert "Ces distinctions" not in text


def test_a_list_cut_off_by_the_end_of_its_passage_is_taken_from_the_next_passage():
    announcing = "Deux prix ont été décernés à de jeunes chercheurs :"
    hit = _hit(f"Le congrès a eu lieu à Paris.\n\n{announcing}")
    following = _chunk(
        f"{announcing}\n\nNolwenn Jegou (Rennes) et Nilser Laines Medina (Marseille)", 1
    )
    chosen = _answerer(hit.chunk, following).choose([_scored(hit, "Deux prix", 0.9)])
    answer = compose(chosen, [hit])
    assert "Nolwenn Jegou" in answer.text
    # One quote, from the passage that holds both.
    assert len(answer.citations) == 1 and answer.citations[0].chunk.chunk_id == "greffe#1"


def test_a_quote_opening_its_passage_on_ce_takes_its_antecedent_from_the_passage_before():
    opening = "Ce qui signifie que 49 % des patients n'ont jamais eu de symptôme."
    earlier = _chunk(f"L'étude a suivi 277 patients. 51 % ont développé une SEP. {opening}", 0)
    hit = Hit(
        chunk=_chunk(f"{opening} Les facteurs de risque étaient connus.", 1), score=1.0, rank=1
    )
    chosen = _answerer(earlier, hit.chunk).choose([_scored(hit, "Ce qui", 0.9)])
    answer = compose(chosen, [hit])
    # « 49 % » alone reads as the answer to « how many develop MS »: what it follows is quoted
    # before it, in one quote from the passage that holds both.
    assert answer.text.index("51 % ont développé") < answer.text.index("49 %")
    assert len(answer.citations) == 1 and answer.citations[0].chunk.chunk_id == "greffe#0"


def test_a_quote_stays_in_its_passage_when_the_next_quote_refers_back_to_it():
    opening = "Par contre, ces séances n'ont eu aucun effet sur la douleur."
    earlier = _chunk(f"Les tests de marche étaient meilleurs. {opening}", 0)
    text = f"{opening} Ces travaux révèlent l'intérêt d'une activité régulière."
    hit = Hit(chunk=_chunk(text, 1), score=1.0, rank=1)
    ranked = [_scored(hit, "Ces travaux", 0.9), _scored(hit, "Par contre", 0.8)]
    answerer = _answerer(earlier, hit.chunk)
    answerer.max_sentences, answerer.margin = 2, 1.0
    answer = compose(answerer.choose(ranked), [hit])
    # Moved to the passage before, « Par contre… » would leave « Ces travaux… » on its own.
    assert "Par contre, ces séances n'ont eu aucun effet sur la douleur. Ces travaux" in answer.text


def test_the_best_passage_s_second_sentence_is_quoted_when_nearly_as_good():
    hit = _hit()
    answerer = ExtractiveAnswerer(
        _answerer().ranker, max_sentences=1, margin=0.0, passage_margin=0.1, with_next=False
    )

    def quoted(second_score: float) -> str:
        ranked = [_scored(hit, "Une étude", 0.9), _scored(hit, "Il a ainsi", second_score)]
        return " ".join(s.sentence.text for s in answerer.choose(ranked))

    assert "32 %" in quoted(0.85)
    assert "32 %" not in quoted(0.7)


def test_the_question_word_decides_the_type_of_value_asked_for():
    types = load_answer_types()
    dated = "Ce résultat a été annoncé le 10 mars 2020 par le laboratoire."
    every = "Deux perfusions initiales, puis tous les 6 mois."
    named = "Ils reçoivent une dotation annuelle par le Ministère de la Santé."
    plain = "La tolérance est globalement bonne chez les patients traités."
    cause = "Le chromosome X pourrait expliquer que la maladie soit plus fréquente chez les femmes."
    cases = {
        "c'était quand ?": ("date", dated),
        "c tous les combien ?": ("frequency", every),
        "et qui les paye ?": ("person", named),
        "pk plus de femmes ?": ("cause", cause),  # SMS spelling of « pourquoi »
        "c'est quoi l'ocrelizumab ?": (
            "definition",
            "L'ocrelizumab est un anticorps monoclonal humanisé.",
        ),
        "ca dure combien de temps une perfusion ?": ("duration", "La perfusion dure trois heures."),
        "ça coûte combien le programme ?": ("price", "La séance coûte 25 euros."),
    }
    for question, (kind, holding) in cases.items():
        assert types.asked(question) == kind, question
        assert types.holds_type(kind, holding) and not types.holds_type(kind, plain), question
    assert types.asked("tous les combien ?") == "frequency"  # before « combien »: a figure
    assert not types.holds_type("frequency", dated)
    # "qui" inside the question is a relative pronoun: no name is asked for.
    assert types.asked("les gens qui ont une sep peuvent se vacciner ?") is None


def test_a_figure_written_in_words_is_a_figure_and_a_year_is_not_a_count():
    types = load_answer_types()
    assert types.asked("il y a combien de centres ?") == "quantity"
    assert types.holds_type("quantity", "Douze centres ont participé à l'étude.")
    assert types.holds_type("quantity", "La maladie est contrôlée dans 70 % des cas à 5 ans.")
    assert not types.holds_type("quantity", "Un débat a eu lieu à l'ECTRIMS 2019 sur ce sujet.")


def test_the_sentence_most_likely_to_answer_is_what_the_reader_sees_first():
    hit = _hit()
    # The best sentence comes after another quote of the same passage in reading order.
    ranked = [_scored(hit, "Il a ainsi", 2.0), _scored(hit, "Une étude", 1.9)]
    answerer = ExtractiveAnswerer(
        _answerer().ranker, max_sentences=2, margin=0.5, passage_margin=0.0, with_next=False
    )
    text = compose(answerer.choose(ranked), [hit]).text
    first_quote = text.split("\n\n")[1]
    assert first_quote.startswith("Il a ainsi") and first_quote.endswith("[1]")
    assert "Une étude" in text.split("\n\n")[2]


def test_author_lists_and_affiliations_are_never_quoted():
    affiliations = (
        "Le groupe de recherche est composé de : Emmanuelle Leray, EA 7449 REPERES, Ecole des "
        "Hautes Etudes en Santé Publique (EHESP), Rennes, France ; Fabien Rollot, Sandra Vukusic."
    )
    assert not quotable(affiliations)
    assert quotable(
        "L’étude de la Biotine (Qizenday, MD1003, laboratoire MEDDAY) SPI2 est négative."
    )


def test_after_a_list_the_next_sentence_quoted_is_the_one_that_follows_the_list():
    hit = _hit()
    answerer = ExtractiveAnswerer(
        _answerer().ranker, max_sentences=1, margin=0.0, passage_margin=0.0, with_next=True
    )
    answer = compose(answerer.choose([_scored(hit, "Deux prix", 0.9)]), [hit])
    lines = [line for line in answer.text.splitlines() if line.strip()]
    # The names, then what follows them, each line with its marker: a line of names run
    # into the next sentence would read as one sentence.
    assert lines[-2].startswith("Deux prix") and lines[-2].endswith("(Marseille) [1]")
    assert lines[-1].startswith("Ces distinctions") and lines[-1].endswith("[2]")


def test_an_author_s_declaration_of_interests_is_never_quoted():
    declaration = (
        "Conflit d’intérêts de l’auteur : LM a reçu des honoraires de consultant des laboratoires "
        "pharmaceutiques suivants : Merck serono, Biogen, Roche, Teva, Novartis, Sanofi genzyme."
    )
    assert not quotable(declaration)


def test_a_journal_reference_is_never_quoted():
    # Both came out of the sport article's reference list, quoted for « quel sport choisir ? ».
    assert not quotable("Multiple Sclerosis and Related Disorders 28 (2019) 199–212.")
    assert not quotable("Volume 100, Issue 3, March 2019, Pages 391-400.")
    assert not quotable("Radiology. 2019 May;291(2):429-435")
    assert quotable(
        "L'étude ASCLEPIOS (2019) a comparé l'ofatumumab au tériflunomide chez 1 882 patients."
    )


def test_an_english_article_title_is_never_quoted():
    # Few of the English words `looks_english` counts, but none of French's function words.
    assert not quotable(
        "Activated leukocyte cell adhesion molecule regulates B lymphocyte migration across "
        "central nervous system barriers."
    )
    assert quotable("L’étude de tolérance n’a pas retrouvé de problème nouveau particulier.")
