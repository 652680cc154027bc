"""The `chatbot` command with bad input: a clear message, a non-zero exit, nothing lost."""

from __future__ import annotations

import json

import pytest

from chatbot.cli import main

pytestmark = pytest.mark.integration


def test_indexing_an_empty_folder_says_so(tmp_path, capsys):
    (tmp_path / "vide").mkdir()
    code = main(["index", "--corpus", str(tmp_path / "vide"), "--out", str(tmp_path / "ix")])
    assert code == 2
    assert "vide" in capsys.readouterr().err
    assert not (tmp_path / "ix" / "manifest.json").exists()


def test_garbage_and_latin1_files_are_reported_and_the_rest_is_indexed(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bon.md").write_text(
        "# Fatigue\n\nLa fatigue est un symptôme fréquent de la SEP.", encoding="utf-8"
    )
    (corpus / "ancien.txt").write_bytes(
        "La biotine à forte dose n'a pas montré d'efficacité.".encode("cp1252")
    )
    (corpus / "binaire.pdf").write_bytes(bytes(range(256)) * 40)
    code = main(["index", "--corpus", str(corpus), "--out", str(tmp_path / "ix")])
    err = capsys.readouterr()
    assert code == 0
    assert "binaire.pdf" in err.err
    chunks = [
        json.loads(line) for line in (tmp_path / "ix" / "chunks.jsonl").read_text().splitlines()
    ]
    assert {c["source"] for c in chunks} == {"bon.md", "ancien.txt"}
    assert any("forte dose n'a pas montré d'efficacité" in c["text"] for c in chunks)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("", "vide"),
        ("x" * 50_000, "trop long"),
        ("What are the side effects of ocrelizumab?", "français"),
    ],
)
def test_bad_questions_get_a_french_message(question, expected, capsys):
    assert main(["ask", question]) == 1
    assert expected in capsys.readouterr().out


def test_ask_json_writes_the_shared_result_format(capsys):
    assert main(["ask", "le pilates c bien pour la fatigue ?", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"answer", "refused", "safety", "citations", "retrieved", "timings_ms"} <= set(result)
    assert len(result["retrieved"]) >= 10
    assert result["citations"][0]["source"].endswith(".md")


def test_the_refusal_threshold_falls_between_questions_not_on_one():
    import numpy as np

    from chatbot.evaluation.fit_refusal import best_threshold as _best_threshold

    probs = np.array([0.2, 0.4, 0.6, 0.7, 0.9])
    y = np.array([0, 0, 1, 1, 1])  # answerable questions score 0.6 and above
    threshold = _best_threshold(probs, y)
    # Halfway between the two classes: a rounding of the weights cannot move a question across.
    assert threshold == 0.5


def test_a_question_with_bytes_that_are_not_utf8_is_answered(tmp_path):
    """An argument such bytes arrive in as lone surrogates: the CLI repairs it, then prints."""
    import subprocess
    import sys

    code = "import sys; from chatbot.cli import main; raise SystemExit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", code, "ask", b"la biotine \xff a forte dose ca marche ?", "--json"],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-500:]
    result = json.loads(proc.stdout)
    assert (
        result["question"] == "la biotine \ufffd a forte dose ca marche ?" and result["citations"]
    )
