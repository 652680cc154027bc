"""Take the README's screenshots of the chat and of the widget: docs/screenshots/*.png.

    .venv/bin/python scripts/screenshots.py

Runs the app on the real engine and index on a free local port, and the example host page
(examples/host.html) as the association's site on another origin.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatbot.config import Settings  # noqa: E402
from chatbot.engine import Engine  # noqa: E402
from chatbot.serve.feedback import FeedbackStore  # noqa: E402
from chatbot.serve.web import create_app  # noqa: E402
from tests.webserver import CHROMIUM_ARGS, free_port, host_site, live_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def ask(scope, question: str):  # type: ignore[no-untyped-def]
    bots = scope.locator('[data-testid="bot"]')
    n = bots.count()
    box = scope.locator("#sep-question textarea")
    box.fill(question)
    box.press("Enter")
    bots.nth(n).locator(".sep-done").wait_for()
    return bots.nth(n)


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    site_port, chat_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            allowed_origins=(f"http://www.asso.test:{site_port}",),
            allowed_hosts=("chat.asso.test",),
            feedback_db=Path(tmp) / "fb.sqlite3",
        )
        app = create_app(settings, Engine.load(settings), FeedbackStore(settings.feedback_db))
        chat = f"http://chat.asso.test:{chat_port}"
        with live_server(app, chat_port), host_site(chat, site_port), sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for name, viewport, mobile in (
                ("chat", (1100, 1100), False),
                ("chat-phone", (412, 915), True),
            ):
                page = browser.new_page(
                    locale="fr-FR",
                    viewport={"width": viewport[0], "height": viewport[1]},
                    is_mobile=mobile,
                    device_scale_factor=1,
                )
                page.goto(chat)
                page.wait_for_selector("#sep-question textarea")
                answer = ask(page, "la biotine a forte dose ca marche ?")
                answer.locator("a.sep-cite").first.click()
                page.wait_for_timeout(400)
                page.locator('[data-testid="user"]').last.evaluate(
                    "e => e.scrollIntoView({block: 'start'})"
                )
                page.wait_for_timeout(300)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                page.close()
            for name, viewport in (("widget", (1200, 800)), ("widget-phone", (412, 860))):
                page = browser.new_page(
                    locale="fr-FR",
                    viewport={"width": viewport[0], "height": viewport[1]},
                    is_mobile=viewport[0] < 500,
                )
                page.goto(f"http://www.asso.test:{site_port}/host.html")
                page.get_by_role("button", name="Une question sur la SEP ?").click()
                frame = page.frame_locator("iframe")
                frame.locator("#sep-question textarea").wait_for()
                answer = ask(frame, "faut il une injection de gadolinium a chaque irm ?")
                answer.locator("a.sep-cite").first.click()
                page.wait_for_timeout(400)
                frame.locator('[data-testid="user"]').last.evaluate(
                    "e => e.scrollIntoView({block: 'start'})"
                )
                page.wait_for_timeout(300)
                page.screenshot(path=str(OUT / f"{name}.png"))
                page.close()
            browser.close()
    print(f"Screenshots written to {OUT}")


if __name__ == "__main__":
    main()
