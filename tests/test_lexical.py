"""How patients' words meet the documents' words in the lexical index."""

from __future__ import annotations

import pytest

from chatbot.index.lexical import LexicalIndex

INDEX = LexicalIndex.build(
    [
        "Patients et neurologues témoignent de leur vécu avec la sclérose en plaques.",
        "La transplantation de cellules souches hématopoïétiques autologues.",
        "Le natalizumab et le satralizumab sont des anticorps.",
    ]
)


def test_a_word_of_the_same_family_finds_the_documents_word():
    # "témoignages" never occurs, "témoignent" does: same family, same documents.
    (term,) = INDEX.query_terms("y a des temoignages ?")
    assert term in INDEX.terms
    assert INDEX.search([term], 3)[0][0] == 0


def test_words_that_only_share_a_beginning_stay_apart():
    (term,) = INDEX.query_terms("transport")
    assert term not in INDEX.terms  # not "transplantation": an unknown word stays unknown


def test_a_drug_name_is_never_corrected_into_another_drug():
    assert INDEX.query_terms("natalizumab") != INDEX.query_terms("satralizumab")


def test_a_misspelt_word_is_not_read_as_a_dropped_apostrophe():
    index = LexicalIndex.build(
        ["Le laboratoire a obtenu un financement.", "L'espace numérique de santé."]
    )
    # "soutenu" is no "s'outenu" one letter from "obtenu" ...
    assert "obtenu" not in index.query_terms("quels laboratoires ont soutenu le congres")
    # ... while a real dropped apostrophe is still read as one.
    assert index.query_terms("lespace numerique") == index.query_terms("l'espace numérique")


def test_abbreviations_and_sms_words_meet_the_documents_words():
    index = LexicalIndex.build(["Comment se passent les perfusions à l'hôpital de jour ?"])
    # An abbreviation, in the plural too, finds the documents' word it begins ...
    assert index.query_terms("perfs") == index.query_terms("perfusions")
    assert index.query_terms("perf") == index.query_terms("perfusion")
    # ... and an SMS spelling of the general list is read as its word.
    typed = index.query_terms("cmt sa se passe les perfs pdt 1 an")
    assert typed == index.query_terms("comment ca se passe les perfusions pendant 1 an")


def test_the_model_reads_patients_words_with_the_documents_accents():
    index = LexicalIndex.build(
        ["Les poussées de la sclérose en plaques.", "Où aller ? Une poussée ou une rechute."]
    )
    # « ou » and « où » are both written in the documents: a typed « ou » stays as typed.
    assert (
        index.with_accents("les poussees de la sclerose, ou aller ?")
        == "les poussées de la sclérose, ou aller ?"
    )
    assert index.with_accents("Sclerose") == "Sclerose"  # a capital: as typed
    assert LexicalIndex.from_arrays(index.to_arrays()).accents == index.accents


def test_sms_spellings_are_written_out_for_the_model_but_not_words_or_abbreviations():
    from chatbot.text.lexicon import written_out

    assert written_out("c koi ds ma tete, jai peur") == "c quoi dans ma tete, j'ai peur"
    # « vs », « sa », « Pr » are also words or abbreviations of ordinary writing.
    assert written_out("le Pr Labauge, ocrevus vs kesimpta, sa fatigue") == (
        "le Pr Labauge, ocrevus vs kesimpta, sa fatigue"
    )


def test_a_brand_the_documents_never_write_is_completed_with_its_substance():
    from chatbot.text.lexicon import with_substances

    def documents_use(brand: str) -> bool:
        return brand == "ocrevus"

    assert with_substances("le Kesimpta c une piqure ?", documents_use) == (
        "le Kesimpta c une piqure ? (ofatumumab)"
    )
    # Written with its hyphen and accent, as on the box.
    assert "(méthylprednisolone)" in with_substances("un bolus de Solu-Médrol", documents_use)
    # One substance said once, however many of its brands are named.
    assert with_substances("avonex ou rebif ?", documents_use).endswith("(interféron bêta)")
    # A brand the documents write is searched as written; so is a message naming none.
    assert with_substances("et l'ocrevus ?", documents_use) == "et l'ocrevus ?"
    assert with_substances("la fatigue", documents_use) == "la fatigue"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("L'ocrélizumab (Ocrevus®) se donne en perfusion.", {"ocrelizumab"}),  # brand = substance
        ("les interférons et la biotine", {"interferon", "biotine"}),  # plural
        ("Copaxone ou acétate de glatiramère ?", {"glatiramere"}),
        ("le Tecfidera me donne des bouffées de chaleur", {"dimethyl"}),
        ("la fatigue après l'effort", set()),
    ],
)
def test_which_medicines_a_text_names(text, named):
    from chatbot.text.lexicon import medicines_named

    assert medicines_named(text) == named


def test_the_index_says_which_words_the_documents_use_as_written():
    index = LexicalIndex.build(["L'ocrelizumab (Ocrevus®) se donne en perfusion."])
    assert index.uses("ocrevus") and index.uses("perfusion")
    assert not index.uses("kesimpta")
    assert not index.uses("solu medrol") and not index.uses("")
