"""The measurements of the hardening issue, on the real engine and the real server (app.py).

    .venv/bin/python bench/hardening.py [--only fuzz,poison,bodies,flood,faults,load]
                                        [--fuzz 10000] [--seconds 15] [--load-seconds 30]

1. fuzz: N random and mutated inputs (tests/fuzzing.py) through the real `Engine.ask`;
2. poison: 16 clients ask questions while one request with a lone surrogate arrives every
   50 ms; errors seen by the 16;
3. bodies: a 30 MB body, declared and chunked, on every route; bytes sent before the refusal
   and the server's memory; a foreign Host and a foreign Origin on every route;
4. flood: one client asks as fast as it can beside 16 others: where it is cut, their errors;
5. faults: read-only storage under the running app, a truncated index file, a malformed
   manifest: what the patient and the operator read;
6. load: 32 API clients for 30 s: errors, p50, p95.

Clients other than the flooder each have their own address, given as X-Forwarded-For from
127.0.0.1, the trusted proxy: as behind the association's reverse proxy. Prints the figures
and writes bench/results/hardening.json. On 2 shared cores it takes about 15 minutes, most of
it the fuzz (~50 ms an input).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.web_bench import pct, questions  # noqa: E402
from tests.webserver import free_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "hardening.json"
POISON = b'{"question": "la biotine \\ud800 ca marche ?", "history": []}'


def start_app(port: int, **env: str) -> subprocess.Popen[bytes]:
    import httpx

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "CHATBOT_PORT": str(port),
            "CHATBOT_HOST": "127.0.0.1",
            **env,
        },
        stderr=(RESULTS.parent / "hardening-app.log").open(
            "ab"
        ),  # a pipe never read could block it
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return proc
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(f"app.py exited with {proc.returncode}") from None
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("app.py did not start in 180 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- 1. fuzz ---------------------------------------------------------------------------------
def fuzz(n: int) -> dict[str, Any]:
    from chatbot.config import Settings
    from chatbot.engine import Engine
    from tests.test_input_cleaning import _fuzz

    engine = Engine.load(Settings.from_env())
    t0 = time.perf_counter()
    failures = _fuzz(engine, n, seed=10_000)
    return {
        "inputs": n,
        "unexpected_exceptions": len(failures),
        "first": failures[:5],
        "seconds": round(time.perf_counter() - t0, 1),
    }


# --- clients -------------------------------------------------------------------------------------
async def normal_clients(
    url: str, clients: int, seconds: float, *, crowd: bool, pause: float = 0.0, net: int = 1
) -> dict[str, Any]:
    """`clients` API clients asking the evaluation's questions, one after the other.

    crowd: each request comes from a new address, as many patients behind the proxy (a load
    test of the server, which per-client limits must not cut); otherwise each client keeps
    its own address and waits `pause` seconds between questions, as one patient would.
    """
    import httpx

    qs = questions()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    stop_at = time.monotonic() + seconds
    sent = 0

    async def client(k: int) -> None:
        nonlocal sent
        async with httpx.AsyncClient(timeout=60) as http:
            i = k
            while time.monotonic() < stop_at:
                n = sent if crowd else k
                sent += 1
                address = f"10.{net}.{n // 250 % 250}.{n % 250 + 1}"
                t0 = time.perf_counter()
                try:
                    r = await http.post(
                        f"{url}/api/ask",
                        json={"question": qs[i % len(qs)], "history": []},
                        headers={"X-Forwarded-For": address},
                    )
                    if r.status_code != 200 or "answer" not in r.json():
                        errors[f"HTTP {r.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - t0)
                i += clients
                if pause:
                    await asyncio.sleep(pause)

    t0 = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.monotonic() - t0
    return {
        "clients": clients,
        "addresses": "one per request"
        if crowd
        else f"one per client, {pause:g} s between questions",
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_s": round(pct(latencies, 50), 3),
        "p95_s": round(pct(latencies, 95), 3),
    }


async def every(url: str, seconds: float, interval: float, send: Any) -> Counter[str]:
    """Call `send(http, k)` every `interval` seconds for `seconds`; count the outcomes."""
    import httpx

    outcomes: Counter[str] = Counter()
    stop_at = time.monotonic() + seconds
    tasks = []

    async def one(http: Any, k: int) -> None:
        try:
            r = await send(http, k)
            outcomes[str(r.status_code)] += 1
        except httpx.HTTPError as exc:
            outcomes[type(exc).__name__] += 1

    async with httpx.AsyncClient(timeout=60) as http:
        k = 0
        while time.monotonic() < stop_at:
            tasks.append(asyncio.create_task(one(http, k)))
            k += 1
            await asyncio.sleep(interval)
        await asyncio.gather(*tasks)
    return outcomes


# --- 2. poison -------------------------------------------------------------------------------
def poison(url: str, seconds: float) -> dict[str, Any]:
    async def bad(http: Any, k: int) -> Any:
        headers = {
            "content-type": "application/json",
            "X-Forwarded-For": f"10.9.{k // 250}.{k % 250 + 1}",
        }
        return await http.post(f"{url}/api/ask", content=POISON, headers=headers)

    async def run() -> tuple[dict[str, Any], Counter[str]]:
        normal, bad_outcomes = await asyncio.gather(
            normal_clients(url, 16, seconds, crowd=True), every(url, seconds, 0.05, bad)
        )
        return normal, bad_outcomes

    normal, outcomes = asyncio.run(run())
    return {"normal": normal, "poison_requests": dict(outcomes)}


# --- 3. bodies, hosts, origins -----------------------------------------------------------------
ROUTES = [
    ("POST", "/api/ask"),
    ("POST", "/api/feedback"),
    ("POST", "/gradio_api/queue/join"),
    ("POST", "/embed/gradio_api/queue/join"),
    ("POST", "/gradio_api/call/ask"),
    ("POST", "/embed/gradio_api/call/ask"),
    ("POST", "/gradio_api/upload"),
    ("POST", "/embed/gradio_api/upload"),
]


def bodies(url: str, pid: int) -> dict[str, Any]:
    import httpx

    from tests.test_guard import raw_post

    rss_before = rss_mb(pid)
    sent = {}
    for _, path in ROUTES:
        for chunked in (False, True):
            status, _, n = raw_post(url, path, chunked=chunked)
            sent[f"{path} {'chunked' if chunked else 'declared'}"] = {
                "status": status,
                "bytes_sent": n,
            }
    port = url.rsplit(":", 1)[1]
    refused = {}
    for method, path in [
        *ROUTES,
        ("GET", "/"),
        ("GET", "/embed/"),
        ("GET", "/widget.js"),
        ("GET", "/gradio_api/info"),
    ]:
        host = httpx.request(method, url + path, headers={"Host": f"evil.example:{port}"}, json={})
        origin = httpx.request(
            method, url + path, headers={"Origin": "http://evil.example"}, json={}
        )
        refused[f"{method} {path}"] = {
            "foreign_host": host.status_code,
            "foreign_origin": origin.status_code,
        }
    return {
        "body_30mb": sent,
        "max_bytes_sent_before_refusal": max(v["bytes_sent"] for v in sent.values()),
        "server_rss_mb_before_after": [round(rss_before), round(rss_mb(pid))],
        "foreign_host_and_origin": refused,
    }


# --- 4. flood ---------------------------------------------------------------------------------
def flood(url: str, seconds: float) -> dict[str, Any]:
    async def flooder(http: Any, k: int) -> Any:
        headers = {"X-Forwarded-For": "203.0.113.66"}
        return await http.post(
            f"{url}/api/ask", json={"question": "la biotine ca marche ?"}, headers=headers
        )

    async def run() -> tuple[dict[str, Any], Counter[str]]:
        # The 16 others are patients: one address each, a question every 2 s (30 a minute).
        return await asyncio.gather(
            normal_clients(url, 16, seconds, crowd=False, pause=2.0, net=2),
            every(url, seconds, 0.01, flooder),
        )

    normal, outcomes = asyncio.run(run())
    return {"normal": normal, "flooder": dict(outcomes)}


# --- 5. faults ----------------------------------------------------------------------------------
def storage_fault(tmp: Path) -> dict[str, Any]:
    """Under the running app, the feedback folder made read-only (chattr +i: root's writes
    fail too), then its disk filled up (a tmpfs of 1 MB, when this machine lets us mount)."""
    import httpx

    folder = tmp / "var"
    folder.mkdir()
    tmpfs = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=False
        ).returncode
        == 0
    )
    port = free_port()
    proc = start_app(port, CHATBOT_FEEDBACK_DB=str(folder / "feedback.sqlite3"))
    url = f"http://127.0.0.1:{port}"
    vote = {"vote": "up", "question": "q", "answer": "a"}
    out: dict[str, Any] = {"vote_before": httpx.post(url + "/api/feedback", json=vote).status_code}

    def observe() -> dict[str, Any]:
        r = httpx.post(url + "/api/feedback", json=vote)
        return {
            "vote": [r.status_code, r.json().get("detail")],
            "health": httpx.get(url + "/api/health").json(),
            "ask_status": httpx.post(
                url + "/api/ask", json={"question": "la biotine ca marche ?"}
            ).status_code,
            "app_alive": proc.poll() is None,
        }

    try:
        files = [str(folder), *map(str, folder.iterdir())]
        subprocess.run(["chattr", "+i", *files], check=True)
        out["read_only"] = observe()
        subprocess.run(["chattr", "-i", *files], check=True)
        out["vote_after_repair"] = httpx.post(url + "/api/feedback", json=vote).status_code
        if tmpfs:
            with (folder / "filler").open("wb") as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            out["disk_full"] = observe()
            (folder / "filler").unlink()
            out["vote_after_freeing"] = httpx.post(url + "/api/feedback", json=vote).status_code
    finally:
        stop(proc)
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=False, capture_output=True)
        if tmpfs:
            subprocess.run(["umount", str(folder)], check=False)
    return out


def index_faults(tmp: Path) -> dict[str, Any]:
    from chatbot.config import Settings

    out = {}
    for damage in ("truncated sentences.npy", "truncated lexical.npz", "manifest is a JSON list"):
        copy = tmp / damage.replace(" ", "_")
        shutil.copytree(Settings.from_env().index_dir, copy)
        if damage == "manifest is a JSON list":
            (copy / "manifest.json").write_text("[1, 2]")
        else:
            path = copy / damage.split()[1]
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "app.py")],
            env={**os.environ, "CHATBOT_INDEX": str(copy), "CHATBOT_PORT": str(free_port())},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        lines = [x for x in proc.stderr.splitlines() if x.strip() and "it/s]" not in x]
        out[damage] = {
            "exit": proc.returncode,
            "stderr_lines": lines,
            "seconds": round(time.monotonic() - t0, 1),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="fuzz,poison,bodies,flood,faults,load")
    ap.add_argument("--fuzz", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--load-seconds", type=float, default=30)
    args = ap.parse_args()
    only = set(args.only.split(","))
    # Sections run separately keep their own figures, commit and load in one file.
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    measured = {"git_commit": commit, "load_average_start": os.getloadavg()}
    if "fuzz" in only:
        results["fuzz"] = {**fuzz(args.fuzz), **measured}
        print("fuzz:", json.dumps(results["fuzz"], ensure_ascii=False))
    if only & {"poison", "bodies", "flood", "load"}:
        port = free_port()
        proc = start_app(port)
        url = f"http://127.0.0.1:{port}"
        try:
            for name, run in [
                ("poison", lambda: poison(url, args.seconds)),
                ("bodies", lambda: bodies(url, proc.pid)),
                ("flood", lambda: flood(url, args.seconds)),
                (
                    "load",
                    lambda: asyncio.run(
                        normal_clients(url, 32, args.load_seconds, crowd=True, net=3)
                    ),
                ),
            ]:
                if name in only:
                    results[name] = {**run(), **measured}
                    print(f"{name}:", json.dumps(results[name], ensure_ascii=False))
                    time.sleep(60 if name == "flood" else 1)  # the flooder's bucket refills
        finally:
            stop(proc)
    if "faults" in only:
        with tempfile.TemporaryDirectory() as tmp:
            results["storage"] = {**storage_fault(Path(tmp)), **measured}
            print("storage:", json.dumps(results["storage"], ensure_ascii=False))
            results["index"] = {**index_faults(Path(tmp)), **measured}
            print("index:", json.dumps(results["index"], ensure_ascii=False))
    results.pop("load_average_start", None)
    results.pop("git_commit", None)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
