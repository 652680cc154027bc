"""Questions about who wrote a document: what asks for the author, and whose name is looked for."""

from __future__ import annotations

import pytest

from chatbot.answer.byline import asks_author, surnames


@pytest.mark.parametrize(
    "question",
    [
        "qui a écrit l'article sur la fatigue ?",
        "ki a ecri le texte sur l'irm",
        "ce dossier est signé par quel médecin ?",
        "c'est qui l'auteur de l'édito ?",
        "et qui l'a rédigé ?",
        "et kel medecin a ecrit ca ?",
    ],
)
def test_a_question_about_who_wrote_asks_for_the_author(question):
    assert asks_author(question)


@pytest.mark.parametrize(
    "question",
    [
        "qui signale les effets secondaires ?",  # « signale » is not « signé »
        "qui peut avoir une greffe de cellules souches ?",
        "quel medecin prescrit l'ocrevus ?",
    ],
)
def test_other_questions_about_people_do_not(question):
    assert not asks_author(question)


def test_only_people_have_a_name_to_look_for():
    assert surnames(
        (
            "Dr Anne Blanchard-Dauphin (médecin, CHU de Lille)",
            "Emma (patiente)",
            "Le Courrier de la Ligue (article non signé)",
        )
    ) == ["Blanchard-Dauphin", "Emma"]
