"""The engine as a patient meets it: cited quotes, refusals, follow-ups, bad input, safety."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from chatbot.answer.conversation import contextualize
from chatbot.errors import IndexMismatch, IndexMissing, InvalidQuestion
from chatbot.index.fake import FakeEmbedder
from chatbot.index.store import load_index, save_index
from chatbot.text.normalize import fold_for_match
from tests.helpers import DOCS, fake_engine


@pytest.fixture(scope="module")
def engine():
    return fake_engine()


def test_answer_quotes_the_document_with_a_numbered_citation(engine):
    answer = engine.ask(
        "combien de patients traites par ocrelizumab ont une reaction a la perfusion ?"
    )
    assert not answer.refused
    assert answer.text.splitlines()[0].startswith("Voici ce que disent")
    assert "34% des patients" in answer.text
    assert answer.citations and answer.citations[0].n == 1
    cited = answer.citations[0]
    assert cited.chunk.title.startswith("Une avancée thérapeutique")
    assert cited.chunk.authors == ("Dr Laure Michel",)
    # Every marked line the patient reads is inside the passage its marker opens.
    for line in answer.text.splitlines()[1:]:
        for n in re.findall(r"\[(\d+)\]", line):
            passage = answer.citations[int(n) - 1].chunk.text
            assert fold_for_match(re.sub(r"\[\d+\]", "", line)) in fold_for_match(passage)


def test_typos_and_missing_accents_still_find_the_passage(engine):
    answer = engine.ask("la biotinne a forte dose ca marche pour la marhce ?")
    assert not answer.refused
    assert answer.citations[0].chunk.doc_id == "biotine"


def test_question_the_documents_do_not_answer_is_refused_plainly(engine):
    answer = engine.ask("Est-ce que la vitamine D et le tabac jouent un role ?")
    assert answer.refused
    assert answer.text.startswith("Je n'ai pas trouvé la réponse dans les documents")
    assert answer.citations == []


def test_a_refusal_names_the_nearest_documents_without_quoting_them(engine):
    answer = engine.ask("Est-ce que la vitamine D et le tabac jouent un role ?")
    assert answer.refused and answer.citations == [] and "[1]" not in answer.text
    docs = [c.doc_id for c in answer.nearby]
    assert 0 < len(docs) <= engine.settings.nearby_documents and len(set(docs)) == len(docs)
    # The nearest document first, each by one of its retrieved passages.
    assert answer.nearby[0].doc_id == answer.retrieved[0].chunk.doc_id
    assert {c.chunk_id for c in answer.nearby} <= {h.chunk.chunk_id for h in answer.retrieved}
    assert answer.to_result("q", "…")["nearby"][0]["title"] == answer.nearby[0].title


def test_an_answer_names_no_nearby_document(engine):
    answer = engine.ask("la biotine a forte dose ca marche ?")
    assert answer.citations and answer.nearby == []


def test_follow_up_uses_the_conversation(engine):
    history = [
        {"role": "user", "content": "C'est quoi l'ocrelizumab ?"},
        {"role": "assistant", "content": "L'ocrelizumab est un anticorps monoclonal [1]"},
    ]
    answer = engine.ask("Et ses effets secondaires ?", history)
    assert not answer.refused
    assert answer.citations[0].chunk.doc_id == "ocrelizumab"


@pytest.mark.parametrize(
    ("question", "carried"),
    [
        ("c'est remboursé ?", True),  # a bare pronoun: about the previous subject
        ("ça marche ?", True),
        ("Et ses effets secondaires ?", True),
        ("la biotine, ça marche ?", False),  # the pronoun takes up the words before it
        ("l'interféron il fait vivre plus longtemps ?", False),
        ("on peut tomber enceinte avec ?", True),  # a preposition left hanging
        ("faut-il du gadolinium à chaque IRM ?", False),  # an impersonal "il" points nowhere
        ("y a-t-il un programme contre la fatigue ?", False),
        # an acknowledgement opening the question continues the previous turn, however written
        ("ok, et la fatigue ?", True),
        ("dacc, et ca se soigne ?", True),
        ("okay et le prix ?", True),
    ],
)
def test_a_new_subject_in_a_conversation_is_not_mixed_with_the_previous_one(question, carried):
    history = [
        {"role": "user", "content": "Qui a reçu les prix jeunes chercheurs ?"},
        {"role": "assistant", "content": "Deux prix ont été décernés [1]"},
    ]
    assert ("chercheurs" in contextualize(question, history)) is carried


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Bonjour !", "pas un médecin"),
        ("slt", "pas un médecin"),
        ("Bonjour à tous !", "pas un médecin"),
        ("coucou, ça va ?", "pas un médecin"),
        ("merci beaucoup", "Je vous en prie"),
        ("bonsoir, merci beaucoup", "Je vous en prie"),
    ],
)
def test_greetings_and_thanks_are_answered_as_such_not_searched(engine, message, expected):
    history = [
        {"role": "user", "content": "C'est quoi l'ocrelizumab ?"},
        {"role": "assistant", "content": "…"},
    ]
    answer = engine.ask(message, history)
    assert expected in answer.text
    assert not answer.citations and not answer.refused and answer.safety is None


def test_a_word_the_documents_never_use_starts_a_new_subject():
    history = [
        {"role": "user", "content": "C'est quoi l'ocrelizumab ?"},
        {"role": "assistant", "content": "…"},
    ]
    unknown = {"vitamine"}  # the words the documents never use, here

    def new_word(message: str) -> bool:
        return any(w in unknown for w in message.split())

    assert contextualize("ça aide ?", history, new_word) != "ça aide ?"
    assert contextualize("la vitamine D ça aide ?", history, new_word) == "la vitamine D ça aide ?"


def test_a_follow_up_of_a_follow_up_keeps_the_first_subject():
    history = [
        {"role": "user", "content": "mon neuro me propose l'ocrevus"},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": "c'est dangereux ?"},
        {"role": "assistant", "content": "…"},
    ]
    assert "ocrevus" in contextualize("Et ses effets secondaires ?", history)


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("?!", "empty"),
        ("a" * 50_000, "too_long"),
        (None, "empty"),
    ],
)
def test_bad_input_is_refused_with_a_reason(engine, question, reason):
    with pytest.raises(InvalidQuestion) as exc:
        engine.ask(question)
    assert exc.value.reason == reason


def test_question_in_english_is_asked_again_in_french(engine):
    with pytest.raises(InvalidQuestion) as exc:
        engine.ask("What are the side effects of ocrelizumab?")
    assert exc.value.reason == "not_french"


def test_emergency_is_sent_to_the_emergency_services_before_retrieval(engine):
    answer = engine.ask("je vois plus rien de l'oeil gauche depuis ce matin")
    assert answer.safety == "emergency"
    assert "15" in answer.text and "112" in answer.text
    assert answer.retrieved == [] and answer.citations == []


def test_result_record_has_the_shared_format(engine):
    result = engine.ask("Le pilates aide pour la fatigue ?").to_result(
        "q1", "Le pilates aide pour la fatigue ?"
    )
    assert set(result) >= {
        "id",
        "question",
        "answer",
        "refused",
        "safety",
        "citations",
        "retrieved",
        "timings_ms",
    }
    assert {"retrieve", "answer", "total"} <= set(result["timings_ms"])
    c = result["citations"][0]
    assert set(c) >= {"n", "chunk_id", "source", "title", "author", "date", "quote", "text"}
    assert c["source"] == "sport.md"
    assert [r["rank"] for r in result["retrieved"]] == list(range(1, len(result["retrieved"]) + 1))
    json.dumps(result)  # serialisable as one JSON line


def test_dense_ranking_matches_brute_force(engine):
    query = "reaction a la perfusion"
    vector = engine.embedder.encode_query([query])[0]
    hits = engine.retriever.search(query, top_k=3, mode="dense").hits
    matrix = engine.embedder.encode_document([f"{c.title}\n{c.text}" for c in engine.index.chunks])
    brute = np.sort(matrix @ vector)[::-1][:3]
    by_id = {c.chunk_id: i for i, c in enumerate(engine.index.chunks)}
    got = [float(matrix[by_id[h.chunk.chunk_id]] @ vector) for h in hits]
    assert got == pytest.approx(list(brute), abs=1e-6)


def test_no_chunk_exceeds_the_token_budget(engine):
    counts = engine.embedder.count_tokens([c.text for c in engine.index.chunks])
    assert max(counts) <= 60


def test_saved_index_loads_and_stale_or_foreign_index_is_refused(tmp_path, engine):
    save_index(engine.index, tmp_path / "ix")
    loaded = load_index(tmp_path / "ix", engine.embedder, corpus_digest="test")
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in engine.index.chunks]
    with pytest.raises(IndexMismatch, match="make index"):
        load_index(tmp_path / "ix", engine.embedder, corpus_digest="changed")
    other = FakeEmbedder()
    other.weights_sha256 = "another-model"
    with pytest.raises(IndexMismatch, match="modèle"):
        load_index(tmp_path / "ix", other, corpus_digest="test")
    with pytest.raises(IndexMissing):
        load_index(tmp_path / "nothing", engine.embedder)


def test_a_sentence_of_a_document_is_cited_from_that_document(engine):
    for doc in DOCS:
        answer = engine.ask(doc.text.split(".")[0])
        assert answer.citations and answer.citations[0].chunk.doc_id == doc.doc_id


def test_a_reference_list_does_not_outrank_the_passage_that_answers():
    from chatbot.records import Document

    reference = Document(
        doc_id="references",
        source="references.md",
        title="Références",
        text=(
            "The Effects of Dance and Adapted Yoga on Balance in People With Multiple Sclerosis. "
            "Archives of Physical Medicine and Rehabilitation, 2019."
        ),
    )
    study = Document(
        doc_id="danse",
        source="danse.md",
        title="Bougez !",
        text=(
            "Une équipe a comparé la danse et le yoga adapté pendant douze semaines. "
            "Les tests d'équilibre étaient meilleurs chez les patients qui dansaient."
        ),
    )
    engine = fake_engine(docs=[reference, study])
    vector = engine.embedder.encode_query(["yoga ou danse pour l'equilibre"])[0]
    # The English title of a reference is no answer for a patient: it ranks no passage by its
    # sentence, so the study comes first ...
    ranked = engine.retriever._by_sentence(vector, 10)
    assert [engine.index.chunks[i].doc_id for i, _ in ranked] == ["danse"]
    # ... and is what the answer quotes.
    answer = engine.ask("yoga ou danse pour l'equilibre ?")
    assert {c.chunk.doc_id for c in answer.citations} == {"danse"}


def test_who_wrote_a_passage_does_not_decide_what_it_is_found_for():
    from chatbot.index.store import passage_text
    from chatbot.records import Document

    intro = Document(
        doc_id="sport",
        source="sport.md",
        title="Bougez !",
        text=(
            "Par le Dr Anne Blanchard-Dauphin, Médecin de Médecine Physique et Réadaptation, CHU de Lille\n\n"
            "Il est désormais connu que le sport est bénéfique."
        ),
    )
    engine = fake_engine(docs=[intro])
    chunk = engine.index.chunks[0]
    # The author's specialty is no "activité physique": neither embedded nor searched ...
    assert "Réadaptation" not in passage_text(chunk)
    assert not {"readapt", "lill"} & set(engine.index.lexical.terms)
    # ... while the passage shown and cited keeps its byline.
    assert chunk.text.startswith("Par le Dr Anne Blanchard-Dauphin")


def test_a_story_before_the_question_does_not_make_the_documents_look_silent(engine):
    # Read with its opening, the question held words the documents never use (« gamins »,
    # « caissière ») and was refused; only what is asked is judged now.
    answer = engine.ask(
        "Je cours partout avec mes trois gamins et mon boulot de caissiere. "
        "La biotine a forte dose ca marche pour la marche ?"
    )
    assert not answer.refused
    assert answer.citations[0].chunk.doc_id == "biotine"


def test_an_opening_that_names_the_subject_still_guides_retrieval(engine):
    message = "J'ai lu un article sur la biotine a forte dose. Ca marche pour la marche ?"
    answer = engine.ask(message)
    assert not answer.refused
    assert answer.citations[0].chunk.doc_id == "biotine"
    request, _ = engine.prepare(message, [])
    assert request.question == "Ca marche pour la marche ?"


@pytest.mark.parametrize(
    ("message", "asked"),
    [
        (
            "Mon mari est perdu. Il existe des centres pour le suivre ?",
            "Il existe des centres pour le suivre ?",
        ),
        ("C'est quoi l'ocrelizumab ? Ça se prend comment ?", None),  # two questions: both asked
        ("La biotine, ça marche ?", None),
        ("J'ai lu un article sur la biotine. Voilà.", None),  # no question: kept whole
    ],
)
def test_only_a_two_sentence_message_ending_on_its_question_is_split(message, asked):
    from chatbot.answer.conversation import split_question

    assert split_question(message) == (asked or message, message)


def test_a_message_announcing_a_new_subject_is_no_follow_up(engine):
    history = [
        {"role": "user", "content": "C'est quoi l'ocrelizumab ?"},
        {"role": "assistant", "content": "L'ocrelizumab est un anticorps monoclonal [1]"},
    ]
    # « sinon » alone takes the previous subject up; « sinon rien à voir, » announces a new one,
    # and its words are no words of the question.
    from chatbot.engine import read_message
    from chatbot.safety.detector import patterns_only

    message = "sinon rien a voir, la biotine a forte dose ca marche pour la marche ?"
    reading = read_message(message, patterns_only().assess(message))
    request, _ = engine.prepare(reading.asked, history, new_subject=reading.new_subject)
    assert request.search_query == "la biotine a forte dose ca marche pour la marche ?"
    answer = engine.ask("Autre question : la biotine a forte dose ca marche ?", history)
    assert not answer.refused
    assert answer.citations[0].chunk.doc_id == "biotine"


@pytest.mark.parametrize(
    ("message", "read"),
    [
        ("sinon rien à voir, c'est quoi l'ALCAM ?", "c'est quoi l'ALCAM ?"),
        ("rien a voir mais le pilates ca aide ?", "le pilates ca aide ?"),
        ("Changement de sujet : la greffe ?", "la greffe ?"),
        # no announcement: the words are part of the question
        ("autre chose que la cortisone pour les poussees ?", None),
        ("sinon c'est remboursé ?", None),
    ],
)
def test_the_announcement_of_a_new_subject_is_read_off(message, read):
    from chatbot.text.lexicon import without_topic_change

    assert without_topic_change(message) == (read or message)


@pytest.mark.parametrize(
    ("message", "read"),
    [
        ("ok merci ! autre question : la greffe ?", "autre question : la greffe ?"),
        ("D'accord. Et pour les enfants ?", "Et pour les enfants ?"),
        ("merci beaucoup... et la biotine ?", "et la biotine ?"),
        # « ok » opening the question itself continues the previous turn: kept
        ("ok et pour les enfants ?", None),
        # nothing but small talk: kept, answered as such
        ("ok merci !", None),
        # not small talk
        ("ah dommage. et ils l'ont annonce quand ?", None),
    ],
)
def test_an_acknowledgement_before_the_question_is_read_off(message, read):
    from chatbot.answer.conversation import without_small_talk

    assert without_small_talk(message) == (read or message)


@pytest.mark.parametrize(
    ("message", "asks"),
    [
        # a question mark, or the words of a question typed without one
        ("le velo ca fatigue plus ?", True),
        ("la kine c rembourse ou pas", True),
        ("pk les poussees reviennent en ete", True),
        ("cb de temps dure une perfusion", True),
        ("les resultats de l etude sont sortis qd", True),
        ("peut on faire du yoga avec une sep", True),
        ("dites moi ce que fait le ponesimod", True),
        ("je voudrais savoir si la chaleur joue", True),
        ("petite question sur le tabac", True),
        # SMS spellings, read as written out (« jpeu » -> « je peux », « c » -> « c'est »)
        ("jpeu prendre mon ttt le soir plutot", True),
        ("c grave si joublie une gelule", True),
        # a decision told, nothing asked
        ("jarrete mes piqures la semaine pro, trop fatiguee", False),
        ("Mon mari a décidé de ne plus prendre son traitement pendant les vacances.", False),
        ("je double la dose de baclofene ce soir", False),
        ("le rebif jarrete, c bon jen ai assez", False),
        ("mes cachets jles prends plus, jattends que ca passe", False),
        # a set phrase of an intonation question, negated, tells (« ça sert à rien »)
        ("g arrete les perfusions, de toute facon ca sert plus a rien", False),
        ("ca marche pas ce truc, je le prends plus", False),
        ("ca sert a quelque chose le baclofene", True),
    ],
)
def test_a_message_asks_something_with_or_without_a_question_mark(message, asks):
    from chatbot.answer.conversation import asks_something

    assert asks_something(message) is asks


def test_after_an_acknowledgement_an_announced_subject_continues_nothing(engine):
    history = [
        {"role": "user", "content": "C'est quoi l'ocrelizumab ?"},
        {"role": "assistant", "content": "L'ocrelizumab est un anticorps monoclonal [1]"},
    ]
    from chatbot.engine import read_message
    from chatbot.safety.detector import patterns_only

    # « avec ? » at the end would make it a follow-up; the announcement says it is none.
    for message in (
        "ok merci ! autre question, la biotine a forte dose ca marche mieux qu'avec ?",
        "autre chose, la biotine a forte dose ca marche mieux qu'avec ?",
    ):
        reading = read_message(message, patterns_only().assess(message))
        assert reading.new_subject
        request, _ = engine.prepare(reading.asked, history, new_subject=reading.new_subject)
        assert request.search_query == "la biotine a forte dose ca marche mieux qu'avec ?"
    # Without an announcement, the same words continue the conversation.
    request, _ = engine.prepare("la biotine a forte dose ca marche mieux qu'avec ?", history)
    assert request.search_query != "la biotine a forte dose ca marche mieux qu'avec ?"


def test_a_follow_up_after_thanks_or_a_statement_is_about_the_last_question_asked():
    from chatbot import texts_fr
    from chatbot.answer.conversation import asking_turns

    question = {"role": "user", "content": "la biotine ça marche ?"}
    answer = {"role": "assistant", "content": "Voici ce que disent les documents… [1]"}
    thanks = [
        {"role": "user", "content": "ok merci !"},
        {"role": "assistant", "content": texts_fr.SMALL_TALK["thanks"]},
    ]
    told = [
        {"role": "user", "content": "ah mince c'est dommage"},
        {"role": "assistant", "content": texts_fr.NOTHING_ASKED + "\n\nSi vous traversez…"},
    ]
    assert asking_turns([question, answer, *thanks]) == [question, answer]
    assert asking_turns([question, answer, *told, *thanks]) == [question, answer]
    # A statement typed by hand, with a reply that is not the engine's, stays: it may bring the
    # subject (« j'ai commencé l'ocrevus » then « et ça se prend comment ? »).
    typed = [{"role": "user", "content": "ah mince"}, {"role": "assistant", "content": "Oui."}]
    assert asking_turns([question, answer, *typed]) == [question, answer, *typed]
    # Small talk typed without a reply goes too.
    assert asking_turns([question, answer, {"role": "user", "content": "merci"}]) == [
        question,
        answer,
    ]
