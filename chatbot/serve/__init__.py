"""Serve: the web server — the chat (/), the widget (/widget.js, /embed/), the HTTP API (/api/).

Enters: HTTP requests; the `Engine` answers them.
Leaves: HTML pages, JSON records of the shared result format, votes stored in SQLite.
One policy for every route (`guard.py`): hosts, origins, body size, rate limits, queues.
Must not import: evaluation, build. Imported only by app.py and the tests: gradio is heavy.
"""
