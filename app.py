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


def main() -> None:
    from chatbot.config import Settings
    from chatbot.web import create_app, serve

    settings = Settings.from_env()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
