"""Readers: one corpus file to its raw text and what it says about itself, before repair.

Bytes are decoded (UTF-8, else Windows-1252; binary refused), Markdown is split from its
front matter, HTML is reduced to its visible text block by block, PDF text is extracted with
pypdf. A file that cannot become text raises `SkipFile`, whose message is the French reason
shown in the ingestion report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from chatbot.ingest.front_matter import MetaValue, parse_front_matter

__all__ = ["MAX_FILE_BYTES", "SUPPORTED_EXTENSIONS", "Extracted", "SkipFile", "read_file"]

SUPPORTED_EXTENSIONS = (".md", ".txt", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 50_000_000  # far beyond any article: such a file is skipped, never read whole


class SkipFile(Exception):
    """A file that cannot become a document; the message is the French reason."""


@dataclass
class Extracted:
    """A file's raw text and what it says about itself, before text repair."""

    text: str
    meta: dict[str, MetaValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    repair: bool = True  # False when the text has no layout to undo


def read_file(path: Path) -> Extracted:
    """The file's text, by its extension (one of `SUPPORTED_EXTENSIONS`).

    Raises:
        SkipFile: the file is empty, too large, binary or unreadable.
        OSError: the file cannot be opened.
    """
    size = path.stat().st_size
    if size == 0:
        raise SkipFile("fichier vide")
    if size > MAX_FILE_BYTES:
        raise SkipFile(f"fichier trop gros ({size} octets, {MAX_FILE_BYTES} au plus)")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(path)
    if suffix in (".html", ".htm"):
        return _read_html(path)
    return _read_text_file(path)


_NOT_LETTER = re.compile(r"[\W\d_]+")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")


def _decode(data: bytes) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8, else Windows-1252 when it reads as text; binary is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as error:
            raise SkipFile("fichier UTF-16 tronqué ou abîmé") from error
    if b"\x00" in data:
        raise SkipFile("fichier binaire (octets nuls) : ce n'est pas du texte")
    notes = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "Windows-1252 (cp1252)"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "Latin-1"
        notes.append(f"encodage non UTF-8 : lu comme {encoding}")
    if not text.strip():
        raise SkipFile("fichier vide (rien que des espaces)")
    sample = text[:100_000]
    if len(_BAD_CHARS.findall(sample)) > 0.02 * len(sample):
        raise SkipFile(
            "contenu binaire ou illisible (caractères de contrôle) : ce n'est pas du texte"
        )
    head = "".join(sample[:10_000].split())
    if len(_NOT_LETTER.sub("", head)) < 0.3 * len(head):
        raise SkipFile("contenu qui ne ressemble pas à du texte (trop peu de lettres)")
    return text, notes


def _read_text_file(path: Path) -> Extracted:
    text, notes = _decode(path.read_bytes())
    if path.suffix.lower() != ".md":
        return Extracted(text, notes=notes)
    try:
        meta, body = parse_front_matter(text)
    except ValueError as error:
        return Extracted(text, notes=[*notes, f"{error} : lu comme du texte sans métadonnées"])
    return Extracted(body, meta, notes)


class _HtmlText(HTMLParser):
    """Visible text of a page, block by block; scripts, styles and menus are dropped."""

    _DROPPED = {"script", "style", "nav", "noscript", "template", "svg"}
    _BLOCKS = {
        "p", "div", "br", "li", "ul", "ol", "tr", "td", "th", "table", "section", "article",
        "header", "footer", "main", "aside", "blockquote", "pre", "figure", "figcaption",
        "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "hr",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.meta: dict[str, str] = {}
        self._buffer: list[str] = []
        self._dropped = 0  # depth inside dropped elements
        self._in: str | None = None  # "title" or "h1" while inside the first of them
        self._captured: dict[str, list[str]] = {"title": [], "h1": []}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            self._read_meta(dict(attrs))
        if tag in self._BLOCKS:
            self._flush()
        if tag in ("title", "h1") and not self._captured[tag]:
            self._in = tag
        if tag in self._DROPPED:
            self._dropped += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._DROPPED and self._dropped:
            self._dropped -= 1
        if tag == self._in:
            self._in = None
        if tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in:
            self._captured[self._in].append(data)
        if not self._dropped and self._in != "title":
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    @property
    def title(self) -> str:
        for tag in ("h1", "title"):
            text = " ".join("".join(self._captured[tag]).split())
            if text:
                return text
        return ""

    def _flush(self) -> None:
        text = " ".join("".join(self._buffer).split())
        if text:
            self.blocks.append(text)
        self._buffer = []

    def _read_meta(self, attrs: dict[str, str | None]) -> None:
        name = (attrs.get("name") or attrs.get("property") or "").lower()
        content = (attrs.get("content") or "").strip()
        if name == "author" and content:
            self.meta.setdefault("authors", content)
        elif name in ("date", "dc.date", "article:published_time") and content:
            self.meta.setdefault("date", content[:10])


def _read_html(path: Path) -> Extracted:
    text, notes = _decode(path.read_bytes())
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    meta: dict[str, MetaValue] = dict(parser.meta)
    if parser.title:
        meta["title"] = parser.title
    return Extracted("\n\n".join(parser.blocks), meta, notes, repair=False)


def _read_pdf(path: Path) -> Extracted:
    try:
        from pypdf import PdfReader  # imported here: only a corpus with PDFs needs it
    except ImportError as error:
        raise SkipFile("PDF non lu : la bibliothèque pypdf n'est pas installée") from error
    # pypdf raises many exception types on damaged files; any of them means "unreadable".
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("PDF protégé par un mot de passe")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title, author = (info.title, info.author) if info else (None, None)
    except SkipFile:
        raise
    except Exception as error:  # noqa: BLE001
        raise SkipFile(f"PDF illisible ({type(error).__name__} : {error})") from error
    meta: dict[str, MetaValue] = {}
    if title and title.strip() and not re.search(r"\.\w{2,4}$|^Microsoft", title.strip()):
        meta["title"] = title.strip()
    if author and author.strip():
        meta["authors"] = author.strip()
    # A blank line between pages: a sentence running over a page is rejoined by repair_text.
    return Extracted("\n\n".join(pages), meta)
