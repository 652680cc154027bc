"""Abbreviations the documents define: a patient asks with one form, the answer uses the other."""

from __future__ import annotations

from chatbot.index.lexical import LexicalIndex
from chatbot.records import Document
from chatbot.text.abbreviations import find_abbreviations
from tests.helpers import fake_engine


def test_the_four_ways_french_text_defines_an_abbreviation_are_read():
    found = find_abbreviations(
        [
            "Nous allons aborder la question de l’éducation thérapeutique (ETP) à distance.",
            "Les lymphocytes B entrent dans le SNC (système nerveux central) par la barrière.",
            "L’OFSEP, Observatoire Francophone de la Sclérose en Plaques, est issu du grand emprunt.",
            "Les CRC sont les centres de ressource et compétence. 23 CRC SEP ont été labellisés.",
        ]
    )
    assert found == {
        "crc": "centres de ressource et compétence",
        "etp": "éducation thérapeutique",
        "ofsep": "Observatoire Francophone de la Sclérose en Plaques",
        "snc": "système nerveux central",
    }


def test_parentheses_and_appositions_that_spell_nothing_define_nothing():
    found = find_abbreviations(
        [
            "Pr Bruno Brochet (CRC SEP, service de neurologie, CHU de Bordeaux).",
            "Le CHU de Bordeaux (France) coordonne l'étude.",
            "L'AMM d'Ocrevus a été obtenue après deux études (OPERA I et II).",
            "Le CRC SEP, service de neurologie, reçoit les patients.",
        ]
    )
    assert found == {}


def test_a_long_form_is_a_name_not_the_sentence_around_it():
    found = find_abbreviations(
        [
            "Il s'adresse aux adhérents de la SFSEP, société francophone de SEP ou tout neurologue "
            "peut être inscrit, et aux autres.",
            "Il dirige le service de la sécurité militaire (DSM).",
        ]
    )
    # Not « …ou tout neurologue peut être inscrit »; and « de la sécurité militaire » opens on
    # a stop word: no name spells DSM there.
    assert found == {"sfsep": "société francophone de SEP"}


def test_the_index_keeps_the_definitions_it_read():
    index = LexicalIndex.build(
        [
            "L’éducation thérapeutique (ETP) se fait en ateliers.",
            "Le sport aide.",
            "Le repos aussi.",
        ]
    )
    again = LexicalIndex.from_arrays(index.to_arrays())
    assert again.abbreviations == {"etp": "éducation thérapeutique"}
    asked = again.query_terms("l etp c quoi")
    assert again.equivalent_terms(asked, again.terms) == set(again.query_terms("etp"))


def _centres(definition: str) -> list[Document]:
    texts = [
        ("vaccins", "Vaccins", "La vaccination contre la grippe est recommandée chaque année."),
        ("fatigue", "Fatigue", "La fatigue est un symptôme fréquent, qui pèse sur le travail."),
        ("sport", "Bougez !", "L'activité physique régulière est bénéfique dans la SEP."),
        (
            "structures",
            "Les structures de soins",
            f"{definition}\n\nVingt-trois CRC ont été labellisés en 2018 dans les régions.",
        ),
    ]
    return [
        Document(
            doc_id=doc_id,
            source=f"{doc_id}.md",
            title=title,
            authors=(),
            publication="Le Courrier de la Ligue",
            date="2020",
            text=text,
        )
        for doc_id, title, text in texts
    ]


def _coverage(definition: str, question: str) -> float:
    engine = fake_engine(docs=_centres(definition))
    _, ranked = engine.prepare(question, [])
    return next(s.coverage for s in ranked if s.sentence.text.startswith("Vingt-trois"))


def test_a_sentence_that_writes_the_short_form_holds_what_the_long_form_asks():
    question = "combien de centres de ressources et de competences ont ete labellises ?"
    defined = _coverage("Les CRC sont les centres de ressource et compétence.", question)
    undefined = _coverage(
        "Les centres coordonnent les soins de ressource et de compétence.", question
    )
    assert defined > undefined
    assert defined == 1.0


def test_the_abbreviation_of_what_every_document_is_about_is_not_written_out():
    # « SEP » in every passage tells none apart: it is not taken for its long form.
    index = LexicalIndex.build(
        [
            "La sclérose en plaques (SEP) touche les jeunes adultes.",
            "La SEP est plus fréquente chez les femmes.",
            "Un vaccin est recommandé dans la SEP.",
        ]
    )
    assert index.abbreviations == {"sep": "sclérose en plaques"}
    assert index.with_equivalents(frozenset(index.query_terms("la sep"))) == frozenset(
        index.query_terms("la sep")
    )
