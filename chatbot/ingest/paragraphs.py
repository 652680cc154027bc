"""Paragraphs rebuilt from hard-wrapped lines: the second half of PDF text repair.

Text extracted from a page layout breaks every few words. `rebuild_paragraphs` groups the
lines of each block (between blank lines) into paragraphs, one line each, telling a wrapped
line from the start of a new paragraph, a heading or a list item by its shape, then rejoins
paragraphs that a page or column break cut in mid-sentence. Markdown headings and tables
are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["LIST_ITEM", "is_markup", "rebuild_paragraphs"]

LIST_ITEM = re.compile(r"^(?:[-–—•▪◦●*]\s|\d{1,2}[.)]\s)")
_UNWRAPPED_LINE = 200  # no page or column is that wide: such lines are whole paragraphs
_CLOSERS = "»\"”’')] "


def rebuild_paragraphs(lines: list[str]) -> list[str]:
    """The paragraphs of the lines, each joined into one line (blank lines separate blocks)."""
    paragraphs: list[str] = []
    for block in _blocks(lines):
        paragraphs.extend(_split_block(block))
    return _merge_continuations(paragraphs)


def is_markup(line: str) -> bool:
    """A Markdown heading or table row: never joined to the text around it."""
    return line.startswith(("#", "|"))


def _blocks(lines: list[str]) -> Iterator[list[str]]:
    block: list[str] = []
    for line in lines:
        if line:
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS)[-1:] in {".", "!", "?", "…", ":"}


def _opens_sentence(line: str) -> bool:
    first = line.lstrip("«“\"'(‘ ")[:1]
    return first.isupper() or first.isdigit()


def _split_block(block: list[str]) -> list[str]:
    """Cut a block of lines into paragraphs, each joined into one line."""
    width = max(len(line) for line in block)
    paragraphs: list[list[str]] = [[block[0]]]
    for k in range(1, len(block)):
        before = block[k - 2] if k > 1 else None
        if _starts_paragraph(before, block[k - 1], block[k], width):
            paragraphs.append([])
        paragraphs[-1].append(block[k])
    return [_join_lines(p) for p in paragraphs]


def _starts_paragraph(before: str | None, prev: str, line: str, width: int) -> bool:
    if prev.startswith("|") and line.startswith("|"):
        return False  # rows of one Markdown table
    if is_markup(prev) or is_markup(line) or LIST_ITEM.match(line):
        return True
    if width > _UNWRAPPED_LINE:
        return True  # one paragraph per line; `_merge_continuations` rejoins broken ones
    if prev.isupper() and line.isupper():
        return False  # a title in capitals, over several lines
    if not _opens_sentence(line):
        return False
    if _ends_sentence(prev):
        return len(prev) < 0.8 * width  # the short last line of a paragraph
    # A heading: a short line of its own, not a sentence, before a capital.
    heading_shape = len(prev) < 0.6 * width or (prev.isupper() and not line.isupper())
    return (
        heading_shape
        and len(prev) <= 70
        and prev[:1].isupper()
        and prev[-1] not in ",;-'’(«"
        and (before is None or _ends_sentence(before))
    )


def _join_lines(lines: list[str]) -> str:
    if lines[0].startswith("|"):
        return "\n".join(lines)
    text = lines[0]
    for line in lines[1:]:
        glued = text[-1:] in {"'", "’"} and text[-2:-1].isalpha()  # l’ | IRM
        text += line if glued else " " + line
    return text


def _merge_continuations(paragraphs: list[str]) -> list[str]:
    """Rejoin a paragraph cut by a blank line in mid-sentence (page or column break)."""
    out: list[str] = []
    for paragraph in paragraphs:
        if out and _continues(out[-1], paragraph):
            out[-1] = _join_lines([out[-1], paragraph])
        else:
            out.append(paragraph)
    return out


def _continues(prev: str, paragraph: str) -> bool:
    if is_markup(prev) or is_markup(paragraph) or LIST_ITEM.match(paragraph):
        return False
    if _ends_sentence(prev) or prev.endswith(";"):
        return False
    first = paragraph[0]
    if first.islower():
        return True
    # "l’analyse de | 47429 patients": a number after a word, not after a short heading.
    return first.isdigit() and prev[-1].islower() and len(prev) >= 40
