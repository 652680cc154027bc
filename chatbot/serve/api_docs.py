"""/api/docs: the OpenAPI description as one plain page, in French.

No script and nothing loaded from elsewhere (FastAPI's own docs pages load theirs from a CDN):
each route with its summary, its body's schema and its answers, then every schema.
"""

from __future__ import annotations

import html
import json
from typing import Any


def docs_page(spec: dict[str, Any]) -> str:
    """The page for the OpenAPI description `spec`; every text escaped."""
    title = html.escape(spec["info"]["title"])
    parts = [
        f"<!doctype html><html lang='fr'><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>{title}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60em;margin:auto;padding:1em}"
        "pre{background:#f3f4f6;padding:.7em;overflow:auto}code{background:#f3f4f6}</style>"
        f"<h1>{title}</h1><p>{html.escape(spec['info'].get('description', ''))}</p>"
        "<p>Description OpenAPI complète : <a href='/api/openapi.json'>/api/openapi.json</a>. "
        "Le chat répond aussi aux clients Gradio (Python <code>gradio_client</code>, JS "
        "<code>@gradio/client</code>) : point d'accès <code>/ask</code>.</p>"
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            parts += _operation(path, method, op)
    schemas = spec.get("components", {}).get("schemas", {})
    parts.append("<h2>Schémas</h2>")
    for name, schema in schemas.items():
        parts.append(f"<h3 id='{html.escape(name)}'>{html.escape(name)}</h3>{_json(schema)}")
    return "".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    """One route: its summary, its description, its body's schema and its answers."""
    parts = [
        f"<h2><code>{method.upper()} {html.escape(path)}</code> — {html.escape(op.get('summary', ''))}</h2>",
        f"<p>{html.escape(op.get('description', '')).replace(chr(10) + chr(10), '</p><p>')}</p>",
    ]
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema:
        parts.append(f"<h3>Corps</h3>{_json(schema)}")
    codes = ", ".join(
        f"{c} ({html.escape(r.get('description', ''))})" for c, r in op.get("responses", {}).items()
    )
    parts.append(f"<p><strong>Réponses :</strong> {codes}</p>")
    return parts


def _json(schema: Any) -> str:
    return f"<pre>{html.escape(json.dumps(schema, ensure_ascii=False, indent=2))}</pre>"
