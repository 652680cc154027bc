"""The `chatbot` command: index, ask, eval, calibrate. It turns errors into French messages."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from . import texts_fr  # noqa: E402
from .config import Settings  # noqa: E402
from .errors import ChatbotError, InvalidQuestion  # noqa: E402
from .records import refusal_result  # noqa: E402


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

    s = sub.add_parser("eval", help="évaluer sur un fichier de questions")
    s.add_argument("--questions", type=Path, required=True)
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

    s = sub.add_parser("calibrate", help="ajuster le seuil de refus sur un fichier de questions")
    s.add_argument("--questions", type=Path, required=True)
    s.add_argument("--index", type=Path)
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("feedback", help="avis 👍/👎 des patients")
    fsub = s.add_subparsers(required=True, metavar="ACTION")
    e = fsub.add_parser("export", help="écrire les réponses 👎 comme questions candidates (JSONL)")
    e.add_argument("--db", type=Path, help="base des avis (défaut : CHATBOT_FEEDBACK_DB ou var/feedback.sqlite3)")
    e.add_argument("--out", type=Path, required=True, help="fichier de questions candidates à relire")
    e.set_defaults(func=cmd_feedback_export)
    return p


# --- index ------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from .chunk import ChunkSettings
    from .index import build_index, corpus_hash, save_index
    from .ingest import load_corpus
    from .model import load_embedder

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
    embedder = load_embedder(settings.cache_dir)
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
    from .index import FORMAT_VERSION, Integrity, read_manifest
    from .model import WEIGHTS_SHA256

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
        and m.get("weights_sha256") == WEIGHTS_SHA256
        and m.get("chunking")
        == {"chunk_tokens": settings.chunk_tokens, "chunk_overlap_tokens": settings.chunk_overlap_tokens}
    )


# --- ask ----------------------------------------------------------------------------------------
def _engine(index_dir: Path | None) -> Any:
    from .engine import Engine

    settings = Settings.from_env(index_dir=index_dir)
    return Engine.load(settings)


def cmd_ask(args: argparse.Namespace) -> int:
    from .sanitize import clean_text

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
    from .report import parse_gate

    try:
        return parse_gate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def answer_questions(engine: Any, questions: list[Any], mode: str = "hybrid", progress: bool = True) -> list[dict[str, Any]]:
    """The result records of ../shared/EVAL_FORMAT.md for `questions`, one engine call each."""
    from .evaluate import run

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
    from .evaluate import compute_metrics, format_metrics, read_questions
    from .report import (
        RunReport,
        compare_runs,
        read_results,
        report_paths,
        write_reports,
        write_results,
    )

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


def _metrics_table(report: Any) -> str:
    """The printed metrics with one column per baseline."""
    from .report import LATENCY_METRICS, SCORE_METRICS

    modes = [report.mode, *report.baselines]
    columns = [report.metrics, *(m for _, m in report.baselines.values())]
    lines = [f"{'':<32}" + "".join(f"{m:>10}" for m in modes)]
    for key in ("questions", *SCORE_METRICS, *LATENCY_METRICS):
        cells = []
        for metrics in columns:
            value = metrics.get(key)
            if value is None:
                cells.append(f"{'—':>10}")
            elif isinstance(value, float):
                cells.append(f"{value:>10.1f}" if key.endswith("_ms") else f"{value:>10.3f}")
            else:
                cells.append(f"{value!s:>10}")
        lines.append(f"{key:<32}" + "".join(cells))
    return "\n".join(lines)


def _eval_context(engine: Any) -> dict[str, str]:
    m = getattr(engine.index, "manifest", {})
    return {
        "index": str(engine.settings.index_dir),
        "modèle": str(m.get("model_id", "")),
        "passages": str(m.get("chunks", len(engine.index))),
        "index construit le": str(m.get("built_at", "")),
        "évalué le": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# --- calibrate ----------------------------------------------------------------------------------
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the refusal model on the question set and write chatbot/calibration.json."""
    import numpy as np

    from . import safety
    from .answer import CALIBRATION_PATH, Calibration, sigmoid_fit, support_features
    from .engine import Engine
    from .evaluate import read_questions
    from .index import load_index
    from .model import load_embedder

    settings = Settings.from_env(index_dir=args.index)
    embedder = load_embedder(settings.cache_dir)
    index = load_index(settings.index_dir, embedder)
    neutral = Calibration(weights={}, means={}, scales={}, bias=0.0)
    engine = Engine(index, embedder, settings, calibration=neutral)
    rows, labels = [], []
    for q in read_questions(args.questions):
        match = safety.check(q.question)
        # Questions a safety rule answers whatever the documents say teach nothing here.
        if match and match.rule is not safety.Rule.INJECTION:
            continue
        request, ranked = engine.prepare(match.cleaned_question if match else q.question, q.history)
        rows.append(support_features(index, request, ranked))
        labels.append(1.0 if q.answerable else 0.0)
    names = sorted(rows[0])
    x = np.array([[r[k] for k in names] for r in rows])
    y = np.array(labels)
    means, scales = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - means) / scales

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        # Balanced classes: unanswerable questions are fewer but matter as much.
        w_pos = (y[train] == 0).mean() * 2
        dup = np.concatenate([train] + [train[y[train] == 0]] * max(1, int(round(w_pos * 2))))
        w, b = sigmoid_fit(z[dup], y[dup])
        return 1.0 / (1.0 + np.exp(-(z[test] @ w + b)))

    everything = np.arange(len(y))
    w, b = sigmoid_fit(z, y)
    probs = 1.0 / (1.0 + np.exp(-(z @ w + b)))
    threshold = _best_threshold(probs, y)
    loo = np.array([fit_predict(np.delete(everything, i), np.array([i]))[0] for i in everything])
    loo_acc = _accuracies(loo >= threshold, y)
    fit_acc = _accuracies(probs >= threshold, y)
    data = {
        "features": names,
        "weights": {k: round(float(v), 4) for k, v in zip(names, w, strict=True)},
        "means": {k: round(float(v), 6) for k, v in zip(names, means, strict=True)},
        "scales": {k: round(float(v), 6) for k, v in zip(names, scales, strict=True)},
        "bias": round(float(b), 4),
        "threshold": round(float(threshold), 4),
        "fitted_on": {
            "questions": str(args.questions),
            "sha256": hashlib.sha256(args.questions.read_bytes()).hexdigest(),
            "answerable": int(y.sum()),
            "unanswerable": int(len(y) - y.sum()),
            "index_model": index.manifest.get("model_id"),
        },
        "accuracy_on_fit": fit_acc,
        "accuracy_leave_one_out": loo_acc,
    }
    CALIBRATION_PATH.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: data[k] for k in ("weights", "threshold", "accuracy_on_fit", "accuracy_leave_one_out")}, indent=2))
    return 0


def _accuracies(pred: Any, y: Any) -> dict[str, float]:
    return {
        "answerable": round(float((pred[y == 1] == 1).mean()), 4),
        "unanswerable": round(float((pred[y == 0] == 0).mean()), 4),
    }


def _best_threshold(probs: Any, y: Any) -> float:
    """The threshold that maximises the worse of the two refusal accuracies.

    It is put halfway between the lowest probability it accepts and the highest one below:
    on a question's own probability, rounding the stored weights would decide its side.
    """
    levels = sorted(set(float(p) for p in probs))
    best, best_key = 0, (-1.0, -1.0)
    for i, t in enumerate(levels):
        pred = probs >= t
        a = (pred[y == 1]).mean()
        u = (~pred[y == 0]).mean()
        key = (min(a, u), a + u)
        if key > best_key:
            best, best_key = i, key
    if best == 0:
        return levels[0] / 2 if levels else 0.5
    return (levels[best - 1] + levels[best]) / 2


# --- feedback -------------------------------------------------------------------------------------
def cmd_feedback_export(args: argparse.Namespace) -> int:
    """The 👎 answers, in the shared question format, for the team to review and add to eval/."""
    from .feedback import FeedbackStore, export_downvotes

    settings = Settings.from_env(feedback_db=args.db)
    if not settings.feedback_db.is_file():
        print(f"Aucune base d'avis : {settings.feedback_db}", file=sys.stderr)
        return 1
    n = export_downvotes(FeedbackStore(settings.feedback_db), args.out)
    print(f"{n} question(s) candidate(s) écrite(s) dans {args.out} (à relire : answerable, evidence, facts).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
