"""The commands of `chatbot`: each calls the library and prints what it returns."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatbot import texts_fr
from chatbot.config import PROJECT_ROOT, Settings
from chatbot.errors import InvalidQuestion
from chatbot.records import refusal_result

if TYPE_CHECKING:
    from chatbot.evaluation.report import Comparison


# --- index ------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from chatbot.index.rebuild import index_corpus

    settings = Settings.from_env(
        corpus_dir=args.corpus,
        index_dir=args.out,
        chunk_tokens=args.chunk_tokens,
        chunk_overlap_tokens=args.chunk_overlap,
    )
    run = index_corpus(settings, args.if_stale, progress=sys.stderr.isatty())
    for skipped in run.skipped:
        print(f"Ignoré : {skipped.path} — {skipped.reason}", file=sys.stderr)
    m = run.manifest
    if m is None:
        print(f"Index à jour : {settings.index_dir}")
        return 0
    print(
        f"Index construit dans {settings.index_dir} : {m['documents']} documents, {m['chunks']} passages, "
        f"{m['sentences']} phrases, en {run.seconds:.1f} s."
    )
    return 0


# --- ask ----------------------------------------------------------------------------------------
def _engine(index_dir: Path | None) -> Any:
    from chatbot.engine import Engine

    settings = Settings.from_env(index_dir=index_dir)
    return Engine.load(settings)


def cmd_ask(args: argparse.Namespace) -> int:
    from chatbot.text.sanitize import clean_text

    # An argument with bytes that are not UTF-8 arrives with lone surrogates: repaired here,
    # so that the question echoed below can be printed.
    args.question = clean_text(args.question)
    try:
        history = json.loads(args.history.read_text(encoding="utf-8")) if args.history else []
    except (OSError, ValueError) as exc:
        print(f"Erreur : historique illisible ({args.history} : {exc})", file=sys.stderr)
        return 2
    engine = _engine(args.index)
    try:
        answer = engine.ask(args.question, history)
    except InvalidQuestion as exc:
        message = texts_fr.input_error(
            exc.reason, args.question, engine.settings.max_question_chars
        )
        if args.json:
            print(json.dumps(refusal_result("ask", args.question, message), ensure_ascii=False))
        else:
            print(message)
        return 1
    if args.json:
        print(json.dumps(answer.to_result("ask", args.question), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    if answer.citations:
        print(f"\n{texts_fr.SOURCES_TITLE} :")
        for c in answer.citations:
            print(f"[{c.n}] {c.chunk.title} ({c.chunk.byline}) · {c.chunk.source}")
            print(f"    « {c.quote} »")
    elif answer.nearby:
        print(f"\n{texts_fr.NEARBY_TITLE}")
        for chunk in answer.nearby:
            print(f"- {chunk.title} ({chunk.byline}) · {chunk.source}")
    return 0


# --- eval ---------------------------------------------------------------------------------------
def gate(text: str) -> Any:
    from chatbot.evaluation.report import parse_gate

    try:
        return parse_gate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_eval(args: argparse.Namespace) -> int:
    """Run question files side by side; write results, HTML reports and Markdown summaries.

    Exit status 1 when a `--fail-under` gate fails, so CI can gate on it.
    """
    from chatbot.evaluation.questions import read_questions
    from chatbot.evaluation.report import read_results
    from chatbot.evaluation.run import evaluate

    several = len(args.questions) > 1
    if several and (args.baselines or args.compare):
        print(
            "Erreur : --baselines et --compare prennent un seul fichier de questions.",
            file=sys.stderr,
        )
        return 2
    sets = [(path, read_questions(path)) for path in args.questions]  # fail before the long run
    old_results = read_results(args.compare) if args.compare else None
    engine = _engine(args.index)
    columns, failed = [], False
    for path, questions in sets:
        out = (
            args.out.with_name(f"{args.out.stem}.{path.stem}.jsonl")
            if args.out and several
            else args.out
        )
        report_dir = args.report / path.stem if args.report and several else args.report
        run = evaluate(
            engine,
            path,
            questions,
            mode=args.mode,
            out=out,
            report_dir=report_dir,
            baselines=args.baselines,
            old_results=old_results,
            old_path=str(args.compare or ""),
            gates=args.fail_under,
            progress=sys.stderr.isatty(),
        )
        report = run.report
        columns += [(path.stem if several else report.mode, report.metrics)]
        columns += [(mode, metrics) for mode, (_, metrics) in report.baselines.items()]
        if run.report_files and not several:
            print(f"Rapport : {run.report_files[0]}\nRésumé : {run.report_files[1]}")
        if report.comparison is not None:
            _print_comparison(report.comparison, args.compare)
        for g in report.gates:
            failed |= not g.passed
            print(
                f"{path.stem} : " + ("" if g.passed else "ÉCHEC ") + g.describe(),
                file=sys.stdout if g.passed else sys.stderr,
            )
    from chatbot.evaluation.report import columns_table

    print(columns_table(columns))
    return 1 if failed else 0


def _print_comparison(c: Comparison, old: Path) -> None:
    print(f"Par rapport à {old} : {len(c.better)} question(s) en progrès, {len(c.worse)} en recul.")
    for change in c.worse:
        print(f"  - {change.question.id} : {change.describe()}")


# --- calibrate and fit -------------------------------------------------------------------------
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the refusal for one index: on its development questions, or on PIAF's near misses."""
    from chatbot.evaluation.fit_refusal import calibrate

    if not args.questions and not args.piaf_index:
        print(
            "Erreur : donnez --questions (les questions de développement de ce corpus) ou --piaf-index.",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env(index_dir=args.index or args.piaf_index)
    out = args.out or settings.calibration
    if args.contrast and not args.questions:
        print(
            "Erreur : --contrast se pèse contre des --questions de développement.", file=sys.stderr
        )
        return 2
    if args.contrast and args.piaf_index:
        print("Erreur : --contrast et --piaf-index ne vont pas ensemble.", file=sys.stderr)
        return 2
    data = calibrate(settings, args.questions, args.piaf_index, args.piaf_limit, out, args.contrast)
    print(json.dumps({k: data[k] for k in ("weights", "bias", "threshold")}, indent=2))
    print(json.dumps(data["manifest"]["cross_validated_accuracy"], indent=2))
    print(json.dumps(data["manifest"]["regularisation"], indent=2))
    print(f"Calibration écrite : {out}")
    return 0


def cmd_fit_ranker(args: argparse.Namespace) -> int:
    from chatbot.evaluation.fit_ranker import fit_ranker_on_piaf

    data = fit_ranker_on_piaf(Settings.from_env(index_dir=args.piaf_index), args.limit)
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def cmd_fit_choice(args: argparse.Namespace) -> int:
    from chatbot.evaluation.fit_ranker import choice_grid

    for row in choice_grid(Settings.from_env(index_dir=args.piaf_index), args.limit):
        print(json.dumps(row))
    return 0


def cmd_fit_message_model(args: argparse.Namespace) -> int:
    """Fit a model of whole messages: those that ask who answers (profile/about/model.json),
    those that ask nothing (profile/told/model.json) or those that end the conversation
    (profile/closing/model.json)."""
    from chatbot.evaluation.fit_about import ABOUT, CLOSING, TOLD, fit_message_model

    embedder = Settings.from_env().embedder()
    kind = {"about": ABOUT, "told": TOLD, "closing": CLOSING}[args.kind]
    data = fit_message_model(embedder.encode_query, embedder.weights_sha256, kind=kind)
    print(json.dumps(data["manifest"], indent=2, ensure_ascii=False))
    print(f"seuil : {data['threshold']}")
    return 0


def cmd_fit_adapter(args: argparse.Namespace) -> int:
    """Fit the quote adapter on labelled questions; writes profile/quote_adapter.json."""
    from chatbot.answer.adapter import ADAPTER_PATH, QuoteAdapter
    from chatbot.evaluation.fit_adapter import QUESTIONS, fit_adapter
    from chatbot.index.store import read_manifest

    settings = Settings.from_env()
    if args.if_stale and QuoteAdapter.load(ADAPTER_PATH, read_manifest(settings.index_dir)):
        print(f"Adaptateur à jour : {ADAPTER_PATH}")
        return 0
    data = fit_adapter(settings, args.questions or QUESTIONS)
    print(json.dumps(data["manifest"], indent=2, ensure_ascii=False))
    return 0


# --- safety ---------------------------------------------------------------------------------------
def cmd_safety_fit(args: argparse.Namespace) -> int:
    """Fit the learned risk detector; writes profile/safety/detector.json with its manifest."""
    from chatbot.safety.fit import BANK_TRAIN, fit_from_bank

    data = fit_from_bank(Settings.from_env(), args.bank or BANK_TRAIN, args.ordinary)
    shown = {
        "C": data["manifest"]["C"],
        "thresholds": data["thresholds"],
        "cross_validated": data["manifest"]["cross_validated"],
    }
    print(json.dumps(shown, indent=2))
    return 0


def cmd_safety_eval(args: argparse.Namespace) -> int:
    """The detector through the engine, on messages and questions it was not fitted on."""
    from chatbot.evaluation.safety import safety_report
    from chatbot.safety.fit import BANK_TEST

    ordinary = args.ordinary or [
        PROJECT_ROOT / "eval" / name for name in ("dev.jsonl", "heldback.jsonl", "test.jsonl")
    ]
    report = safety_report(_engine(args.index), args.bank or [BANK_TEST], ordinary)
    print(
        json.dumps(
            {k: v for k, v in report.items() if not isinstance(v, list)},
            ensure_ascii=False,
            indent=2,
        )
    )
    if args.list:
        for item in report["missed"]:
            print(f"  manqué [{item['label']} -> {item['found']}] {item['question']}")
        for item in report["false_alarms"]:
            print(f"  fausse alerte [{item['found']}] {item['question']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


# --- feedback -------------------------------------------------------------------------------------
def cmd_feedback_export(args: argparse.Namespace) -> int:
    """The 👎 answers, in the shared question format, for the team to review and add to eval/."""
    from chatbot.serve.feedback import FeedbackStore, export_downvotes

    settings = Settings.from_env(feedback_db=args.db)
    if not settings.feedback_db.is_file():
        print(f"Aucune base d'avis : {settings.feedback_db}", file=sys.stderr)
        return 1
    n = export_downvotes(FeedbackStore(settings.feedback_db), args.out)
    print(
        f"{n} question(s) candidate(s) écrite(s) dans {args.out} (à relire : answerable, evidence, facts)."
    )
    return 0
