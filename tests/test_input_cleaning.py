"""Input is cleaned once at every edge: no text a patient or a script sends crashes the engine."""

from __future__ import annotations

import json

import pytest

from chatbot.errors import InvalidQuestion
from chatbot.text.sanitize import clean_history, clean_text
from tests.fuzzing import cases
from tests.helpers import fake_engine


def test_lone_surrogates_are_replaced_and_split_pairs_joined():
    assert clean_text("biotine \ud800 efficace") == "biotine \ufffd efficace"
    assert clean_text("merci \ud83d\ude00") == "merci 😀"  # a pair given as two code points
    cleaned = clean_text("\udcff\ud83d")
    assert cleaned == "\ufffd\ufffd" and cleaned.encode("utf-8")


def test_invisible_characters_that_hide_words_are_removed_and_the_rest_kept():
    assert clean_text("sui\u200bcide\u00ad, j'ai\x00 mal\u202e") == "suicide, j'ai mal"
    kept = "Sclérose en plaques ?\nLigne 2\t« ÇA » 💊 中文 ｓｅｐ"
    assert clean_text(kept) == kept
    assert clean_text(clean_text("a\ud800b\u200b")) == clean_text("a\ud800b\u200b")


@pytest.mark.parametrize(
    ("history", "reason"),
    [
        ("bonjour", "history"),
        ([{"role": "user"}], "history"),
        ([{"role": "robot", "content": "x"}], "history"),
        ([["user", "x"]], "history"),
        ([{"role": "user", "content": "x"}] * 51, "history_too_long"),
        ([{"role": "user", "content": "x" * 20_001}], "history_too_long"),
    ],
)
def test_a_malformed_or_oversized_history_is_refused_with_its_reason(history, reason):
    with pytest.raises(InvalidQuestion) as err:
        clean_history(history, max_turns=50, max_chars=20_000)
    assert err.value.reason == reason


def test_history_turns_are_cleaned_and_keep_only_role_and_content():
    turns = [{"role": "user", "content": "ocre\u200bvus \ud800", "extra": 1}]
    assert clean_history(turns, 50, 20_000) == [{"role": "user", "content": "ocrevus \ufffd"}]


def test_a_question_with_a_lone_surrogate_is_answered_not_crashed():
    engine = fake_engine()
    answer = engine.ask("la biotine \ud800 à forte dose est-elle efficace ?")
    assert answer.citations and answer.citations[0].chunk.source == "biotine.md"
    with pytest.raises(InvalidQuestion) as err:
        engine.ask("\ud800\udfff\u200b")  # nothing left to answer
    assert err.value.reason == "empty"


@pytest.mark.parametrize(
    "question", ["Does biotin work?", "Is Ocrevus safe?", "what about fatigue"]
)
def test_a_short_question_in_english_gets_the_not_french_reply(question):
    with pytest.raises(InvalidQuestion) as err:
        fake_engine().ask(question)
    assert err.value.reason == "not_french"


def test_no_french_question_of_the_evaluation_is_taken_for_english():
    from chatbot.text.language import is_english_question
    from tests.fuzzing import eval_questions

    assert [q for q in eval_questions() if is_english_question(q)] == []


def _fuzz(engine, n: int, seed: int) -> list[str]:
    """Ask every case; return what went wrong other than InvalidQuestion."""
    failures = []
    for k, question, history in cases(n, seed):
        try:
            answer = engine.ask(question, history)
            shown = clean_text(question) if isinstance(question, str) else ""
            # What the edges send back must encode: the JSON response, the page.
            json.dumps(answer.to_result("fuzz", shown), ensure_ascii=False).encode("utf-8")
        except InvalidQuestion:
            continue
        except Exception as exc:  # anything else is what this test looks for
            failures.append(
                f"seed {seed} case {k}: {type(exc).__name__}: {exc} <- {question!r:.80}"
            )
    return failures


def test_fuzz_3000_random_and_mutated_inputs_raise_nothing_but_invalid_question():
    failures = _fuzz(fake_engine(), 3000, seed=2026)
    assert failures == [], "\n".join(failures[:10])


@pytest.mark.integration
def test_fuzz_the_real_model_and_tokenizer_with_300_inputs():
    """The crash was in the real tokenizer: the real engine takes a smaller share (~15 s)."""
    from chatbot.config import Settings
    from chatbot.engine import Engine

    failures = _fuzz(Engine.load(Settings.from_env()), 300, seed=7)
    assert failures == [], "\n".join(failures[:10])


def test_a_question_file_with_lone_surrogates_is_read_cleaned(tmp_path):
    from chatbot.evaluation.questions import read_questions

    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a\\ud800", "question": "biotine \\udfff ?", "history": [{"role": "user", "content": "x\\ud800"}]}\n',
        encoding="utf-8",
    )
    (q,) = read_questions(path)
    assert (q.id, q.question, q.history[0]["content"]) == ("a\ufffd", "biotine \ufffd ?", "x\ufffd")


def test_the_chat_page_answers_a_message_with_a_lone_surrogate():
    from chatbot.serve.chat import ChatPage

    page = ChatPage(fake_engine(), None)
    *_, (box, shown, kept, turns, records) = page.respond(
        "la biotine \ud800 à forte dose ?", [], [], {}
    )
    assert shown is kept and "sep-done" in shown[-1]["content"]
    json.dumps(shown, ensure_ascii=False).encode("utf-8")  # what Gradio sends to the page
    assert turns[0]["content"] == "la biotine \ufffd à forte dose ?"
