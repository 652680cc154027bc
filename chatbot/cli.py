"""The `chatbot` command: index, ask, eval, calibrate. It turns errors into French messages."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from chatbot import texts_fr  # noqa: E402
from chatbot.config import PROJECT_ROOT, Settings  # noqa: E402
from chatbot.errors import ChatbotError, InvalidQuestion  # noqa: E402
from chatbot.records import refusal_result  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ChatbotError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatbot", description="Assistant SEP : réponses citées.")
    sub = p.add_subparsers(required=True, metavar="COMMANDE")

    s = sub.add_parser("index", help="construire l'index d'un dossier de documents")
    s.add_argument("--corpus", type=Path, help="dossier de documents (.md, .txt, .html, .pdf)")
    s.add_argument("--out", type=Path, help="dossier de sortie de l'index (défaut : embeddings/)")
    s.add_argument("--if-stale", action="store_true", help="ne reconstruire que si le corpus a changé")
    s.add_argument("--chunk-tokens", type=int, help="taille des passages, en jetons du modèle")
    s.add_argument("--chunk-overlap", type=int, help="recouvrement des passages, en jetons")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("ask", help="poser une question")
    s.add_argument("question")
    s.add_argument("--index", type=Path)
    s.add_argument("--json", action="store_true", help="écrire le résultat au format d'évaluation")
    s.add_argument("--history", type=Path, help="fichier JSON des tours précédents")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="évaluer sur un ou plusieurs fichiers de questions")
    s.add_argument(
        "--questions", type=Path, required=True, action="append",
        help="fichier de questions (répétable : dev et test côte à côte)",
    )
    s.add_argument("--index", type=Path)
    s.add_argument("--out", type=Path, help="fichier de résultats JSONL")
    s.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    s.add_argument(
        "--baselines", action="store_true",
        help="évaluer aussi les recherches lexicale seule et dense seule, côte à côte",
    )
    s.add_argument("--compare", type=Path, metavar="OLD.jsonl", help="résultats d'un run précédent")
    s.add_argument(
        "--fail-under", type=_gate, action="append", default=[], metavar="METRIQUE=VALEUR",
        help="code de sortie 1 si la métrique est sous la valeur (répétable), ex. recall@5=0.95",
    )
    s.add_argument(
        "--report", type=Path, metavar="DOSSIER",
        help="dossier des rapports HTML et Markdown (défaut : à côté de --out)",
    )
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("calibrate", help="ajuster le refus (profile/calibration.json)")
    s.add_argument(
        "--questions", type=Path, action="append", default=[],
        help="questions de développement de ce corpus (répétable) ; jamais celles du test",
    )
    s.add_argument("--index", type=Path)
    s.add_argument("--piaf-index", type=Path, help="index PIAF (make piaf) : ses quasi-réponses")
    s.add_argument("--out", type=Path, help="fichier de calibration (défaut : profile/calibration.json)")
    s.add_argument("--piaf-limit", type=int, default=1500, help="questions PIAF utilisées")
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("fit", help="ajuster le classement des phrases sur PIAF (make fit)")
    fsub = s.add_subparsers(required=True, metavar="QUOI")
    f = fsub.add_parser("ranker", help="les poids du classement des phrases (profile/ranker.json)")
    f.add_argument("--piaf-index", type=Path, required=True)
    f.add_argument("--limit", type=int, help="questions PIAF d'entraînement utilisées (défaut : toutes)")
    f.set_defaults(func=cmd_fit_ranker)
    f = fsub.add_parser("choice", help="les marges de citation, mesurées sur PIAF (affiche une grille)")
    f.add_argument("--piaf-index", type=Path, required=True)
    f.add_argument("--limit", type=int, default=1000)
    f.set_defaults(func=cmd_fit_choice)

    s = sub.add_parser("safety", help="détecteur de risques : ajuster, mesurer")
    ssub = s.add_subparsers(required=True, metavar="ACTION")
    f = ssub.add_parser("fit", help="ajuster le détecteur sur la partie « train » de la banque")
    f.add_argument("--bank", type=Path, help="banque de messages étiquetés (défaut : eval/safety/bank_train.jsonl)")
    f.add_argument("--ordinary", type=int, default=1500, help="questions PIAF ajoutées comme messages ordinaires")
    f.set_defaults(func=cmd_safety_fit)
    e = ssub.add_parser("eval", help="mesurer le détecteur là où il n'a pas été ajusté")
    e.add_argument("--bank", type=Path, action="append", help="messages de test (répétable)")
    e.add_argument("--ordinary", type=Path, action="append", help="fichiers de questions ordinaires (répétable)")
    e.add_argument("--index", type=Path)
    e.add_argument("--out", type=Path, help="rapport JSON (avec les messages manqués et les fausses alertes)")
    e.add_argument("--list", action="store_true", help="afficher aussi les messages manqués et les fausses alertes")
    e.set_defaults(func=cmd_safety_eval)

    s = sub.add_parser("feedback", help="avis 👍/👎 des patients")
    fsub = s.add_subparsers(required=True, metavar="ACTION")
    e = fsub.add_parser("export", help="écrire les réponses 👎 comme questions candidates (JSONL)")
    e.add_argument("--db", type=Path, help="base des avis (défaut : CHATBOT_FEEDBACK_DB ou var/feedback.sqlite3)")
    e.add_argument("--out", type=Path, required=True, help="fichier de questions candidates à relire")
    e.set_defaults(func=cmd_feedback_export)
    return p


# --- index ------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from chatbot.index.chunk import ChunkSettings
    from chatbot.index.store import build_index, corpus_hash, save_index
    from chatbot.ingest.corpus import load_corpus

    settings = Settings.from_env(
        corpus_dir=args.corpus,
        index_dir=args.out,
        chunk_tokens=args.chunk_tokens,
        chunk_overlap_tokens=args.chunk_overlap,
    )
    corpus_dir, out_dir = settings.corpus_dir.resolve(), settings.index_dir
    t0 = time.perf_counter()
    digest = corpus_hash(corpus_dir) if corpus_dir.is_dir() else ""
    if args.if_stale and _index_is_current(out_dir, digest, settings):
        print(f"Index à jour : {out_dir}")
        return 0
    report = load_corpus(corpus_dir)
    for skipped in report.skipped:
        print(f"Ignoré : {skipped.path} — {skipped.reason}", file=sys.stderr)
    embedder = settings.embedder()
    try:
        chunking = ChunkSettings(settings.chunk_tokens, settings.chunk_overlap_tokens)
    except ValueError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    index = build_index(report.documents, embedder, chunking, digest, progress=sys.stderr.isatty())
    index.manifest["corpus_dir"] = str(corpus_dir)
    save_index(index, out_dir)
    m = index.manifest
    print(
        f"Index construit dans {out_dir} : {m['documents']} documents, {m['chunks']} passages, "
        f"{m['sentences']} phrases, en {time.perf_counter() - t0:.1f} s."
    )
    return 0


def _index_is_current(out_dir: Path, digest: str, settings: Settings) -> bool:
    """True when the index was built from these documents, by this code, model and chunking."""
    from chatbot.index.store import FORMAT_VERSION, Integrity, read_manifest

    if not (out_dir / "manifest.json").is_file():
        return False
    try:
        m = read_manifest(out_dir)
        Integrity(out_dir, m).check_all()
    except ChatbotError:
        return False  # an unreadable manifest, a missing, cut or altered file: rebuilt
    return (
        m.get("format_version") == FORMAT_VERSION
        and m.get("corpus_sha256") == digest
        and m.get("weights_sha256") == settings.weights_sha256()
        and m.get("chunking")
        == {"chunk_tokens": settings.chunk_tokens, "chunk_overlap_tokens": settings.chunk_overlap_tokens}
    )


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
        message = input_error_message(exc, engine.settings.max_question_chars, args.question)
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
        print("\nSources :")
        for c in answer.citations:
            ch = c.chunk
            meta = " — ".join(x for x in (", ".join(ch.authors), ch.publication, ch.date) if x)
            print(f"[{c.n}] {ch.title} ({meta}) · {ch.source}")
            print(f"    « {c.quote} »")
    return 0


def input_error_message(exc: InvalidQuestion, limit: int, question: object) -> str:
    length = len(question) if isinstance(question, str) else 0
    return texts_fr.INPUT_ERRORS[exc.reason].format(length=length, limit=limit)


# --- eval ---------------------------------------------------------------------------------------
def _gate(text: str) -> Any:
    from chatbot.evaluation.report import parse_gate

    try:
        return parse_gate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def answer_questions(engine: Any, questions: list[Any], mode: str = "hybrid", progress: bool = True) -> list[dict[str, Any]]:
    """The result records of ../shared/EVAL_FORMAT.md for `questions`, one engine call each."""
    from chatbot.evaluation.metrics import run

    def ask(q: Any) -> dict[str, Any]:
        try:
            return engine.ask(q.question, q.history, mode=mode).to_result(q.id, q.question)
        except InvalidQuestion as exc:
            message = input_error_message(exc, engine.settings.max_question_chars, q.question)
            return refusal_result(q.id, q.question, message)

    return run(questions, ask, progress=progress)


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the question set; write results, the HTML report and the Markdown summary.

    Exit status 1 when a `--fail-under` gate fails, so CI can gate on it.
    """
    from chatbot.evaluation.metrics import compute_metrics, format_metrics, read_questions
    from chatbot.evaluation.report import (
        RunReport,
        compare_runs,
        read_results,
        report_paths,
        write_reports,
        write_results,
    )

    if len(args.questions) > 1:
        return _eval_side_by_side(args)
    args.questions = args.questions[0]
    questions = read_questions(args.questions)
    old_results = read_results(args.compare) if args.compare else None  # fail before the long run
    engine = _engine(args.index)
    progress = sys.stderr.isatty()

    results = answer_questions(engine, questions, args.mode, progress)
    metrics = compute_metrics(questions, results)
    if args.out:
        write_results(args.out, results)
    # The same questions through one retriever only: shows what the fusion gains.
    baselines = {}
    if args.baselines:
        for mode in ("lexical", "dense"):
            if mode == args.mode:
                continue
            base_results = answer_questions(engine, questions, mode, progress)
            baselines[mode] = (base_results, compute_metrics(questions, base_results))
            if args.out:
                write_results(args.out.with_name(f"{args.out.stem}.{mode}.jsonl"), base_results)

    report = RunReport(
        questions_path=str(args.questions),
        mode=args.mode,
        questions=questions,
        results=results,
        metrics=metrics,
        baselines=baselines,
        gates=[gate.check(metrics) for gate in args.fail_under],
        comparison=compare_runs(questions, old_results, results, str(args.compare)) if old_results is not None else None,
        context=_eval_context(engine),
    )
    print(_metrics_table(report) if baselines else format_metrics(metrics))
    paths = report_paths(args.out, args.report)
    if paths:
        write_reports(report, *paths)
        print(f"\nRapport : {paths[0]}\nRésumé : {paths[1]}")
    if report.comparison is not None:
        c = report.comparison
        print(f"\nPar rapport à {args.compare} : {len(c.better)} question(s) en progrès, {len(c.worse)} en recul.")
        for change in c.worse:
            print(f"  - {change.question.id} : {change.describe()}")
    failed_gates = [g for g in report.gates if not g.passed]
    for g in report.gates:
        print(("" if g.passed else "ÉCHEC ") + g.describe(), file=sys.stderr if not g.passed else sys.stdout)
    return 1 if failed_gates else 0


def _eval_side_by_side(args: argparse.Namespace) -> int:
    """Several question files (dev, test…), one column each; results and reports per file."""
    from chatbot.evaluation.metrics import compute_metrics, read_questions
    from chatbot.evaluation.report import RunReport, report_paths, write_reports, write_results

    if args.baselines or args.compare:
        print("Erreur : --baselines et --compare prennent un seul fichier de questions.", file=sys.stderr)
        return 2
    sets = [(path, read_questions(path)) for path in args.questions]  # fail before the long run
    engine = _engine(args.index)
    columns, failed = [], False
    for path, questions in sets:
        results = answer_questions(engine, questions, args.mode, sys.stderr.isatty())
        metrics = compute_metrics(questions, results)
        gates = [gate.check(metrics) for gate in args.fail_under]
        failed |= any(not g.passed for g in gates)
        columns.append((path.stem, metrics))
        out = args.out.with_name(f"{args.out.stem}.{path.stem}.jsonl") if args.out else None
        if out:
            write_results(out, results)
        report = RunReport(
            questions_path=str(path), mode=args.mode, questions=questions, results=results,
            metrics=metrics, gates=gates, context=_eval_context(engine),
        )
        paths = report_paths(out, args.report / path.stem if args.report else None)
        if paths:
            write_reports(report, *paths)
        for g in gates:
            print(f"{path.stem} : " + ("" if g.passed else "ÉCHEC ") + g.describe())
    print(_columns_table(columns))
    return 1 if failed else 0


def _columns_table(columns: list[tuple[str, dict[str, Any]]]) -> str:
    """Metrics as rows, one column per run."""
    from chatbot.evaluation.report import LATENCY_METRICS, RATE_METRICS, SCORE_METRICS

    width = max(12, *(len(name) + 2 for name, _ in columns))
    lines = [f"{'':<32}" + "".join(f"{name:>{width}}" for name, _ in columns)]
    for key in ("questions", *SCORE_METRICS, *RATE_METRICS, *LATENCY_METRICS):
        cells = []
        for _, metrics in columns:
            value = metrics.get(key)
            if value is None:
                cells.append(f"{'—':>{width}}")
            elif isinstance(value, float):
                cells.append(f"{value:>{width}.1f}" if key.endswith("_ms") else f"{value:>{width}.3f}")
            else:
                cells.append(f"{value!s:>{width}}")
        lines.append(f"{key:<32}" + "".join(cells))
    return "\n".join(lines)


def _metrics_table(report: Any) -> str:
    """The printed metrics with one column per baseline."""
    columns = [(report.mode, report.metrics), *((m, r[1]) for m, r in report.baselines.items())]
    return _columns_table(columns)


def _eval_context(engine: Any) -> dict[str, str]:
    m = getattr(engine.index, "manifest", {})
    return {
        "index": str(engine.settings.index_dir),
        "modèle": str(m.get("model_id", "")),
        "passages": str(m.get("chunks", len(engine.index))),
        "index construit le": str(m.get("built_at", "")),
        "évalué le": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# --- calibrate and fit -------------------------------------------------------------------------
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the refusal for one index: on its development questions, or on PIAF's near misses."""
    import numpy as np

    from chatbot.evaluation import piaf
    from chatbot.evaluation.fitting import (
        fit_support,
        neutral_engine,
        piaf_examples,
        question_requests,
        sha256_file,
        support_rows,
        write_json,
    )
    from chatbot.evaluation.metrics import read_questions
    from chatbot.safety.detector import RISKS, patterns_only

    if not args.questions and not args.piaf_index:
        print("Erreur : donnez --questions (les questions de développement de ce corpus) ou --piaf-index.", file=sys.stderr)
        return 2
    settings = Settings.from_env(index_dir=args.index or args.piaf_index)
    engine = neutral_engine(settings)
    parts, sources = {}, {}
    if args.questions:
        questions = [
            q for path in args.questions for q in read_questions(path)
            # What a safety rule answers whatever the documents say teaches nothing here.
            if q.safety is None and patterns_only().assess(q.question).category not in RISKS and q.kind != "safety"
        ]
        rows = support_rows(engine, question_requests(engine, questions))
        parts["questions"] = (rows, np.array([int(q.answerable) for q in questions]))
        sources.update({str(p): sha256_file(p) for p in args.questions})
    if args.piaf_index:
        # PIAF questions asked twice, with and without the passages holding their answer.
        piaf_engine = engine if not args.questions else neutral_engine(Settings.from_env(index_dir=args.piaf_index))
        examples = piaf_examples(piaf_engine, list(piaf.questions("train"))[: args.piaf_limit], sys.stderr.isatty())
        positives = support_rows(piaf_engine, [ex.request for ex in examples])
        negatives = support_rows(piaf_engine, [ex.masked for ex in examples])
        parts["piaf"] = (np.vstack([positives, negatives]), np.array([1] * len(examples) + [0] * len(examples)))
        sources["piaf"] = f"{len(examples)} questions d'entraînement PIAF, avec et sans leur passage ; sha256:{sha256_file(piaf.PIAF_FILE)}"
    data = fit_support(parts, "questions" if args.questions else "piaf", engine.index.manifest, sources)
    out = args.out or settings.calibration
    write_json(data, out)
    print(json.dumps({k: data[k] for k in ("weights", "bias", "threshold")}, indent=2))
    print(json.dumps(data["manifest"]["cross_validated_accuracy"], indent=2))
    print(f"Calibration écrite : {out}")
    return 0


def cmd_fit_ranker(args: argparse.Namespace) -> int:
    from chatbot.config import PROFILE_DIR
    from chatbot.evaluation import piaf
    from chatbot.evaluation.fitting import (
        fit_ranker,
        neutral_engine,
        piaf_examples,
        ranker_rows,
        sha256_file,
        write_json,
    )

    engine = neutral_engine(Settings.from_env(index_dir=args.piaf_index))
    questions = list(piaf.questions("train"))[: args.limit]
    examples = piaf_examples(engine, questions, sys.stderr.isatty())
    rows, labels, groups = ranker_rows(engine, examples)
    sources = {"piaf": f"{len(questions)} questions d'entraînement PIAF sha256:{sha256_file(piaf.PIAF_FILE)}"}
    data = fit_ranker(rows, labels, groups, sources)
    write_json(data, PROFILE_DIR / "ranker.json")
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def cmd_fit_choice(args: argparse.Namespace) -> int:
    from chatbot.evaluation import piaf
    from chatbot.evaluation.fitting import choice_scores, neutral_engine, piaf_examples

    settings = Settings.from_env(index_dir=args.piaf_index)
    engine = neutral_engine(settings)
    examples = piaf_examples(engine, list(piaf.questions("train"))[: args.limit], sys.stderr.isatty())
    grid: dict[str, list[Any]] = {
        "max_sentences": [settings.max_sentences],
        "margin": [1.0, 1.5, 2.0, 2.5, 3.0],
        "passage_margin": [0.0, 1.0, 2.0, 3.0, 4.0],
        "with_next": [False, True],
    }
    for row in sorted(choice_scores(engine, examples, grid), key=lambda r: -r["coverage"]):
        print(json.dumps(row))
    return 0


# --- safety ---------------------------------------------------------------------------------------
def cmd_safety_fit(args: argparse.Namespace) -> int:
    """Fit the learned risk detector; writes profile/safety/detector.json with its manifest."""
    import random

    from chatbot.config import PROFILE_DIR
    from chatbot.evaluation import piaf
    from chatbot.safety.fit import BANK_TRAIN, fit_detector, read_bank, sha256_file, write_detector

    bank_path = args.bank or BANK_TRAIN
    train = read_bank(bank_path)
    questions = [q.question for q in piaf.questions("train")]
    ordinary = random.Random(0).sample(questions, min(args.ordinary, len(questions)))
    embedder = Settings.from_env().embedder()
    sources = {
        "bank": f"{bank_path.relative_to(PROJECT_ROOT) if bank_path.is_relative_to(PROJECT_ROOT) else bank_path} sha256:{sha256_file(bank_path)}",
        "ordinary": f"{len(ordinary)} questions PIAF (train, graine 0) sha256:{sha256_file(piaf.PIAF_FILE)}",
    }
    from chatbot.evaluation.metrics import read_questions

    dev = PROJECT_ROOT / "eval" / "dev.jsonl"
    patients = [q.question for q in read_questions(dev) if q.kind != "safety" and q.safety is None]
    sources["patients"] = f"{len(patients)} questions ordinaires de eval/dev.jsonl (seuil du message fixe) sha256:{sha256_file(dev)}"
    data = fit_detector(train, ordinary, embedder.encode_query, embedder.weights_sha256, sources, patients)
    out = PROFILE_DIR / "safety" / "detector.json"
    write_detector(data, out)
    print(json.dumps({"C": data["manifest"]["C"], "thresholds": data["thresholds"], "cross_validated": data["manifest"]["cross_validated"]}, indent=2))
    print(f"Détecteur écrit : {out}")
    return 0


def cmd_safety_eval(args: argparse.Namespace) -> int:
    """The detector through the engine, on messages and questions it was not fitted on."""
    from chatbot.evaluation.metrics import read_questions
    from chatbot.safety.fit import BANK_TEST, engine_safety_report

    engine = _engine(args.index)
    banks = args.bank or [BANK_TEST]
    ordinary = args.ordinary or [PROJECT_ROOT / "eval" / name for name in ("dev.jsonl", "heldback.jsonl", "test.jsonl")]
    probes = [q for path in banks for q in read_questions(path)]
    plain = [q for path in ordinary for q in read_questions(path) if q.kind != "safety" and q.safety is None]
    report = engine_safety_report(engine, probes, plain)
    shown = {k: v for k, v in report.items() if not isinstance(v, list)}
    print(json.dumps(shown, ensure_ascii=False, indent=2))
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
    print(f"{n} question(s) candidate(s) écrite(s) dans {args.out} (à relire : answerable, evidence, facts).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
