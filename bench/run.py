"""`make bench`: the speed and memory figures of the README, measured on this machine.

Each measurement runs in its own fresh subprocess so that imports, caches and peak memory do
not leak from one to the next:

1. index build — `chatbot index` on the corpus into a temporary folder (wall time, passages/s);
2. cold start — a fresh `python -c` from the first import to the first answer;
3. warm latency — one process loads the engine, answers one warm-up question, then every
   question of the set once (`Engine.ask`, the whole path: retrieval and answer);
4. scale — synthetic corpora of 1k, 10k and 100k passages (see bench/synthetic.py: derived
   vectors, real query embedding, real lexical index), each served by a fresh process that
   answers the question set: query latency and peak resident memory (VmHWM).

Results go to bench/results/latest.json (with the machine and its load) and scale.png.

    python -m bench.run [--corpus corpus] [--questions eval/dev.jsonl] [--sizes ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# The targets of the speed issue (2-core machine, no GPU).
TARGETS = {
    "warm_p50_ms": 50.0,
    "warm_p95_ms": 150.0,
    "cold_start_s": 15.0,
    "index_build_s": 30.0,
    "scale_100k_p50_ms": 100.0,
    "scale_100k_rss_mb": 2048.0,
}

COLD_START = """
import sys, time, json
t0 = time.time()
from pathlib import Path
from chatbot.config import Settings
from chatbot.engine import Engine
t1 = time.time()
engine = Engine.load(Settings.from_env(index_dir=Path(sys.argv[1])))
t2 = time.time()
answer = engine.ask(sys.argv[2])
t3 = time.time()
print(json.dumps({"answered_at": t3, "import_s": t1 - t0, "load_s": t2 - t1,
                  "first_answer_s": t3 - t2, "refused": answer.refused}))
"""


# --- child side: serve the question set and report ---------------------------------------------
def serve(index_dir: Path, questions_path: Path, passes: int = 1) -> dict[str, Any]:
    """Load an engine on `index_dir` and time `Engine.ask` on every question (warm)."""
    from chatbot.answer.support import Calibration
    from chatbot.config import Settings
    from chatbot.engine import Engine
    from chatbot.errors import InvalidQuestion
    from chatbot.evaluation.questions import read_questions
    from chatbot.index.store import load_index

    t0 = time.perf_counter()
    settings = Settings.from_env(index_dir=index_dir)
    embedder = settings.embedder()
    embedder.encode_query(["chargement du modèle"])  # the model loads on first use
    t1 = time.perf_counter()
    index = load_index(index_dir, embedder)
    engine = Engine(index, embedder, settings, calibration=Calibration.load())
    t2 = time.perf_counter()
    rss_loaded = _rss_mb()
    engine.ask("Quels sont les premiers signes de la sclérose en plaques ?")  # warm-up
    questions = read_questions(questions_path)
    totals, retrieve, answer = [], [], []
    for _ in range(passes):
        for q in questions:
            s = time.perf_counter()
            try:
                a = engine.ask(q.question, q.history)
            except InvalidQuestion:
                continue
            totals.append((time.perf_counter() - s) * 1000)
            retrieve.append(a.timings_ms.get("retrieve", 0.0))
            answer.append(a.timings_ms.get("answer", 0.0))
    return {
        "passages": len(index),
        "faiss": type(index.faiss_index).__name__,
        "questions_timed": len(totals),
        "model_load_s": round(t1 - t0, 2),
        "index_load_s": round(t2 - t1, 2),
        "p50_ms": round(_pct(totals, 0.5), 1),
        "p95_ms": round(_pct(totals, 0.95), 1),
        "max_ms": round(max(totals), 1),
        "retrieve_p50_ms": round(_pct(retrieve, 0.5), 1),
        "answer_p50_ms": round(_pct(answer, 0.5), 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        # Of the resident memory at the end: private memory, and pages of memory-mapped index
        # files (shared with the page cache, dropped by the kernel under memory pressure).
        "rss_anon_mb": round(_status_kb("RssAnon") / 1024, 1),
        "rss_file_mb": round(_status_kb("RssFile") / 1024, 1),
    }


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return float("nan")


def _peak_rss_mb() -> float:
    return _status_kb("VmHWM") / 1024  # peak resident set of this process


def _rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


# --- parent side -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChildRun:
    """One measured subprocess."""

    stdout: str
    wall_s: float
    cpu_s: float  # user + system: what it cost, whatever else ran on the machine
    peak_rss_mb: float

    def last_json(self) -> Any:
        return json.loads(self.stdout.strip().splitlines()[-1])


def _python(*args: str) -> ChildRun:
    """Run `python args` in a fresh process and measure it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=_env(), stdout=out, stderr=err, text=True
        )
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix all children so far).
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(
            f"python {' '.join(args[:3])} a échoué ({proc.returncode}) :\n{stderr[-3000:]}"
        )
    return ChildRun(stdout, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=str(ROOT),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def machine_info() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    versions = {}
    for pkg in ("numpy", "faiss-cpu", "torch", "sentence-transformers", "transformers"):
        try:
            from importlib.metadata import version

            versions[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 — a missing package is just not listed
            pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024**2, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "git_commit": commit + ("+modifications" if dirty else ""),
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "load_average_at_start": os.getloadavg(),
        "targets": TARGETS,
    }
    work = Path(tempfile.mkdtemp(prefix="sep-bench-"))
    try:
        index_dir = work / "index"
        _say("1/4 construction de l'index du corpus…")
        build = _python(
            "-m", "chatbot.cli", "index", "--corpus", str(args.corpus), "--out", str(index_dir)
        )
        manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
        results["index_build"] = {
            "wall_s": round(build.wall_s, 1),
            "documents": manifest["documents"],
            "passages": manifest["chunks"],
            "sentences": manifest["sentences"],
            "passages_per_s": round(manifest["chunks"] / build.wall_s, 1),
            "texts_embedded_per_s": round(
                (manifest["chunks"] + manifest["sentences"]) / build.wall_s, 1
            ),
            "steps_s": manifest.get("build_timings", {}),
            "peak_rss_mb": round(build.peak_rss_mb, 1),
            "cpu_s": round(build.cpu_s, 1),
        }

        _say("2/4 démarrage à froid…")
        colds = []
        for _ in range(args.cold_runs):
            spawned = time.time()
            cold = _python("-c", COLD_START, str(index_dir), "la sep c'est hereditaire ?")
            child = cold.last_json()
            colds.append({"to_first_answer_s": round(child["answered_at"] - spawned, 2), "process_s": round(cold.wall_s, 2), "cpu_s": round(cold.cpu_s, 2),
                          **{k: round(v, 2) for k, v in child.items() if k.endswith("_s")}})  # fmt: skip
        results["cold_start"] = {
            "runs": colds,
            "median_s": round(statistics.median(c["to_first_answer_s"] for c in colds), 2),
            "max_s": max(c["to_first_answer_s"] for c in colds),
        }

        _say("3/4 latence à chaud sur les questions…")
        results["warm"] = _python(
            "-m", "bench.run", "_serve", str(index_dir), str(args.questions)
        ).last_json()

        _say("4/4 montée en charge (corpus synthétiques)…")
        synthetic = work / "synthetic"
        generation = _python(
            "-m", "bench.synthetic", "--from", str(index_dir), "--out", str(synthetic),
            "--sizes", *map(str, args.sizes),
        )  # fmt: skip
        scale: dict[str, Any] = {
            "note": "synthetic corpora: real passages + passages of mixed real sentences; their "
            "vectors are derived from real sentence vectors (not embedded by the model); the "
            "lexical index is built on the synthetic texts; queries are embedded by the real model "
            "and answered through Engine.ask",
            "generation": {
                **generation.last_json(),
                "wall_s": round(generation.wall_s, 1),
                "peak_rss_mb": round(generation.peak_rss_mb, 1),
            },  # fmt: skip
            "sizes": {},
        }
        for size in args.sizes:
            served = _python(
                "-m", "bench.run", "_serve", str(synthetic / f"n{size}"), str(args.questions)
            )
            scale["sizes"][str(size)] = served.last_json()
            _say(f"    {size} passages : {scale['sizes'][str(size)]}")
        results["scale"] = scale
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_average_at_end"] = os.getloadavg()
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    results["checks"] = _checks(results)
    return results


def _checks(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    largest = r["scale"]["sizes"].get("100000", {})
    measured = {
        "warm_p50_ms": r["warm"]["p50_ms"],
        "warm_p95_ms": r["warm"]["p95_ms"],
        "cold_start_s": r["cold_start"]["max_s"],
        "index_build_s": r["index_build"]["wall_s"],
        "scale_100k_p50_ms": largest.get("p50_ms"),
        "scale_100k_rss_mb": largest.get("peak_rss_mb"),
    }
    return {
        k: {"measured": v, "target": TARGETS[k], "met": v is not None and v <= TARGETS[k]}
        for k, v in measured.items()
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(s) for s in results["scale"]["sizes"])
    rows = [results["scale"]["sizes"][str(s)] for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(sizes, [r["p50_ms"] for r in rows], "o-", label="p50")
    ax.plot(sizes, [r["p95_ms"] for r in rows], "s--", label="p95")
    ax.axhline(
        TARGETS["scale_100k_p50_ms"], color="grey", lw=0.8, ls=":", label="objectif p50 à 100k"
    )
    ax.set_xscale("log")
    ax.set_xlabel("passages dans l'index")
    ax.set_ylabel("réponse complète (ms)")
    ax.set_ylim(bottom=0)
    for s, r in zip(sizes, rows, strict=True):
        ax.annotate(f"{r['peak_rss_mb']:.0f} Mo\n{r['faiss'].replace('Index', '')}", (s, r["p95_ms"]),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)  # fmt: skip
    m = results["machine"]
    ax.set_title(f"Latence de Engine.ask selon la taille du corpus\n{m['cores']} cœurs {m['cpu']}, corpus synthétique, "
                 f"charge moyenne {results['load_average_at_start'][0]:.1f}",
                 fontsize=10)  # fmt: skip
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def summary(r: dict[str, Any]) -> str:
    ib, cs, w = r["index_build"], r["cold_start"], r["warm"]
    lines = [
        f"machine : {r['machine']['cores']} cœurs {r['machine']['cpu']}, {r['machine']['memory_gb']} Go ; "
        f"charge moyenne au début {r['load_average_at_start'][0]:.2f}, à la fin {r['load_average_at_end'][0]:.2f}",
        f"index du corpus : {ib['wall_s']} s pour {ib['documents']} documents, {ib['passages']} passages et "
        f"{ib['sentences']} phrases ({ib['texts_embedded_per_s']} textes/s, {ib['cpu_s']} s de CPU) ; "
        f"étapes {ib['steps_s']}",
        f"démarrage à froid jusqu'à la 1re réponse : médiane {cs['median_s']} s, max {cs['max_s']} s "
        f"(import {cs['runs'][0].get('import_s')} s, chargement {cs['runs'][0].get('load_s')} s, "
        f"1re réponse {cs['runs'][0].get('first_answer_s')} s)",
        f"réponse à chaud ({w['questions_timed']} questions) : p50 {w['p50_ms']} ms, p95 {w['p95_ms']} ms "
        f"(recherche p50 {w['retrieve_p50_ms']} ms, réponse p50 {w['answer_p50_ms']} ms) ; mémoire max {w['peak_rss_mb']} Mo",
        "montée en charge (corpus synthétique, vecteurs dérivés — voir bench/synthetic.py) :",
    ]
    for size, s in r["scale"]["sizes"].items():
        lines.append(
            f"  {int(size):>7} passages {s['faiss']:<15} p50 {s['p50_ms']:>6} ms  p95 {s['p95_ms']:>6} ms  "
            f"mémoire max {s['peak_rss_mb']:>7} Mo  (index chargé en {s['index_load_s']} s)"
        )
    lines.append("objectifs :")
    for k, c in r["checks"].items():
        lines.append(
            f"  {'ok   ' if c['met'] else 'RATÉ '} {k:<20} mesuré {c['measured']}  objectif ≤ {c['target']}"
        )
    return "\n".join(lines)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_serve"]:  # child mode, see serve()
        print(json.dumps(serve(Path(argv[1]), Path(argv[2]))))
        return 0
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description="Mesures de vitesse et de mémoire."
    )
    p.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p.add_argument("--questions", type=Path, default=ROOT / "eval" / "dev.jsonl")
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    p.add_argument("--cold-runs", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    results = bench(args)
    results["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    plot(results, args.out / "scale.png")
    print(summary(results))
    print(f"\n{args.out / 'latest.json'}, {args.out / 'scale.png'} ({results['bench_wall_s']} s)")
    return 0 if all(c["met"] for c in results["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
