"""The chat app: a Gradio chat in French on http://127.0.0.1:7860, answering from the index.

Run with `make run` (which builds everything first) or `python app.py`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def main() -> None:
    from chatbot.config import Settings
    from chatbot.web import build_app, serve

    settings = Settings.from_env()
    app = build_app(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
