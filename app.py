"""The chat app on http://127.0.0.1:7860: the chat (/), the widget (/widget.js), the API (/api/).

Run with `make run` (which builds everything first) or `python app.py`. Settings come from
`CHATBOT_*` variables (see chatbot/config.py), e.g. CHATBOT_ALLOWED_ORIGINS for the widget.
"""

from __future__ import annotations

import os

# Before gradio is imported: no call to the Hugging Face hub, no Gradio telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main() -> int:
    """Serve the app; an index or model that cannot be served stops it with one French line."""
    import logging
    import sys

    from chatbot.config import Settings
    from chatbot.errors import ChatbotError
    from chatbot.serve.web import create_app, serve

    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    settings = Settings.from_env()
    try:
        app = create_app(settings)
    except ChatbotError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    serve(app, settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
