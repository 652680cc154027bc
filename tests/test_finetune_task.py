"""The fine-tuning task's near miss made from the answer itself (no model, no PIAF file)."""

from chatbot.build.finetune_task import without_answer


def test_the_answer_sentence_without_its_span_is_a_near_miss():
    sentence = "Le voyage a duré 97 jours avant d'arriver à bon port."
    assert without_answer(sentence, ("97 jours",)) == "Le voyage a duré avant d'arriver à bon port."


def test_the_space_left_by_the_span_is_closed_up_to_the_punctuation():
    sentence = "Il est né à Lyon, en 1850, dans une famille de soyeux."
    assert (
        without_answer(sentence, ("en 1850",)) == "Il est né à Lyon,, dans une famille de soyeux."
    )
    assert (
        without_answer(sentence, ("1850",)) == "Il est né à Lyon, en, dans une famille de soyeux."
    )


def test_no_near_miss_when_the_span_is_not_written_there_or_little_is_left():
    assert without_answer("Le traité fut signé en 1713.", ("1714",)) is None
    assert without_answer("Il en compte douze.", ("Il en compte douze",)) is None
    # the first span found in the sentence is the one taken out
    assert without_answer("La ville compte douze églises romanes.", ("treize", "douze")) == (
        "La ville compte églises romanes."
    )
