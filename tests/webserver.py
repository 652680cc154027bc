"""Run the web app (or any ASGI app) in a thread on a free 127.0.0.1 port, for tests and bench."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Debian's chromium, headless, with nothing reaching outside (DEVELOPERS.md).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Test host names on loopback: the association's site and a site that is not allowed.
    "--host-resolver-rules=MAP *.asso.test 127.0.0.1, MAP *.pirate.test 127.0.0.1",
]


ROOT = Path(__file__).resolve().parent.parent
NODE_PREFIX = ROOT / "build" / "node"  # npm packages the tests use, installed once


def npm_package(spec: str) -> Path:
    """The folder of npm package `spec` (name@version), installed into build/node if missing.

    `make test` installs node and npm (Debian's packages) when the machine lacks them.
    """
    name = spec.rsplit("@", 1)[0]
    folder = NODE_PREFIX / "node_modules" / name
    if not folder.is_dir():
        assert shutil.which("npm"), "node/npm missing: run `make browser`"
        proc = subprocess.run(
            ["npm", "install", "--prefix", str(NODE_PREFIX), "--no-audit", "--no-fund", spec],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, f"npm could not install {spec}: {proc.stderr[-300:]}"
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn until the block ends; yields its base URL."""
    import uvicorn

    port = port or free_port()
    # proxy_headers off, as app.py serves it: the app reads X-Forwarded-For itself.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the web app did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def host_site(chat_origin: str, port: int | None = None) -> Iterator[int]:
    """Serve examples/host.html (its widget pointed at `chat_origin`) as the association's site."""
    page = (Path(__file__).resolve().parent.parent / "examples" / "host.html").read_text(
        encoding="utf-8"
    )
    body = page.replace("http://127.0.0.1:7860", chat_origin).encode("utf-8")

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            if self.path.split("?")[0] == "/frame.html":  # a page that frames the chat directly
                data = f'<!doctype html><iframe title="chat" src="{chat_origin}/embed/"></iframe>'.encode()
            else:
                data = body
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    port = port or free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()
