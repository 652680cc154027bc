"""The `chatbot` command: index, ask, eval, calibrate. It turns errors into French messages."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from . import texts_fr  # noqa: E402
from .config import Settings  # noqa: E402
from .errors import ChatbotError, InvalidQuestion  # noqa: E402


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
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("calibrate", help="ajuster le seuil de refus sur un fichier de questions")
    s.add_argument("--questions", type=Path, required=True)
    s.add_argument("--index", type=Path)
    s.set_defaults(func=cmd_calibrate)
    return p


# --- index ------------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from .chunk import ChunkSettings
    from .index import build_index, corpus_hash, read_manifest, save_index
    from .ingest import load_corpus
    from .model import load_embedder

    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.out)
    corpus_dir, out_dir = settings.corpus_dir.resolve(), settings.index_dir
    t0 = time.perf_counter()
    digest = corpus_hash(corpus_dir) if corpus_dir.is_dir() else ""
    if args.if_stale and (out_dir / "manifest.json").is_file():
        try:
            if read_manifest(out_dir).get("corpus_sha256") == digest:
                print(f"Index à jour : {out_dir}")
                return 0
        except ChatbotError:
            pass  # an unreadable manifest is rebuilt below
    report = load_corpus(corpus_dir)
    for skipped in report.skipped:
        print(f"Ignoré : {skipped.path} — {skipped.reason}", file=sys.stderr)
    embedder = load_embedder(settings.cache_dir)
    chunking = ChunkSettings(settings.chunk_tokens, settings.chunk_overlap_tokens)
    index = build_index(report.documents, embedder, chunking, digest, progress=sys.stderr.isatty())
    index.manifest["corpus_dir"] = str(corpus_dir)
    save_index(index, out_dir)
    m = index.manifest
    print(
        f"Index construit dans {out_dir} : {m['documents']} documents, {m['chunks']} passages, "
        f"{m['sentences']} phrases, en {time.perf_counter() - t0:.1f} s."
    )
    return 0


# --- ask ----------------------------------------------------------------------------------------
def _engine(index_dir: Path | None) -> Any:
    from .engine import Engine

    settings = Settings.from_env(index_dir=index_dir)
    return Engine.load(settings)


def cmd_ask(args: argparse.Namespace) -> int:
    history = json.loads(args.history.read_text(encoding="utf-8")) if args.history else []
    engine = _engine(args.index)
    try:
        answer = engine.ask(args.question, history)
    except InvalidQuestion as exc:
        message = input_error_message(exc, engine.settings.max_question_chars, args.question)
        if args.json:
            print(json.dumps(_invalid_result("ask", args.question, message), ensure_ascii=False))
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


def _invalid_result(qid: str, question: str, message: str) -> dict[str, Any]:
    return {
        "id": qid,
        "question": question,
        "answer": message,
        "refused": True,
        "safety": None,
        "citations": [],
        "retrieved": [],
        "timings_ms": {"retrieve": 0.0, "answer": 0.0, "total": 0.0},
    }


# --- eval ---------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import compute_metrics, format_metrics, read_questions, run

    questions = read_questions(args.questions)
    engine = _engine(args.index)

    def ask(q: Any) -> dict[str, Any]:
        try:
            return engine.ask(q.question, q.history, mode=args.mode).to_result(q.id, q.question)
        except InvalidQuestion as exc:
            message = input_error_message(exc, engine.settings.max_question_chars, q.question)
            return _invalid_result(q.id, q.question, message)

    results = run(questions, ask, progress=True)
    metrics = compute_metrics(questions, results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as f:
            for r in results:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(format_metrics(metrics))
    return 0


# --- calibrate ----------------------------------------------------------------------------------
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the refusal model on the question set and write chatbot/calibration.json."""
    import numpy as np

    from .answer import CALIBRATION_PATH, Calibration, sigmoid_fit, support_features
    from .engine import Engine, contextualize
    from .evaluate import read_questions
    from .model import load_embedder
    from . import safety
    from .index import load_index
    from .records import AnswerRequest

    settings = Settings.from_env(index_dir=args.index)
    embedder = load_embedder(settings.cache_dir)
    index = load_index(settings.index_dir, embedder)
    neutral = Calibration(weights={}, means={}, scales={}, bias=0.0)
    engine = Engine(index, embedder, settings, calibration=neutral)
    rows, labels = [], []
    for q in read_questions(args.questions):
        match = safety.check(q.question)
        if match and match.rule in (safety.Rule.EMERGENCY, safety.Rule.SUICIDE):
            continue  # answered by a fixed message, never by the documents
        query = contextualize(match.cleaned_question if match else q.question, q.history)
        retrieval = engine.retriever.search(query, settings.top_k)
        request = AnswerRequest(q.question, query, retrieval.hits, retrieval.query_vector, q.history)
        rows.append(support_features(index, request, engine.ranker.rank(request)))
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
    """The threshold that maximises the worse of the two refusal accuracies (ties: middle)."""
    best, best_key = 0.5, (-1.0, -1.0)
    for t in sorted(set(float(p) for p in probs)):
        pred = probs >= t
        a = (pred[y == 1]).mean()
        u = (~pred[y == 0]).mean()
        key = (min(a, u), a + u)
        if key > best_key:
            best, best_key = t, key
    return best


if __name__ == "__main__":
    raise SystemExit(main())
