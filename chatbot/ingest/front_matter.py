"""The front matter of a Markdown article: its metadata, read and written.

Only the simple YAML subset the corpus uses, read without a YAML library: `key: value`
(plain or quoted), lists as `key: [a, b]` or as `- item` lines under `key:`, and `#`
comments. `render_front_matter` writes what `parse_front_matter` reads back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

__all__ = ["MetaValue", "parse_front_matter", "render_front_matter", "split_outside"]

MetaValue = str | list[str]
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")


def parse_front_matter(text: str) -> tuple[dict[str, MetaValue], str]:
    """Split a Markdown text into its front matter and its body.

    Reads the simple YAML subset the corpus uses: `key: value` (plain or quoted), lists as
    `key: [a, b]` or as `- item` lines under `key:`, and `#` comments.

    Returns:
        The metadata (keys lower-cased) and the body; `{}` and the whole text when the text
        does not start with a `---` line.

    Raises:
        ValueError: the front matter is opened but never closed, or a line is unreadable.
    """
    lines = text.lstrip("\ufeff").split("\n")
    if lines[0].strip() != "---":
        return {}, text
    end = next((k for k in range(1, len(lines)) if lines[k].strip() in {"---", "..."}), None)
    if end is None:
        raise ValueError("front matter ouvert par « --- » mais jamais fermé")
    meta: dict[str, MetaValue] = {}
    key = None
    for line in lines[1:end]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.match(r"^\s*-\s+(.*)$", line)
        if item and key is not None and isinstance(meta[key], list):
            meta[key].append(_unquote(item.group(1)))  # type: ignore[union-attr]
            continue
        match = _KEY_LINE.match(line)
        if not match:
            raise ValueError(f"ligne de front matter illisible : {line.strip()!r}")
        key, value = match.group(1).lower(), match.group(2).strip()
        if not value:
            meta[key] = []  # a list of `- item` lines may follow
        elif value.startswith("[") and value.endswith("]"):
            meta[key] = [_unquote(v) for v in split_outside(value[1:-1], ",") if v.strip()]
        else:
            meta[key] = _unquote(value)
    return meta, "\n".join(lines[end + 1 :])


def render_front_matter(meta: Mapping[str, str | Sequence[str]]) -> str:
    """The front matter block (with its `---` lines) that `parse_front_matter` reads back."""
    out = ["---"]
    for key, value in meta.items():
        if isinstance(value, str):
            out.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
        else:
            out.append(f"{key}:")
            out.extend(f"  - {json.dumps(v, ensure_ascii=False)}" for v in value)
    out.append("---")
    return "\n".join(out) + "\n"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return re.sub(r"\s+#.*$", "", value)  # a YAML comment after a plain value


def split_outside(text: str, separators: str) -> list[str]:
    """Split at separators that are outside quotes and parentheses."""
    parts, current, depth, quote = [], "", 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'" and not current.strip():
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char in separators and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    return [p.strip() for p in parts]
