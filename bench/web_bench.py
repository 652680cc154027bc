"""Web benchmark: browser time-to-complete-answer, and 20 API clients for 30 s. Prints numbers.

    .venv/bin/python bench/web_bench.py [--clients 20] [--seconds 30] [--questions 12]

Starts `app.py` (the real engine and index) on a free port of 127.0.0.1 in its own process,
so the load generator does not share the server's interpreter, then stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.webserver import CHROMIUM_ARGS, free_port  # noqa: E402


def questions(n: int | None = None) -> list[str]:
    rows = [
        json.loads(x)
        for x in (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    qs = [r["question"] for r in rows if not r.get("history")]
    return qs[:n] if n else qs


def start_app(port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "CHATBOT_PORT": str(port),
        "CHATBOT_HOST": "127.0.0.1",
        "CHATBOT_FEEDBACK_DB": str(tmp / "bench-feedback.sqlite3"),
        # 20 clients from one address are one client far over its limit: this measures the
        # engine and the server, not the rate limiter (bench/hardening.py measures that).
        "CHATBOT_QUESTIONS_PER_MINUTE": "0",
    }
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}")
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("app.py did not start in 120 s")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# Timed inside the page: from the Enter keydown to the complete answer (sources included) shown.
_ARM = """() => {
  const box = document.querySelector('#sep-question textarea');
  const before = document.querySelectorAll('.sep-done').length;
  window.__sep = {t0: null, t1: null};
  box.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__sep.t0 = performance.now(); },
                       {once: true, capture: true});
  const obs = new MutationObserver(() => {
    if (document.querySelectorAll('.sep-done').length > before) {
      window.__sep.t1 = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(document.body, {childList: true, subtree: true});
}"""


def browser_bench(url: str, qs: list[str]) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(locale="fr-FR")
        page.set_default_timeout(30_000)
        page.goto(url)
        page.wait_for_selector("#sep-question textarea")
        for i, q in enumerate(["c'est quoi la sep ?", *qs]):  # the first one warms up, not counted
            page.locator("#sep-restart").click()  # each question in a fresh conversation
            page.wait_for_function("document.querySelectorAll('.sep-done').length === 0")
            page.locator("#sep-question textarea").fill(q)
            page.evaluate(_ARM)
            page.keyboard.press("Enter")
            page.wait_for_function("window.__sep.t1 !== null")
            if i:
                times.append(page.evaluate("window.__sep.t1 - window.__sep.t0") / 1000)
        browser.close()
    return times


async def load_bench(url: str, qs: list[str], clients: int, seconds: float) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    async def client(k: int) -> None:
        # Each client its own address, as the reverse proxy on 127.0.0.1 (trusted) forwards
        # it: from one address, 20 clients would be one client over its rate limit.
        headers = {"X-Forwarded-For": f"10.0.{k // 250}.{k % 250 + 1}"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as http:
            i = k
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = await http.post(
                        f"{url}/api/ask", json={"question": qs[i % len(qs)], "history": []}
                    )
                    if r.status_code != 200 or "answer" not in r.json():
                        errors.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                latencies.append(time.perf_counter() - t0)
                i += clients

    t0 = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.monotonic() - t0
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "throughput_rps": len(latencies) / wall,
        "p50_s": statistics.median(latencies),
        "p95_s": pct(latencies, 95),
        "max_s": max(latencies),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--questions", type=int, default=12, help="questions timed in the browser")
    ap.add_argument(
        "--url", help="measure a server already running there instead of starting app.py"
    )
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = None if args.url else start_app(port, Path(tmp))
        url = args.url or f"http://127.0.0.1:{port}"
        try:
            times = browser_bench(url, questions(args.questions))
            print(
                f"browser, Enter -> complete answer shown ({len(times)} questions): "
                f"median {statistics.median(times):.3f} s, p95 {pct(times, 95):.3f} s, max {max(times):.3f} s"
            )
            res = asyncio.run(load_bench(url, questions(), args.clients, args.seconds))
            print(
                f"API load, {args.clients} clients x {args.seconds:.0f} s on 127.0.0.1: "
                f"{res['requests']} requests, {res['errors']} errors, {res['throughput_rps']:.1f} req/s, "
                f"p50 {res['p50_s']:.3f} s, p95 {res['p95_s']:.3f} s, max {res['max_s']:.3f} s"
            )
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
