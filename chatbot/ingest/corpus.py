"""Ingestion: read the corpus folder into cleaned `Document`s.

`load_corpus` reads, recursively, every .md (with an optional front matter), .txt,
.html/.htm and .pdf file. Text extracted from PDFs arrives with a hard line break every few
words and words hyphenated at line ends: `repair_text` rebuilds words and paragraphs, using
the corpus's own vocabulary as evidence for each hyphen. A bad file is skipped with a
French reason and never stops the others; only an unusable folder raises `CorpusError`.

Not corpus, ignored without a word: hidden files and folders (`.git`, `.DS_Store`), files
whose name starts with `_` (`_MANIFEST.json`) and README files, which describe the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

from chatbot.errors import CorpusError
from chatbot.records import Document

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "FileNote",
    "IngestReport",
    "SkippedFile",
    "build_vocabulary",
    "load_corpus",
    "parse_front_matter",
    "render_front_matter",
    "repair_text",
    "slugify",
]

SUPPORTED_EXTENSIONS = (".md", ".txt", ".html", ".htm", ".pdf")
MAX_FILE_BYTES = 50_000_000  # far beyond any article: such a file is skipped, never read whole


@dataclass(frozen=True)
class SkippedFile:
    """A file of the corpus folder left out of the index, and why (in French)."""

    path: str  # relative to the corpus folder, forward slashes
    reason: str


@dataclass(frozen=True)
class FileNote:
    """Something worth knowing about a file that was indexed anyway (in French)."""

    path: str
    note: str


@dataclass
class IngestReport:
    """What `load_corpus` made of the folder: the documents, and every file it left out."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[FileNote] = field(default_factory=list)


# --- text repair ------------------------------------------------------------------------

_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_LIGATURE = re.compile("[ﬀ-ﬆ]")
# Control characters (tab, newline, form feed, carriage return apart) and zero-width marks.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_LETTERS = r"[^\W\d_]+"
_WORD = re.compile(rf"{_LETTERS}(?:-{_LETTERS})*")
_CUT = re.compile(r"-[ \t]*\n\s*")  # a hyphen at a line end
_LEADING_LETTERS = re.compile(r"[^\W\d_]*")
_LINE_END_HYPHEN = re.compile(rf"({_LETTERS})-$")
_LIST_ITEM = re.compile(r"^(?:[-–—•▪◦●*]\s|\d{1,2}[.)]\s)")
_UNWRAPPED_LINE = 200  # no page or column is that wide: such lines are whole paragraphs

# Evidence for a hyphen at a line end, when the vocabulary has none. French typesetting cuts
# words between syllables, so a line-end hyphen is a cut unless the pieces say otherwise.
_ALWAYS_HYPHENATED = {"sous", "semi", "non", "demi", "vice", "médico"}  # sous-cutanée
# Hyphenated when what follows is itself a word (anti-inflammatoire), welded otherwise
# (préférez, antigrippale): the vocabulary tells the two apart.
_PREFIXES = {"anti", "auto", "post", "pré", "contre", "quasi", "pseudo", "ultra"}
_HYPHEN_SUFFIXES = {  # whole second parts that only ever follow a hyphen
    "t", "à", "là", "être", "même", "mêmes", "moi", "toi", "lui", "nous", "vous",
    "il", "ils", "elle", "elles", "on", "delà", "dessus", "dessous",
}  # fmt: skip
_AFTER = {"ce": {"est"}, "ci": {"celui", "celle", "ceux", "celles"}}  # est-ce, celle-ci
_CLOSERS = "»\"”’')] "


def repair_text(raw: str, vocabulary: set[str] | None = None) -> str:
    """Rebuild words and paragraphs of text extracted from a page layout.

    Joins words hyphenated at line ends (keeping real hyphens), joins hard-wrapped lines
    into paragraphs, normalizes whitespace and applies NFC. Idempotent on its own output.

    Args:
        raw: the extracted text.
        vocabulary: lower-cased words and hyphenated compounds of the corpus (see
            `build_vocabulary`); the text's own words are always added.

    Returns:
        The text, one paragraph per line, paragraphs separated by a blank line.
    """
    text = _normalize(raw)
    return _repair(text, _Vocabulary(_words_of(text), vocabulary or set()))


def _repair(text: str, vocab: _Vocabulary) -> str:
    """`repair_text` on text already normalized."""
    lines = _dehyphenate(_collapse_blank_lines(text.split("\n")), vocab)
    paragraphs: list[str] = []
    for block in _blocks(lines):
        paragraphs.extend(_split_block(block))
    return "\n\n".join(_merge_continuations(paragraphs))


def build_vocabulary(texts: Iterable[str]) -> set[str]:
    """Lower-cased words and hyphenated compounds (and their pairs) of the texts."""
    vocab: set[str] = set()
    for text in texts:
        vocab |= _words_of(_normalize(text))
    return vocab


def _words_of(normalized: str) -> set[str]:
    words = set(_WORD.findall(_without_cut_words(normalized).lower()))
    for compound in [w for w in words if "-" in w]:
        parts = compound.split("-")
        words.update(parts)
        words.update(f"{a}-{b}" for a, b in zip(parts, parts[1:], strict=False))
    return words


def _without_cut_words(text: str) -> str:
    """The text less the two fragments of every word cut at a line end: they are no words."""
    pieces = _CUT.split(text)
    for k in range(len(pieces)):
        piece = pieces[k]
        start = _LEADING_LETTERS.match(piece).end() if k else 0  # type: ignore[union-attr]
        end = len(piece)
        if k < len(pieces) - 1:
            while end > start and piece[end - 1].isalpha():
                end -= 1
        pieces[k] = piece[start:end]
    return " ".join(pieces)


class _Vocabulary:
    """The text's own words and the corpus's, without copying the corpus's for every text."""

    def __init__(self, own: set[str], shared: set[str]) -> None:
        self.own, self.shared = own, shared

    def __contains__(self, word: str) -> bool:
        return word in self.own or word in self.shared


def _normalize(raw: str) -> str:
    text = _LIGATURE.sub(
        lambda m: _LIGATURES.get(m.group(), m.group()), unicodedata.normalize("NFC", raw)
    )
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = re.sub(r"\u00ad[ \t]*\n[ \t]*", "", text).replace("\u00ad", "")  # soft hyphens: cuts
    text = _INVISIBLE.sub("", text)
    # str.split() knows every Unicode space (no-break, narrow no-break...): one plain space.
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


def _collapse_blank_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def _dehyphenate(lines: list[str], vocab: _Vocabulary) -> list[str]:
    """Join each word cut at a line end (across one blank line too) or keep its hyphen."""
    out = list(lines)
    i = 0
    while i < len(out):
        cut = _LINE_END_HYPHEN.search(out[i]) if out[i].endswith("-") else None
        j = i + 1 if i + 1 < len(out) and out[i + 1] else i + 2
        # Across a blank line only a lower-case continuation is a column break; a capital
        # there starts something else (a heading, a signature).
        if (
            not cut
            or j >= len(out)
            or not (out[j][:1].islower() if j == i + 2 else out[j][:1].isalnum())
        ):
            i += 1
            continue
        token, _, rest = out[j].partition(" ")
        right = re.match(r"[^\W_]+", token)
        assert right  # out[j] starts with a letter or digit
        if _keeps_hyphen(cut.group(1), right.group(), vocab):
            out[i] += token
        else:
            out[i] = out[i][:-1] + token
        # The paragraph goes on: the blank line of a column break goes, and an emptied line.
        if _LIST_ITEM.match(rest) or _is_markup(rest):
            out[i], rest = f"{out[i]} {rest}", ""  # "Biosta- | tistique - Bioinformatique"
        out[j] = rest
        if not rest:
            del out[j]
        if j == i + 2:
            del out[i + 1]
        # out[i] is examined again: its new last word may itself end with a cut.
    return out


def _keeps_hyphen(left: str, right: str, vocab: _Vocabulary | set[str]) -> bool:
    if right[0].isdigit():
        return True
    if right[0].isupper():
        if len(left) > 1 and left.isupper() and right.isupper():  # a cut in a capitals heading
            return (left + right).lower() not in vocab
        return True  # Etats-Unis, Lebrun-Frenay, anti-CD20
    lo_left, lo_right = left.lower(), right.lower()
    if f"{lo_left}-{lo_right}" in vocab:
        return True
    if lo_left + lo_right in vocab:
        return False
    if lo_left in _ALWAYS_HYPHENATED or lo_right in _HYPHEN_SUFFIXES:
        return True
    if lo_left in _AFTER.get(lo_right, ()):
        return True
    if lo_left in _PREFIXES and lo_left[-1] == lo_right[0] and lo_right[0] in "aeiouy":
        return True  # French keeps the hyphen between two identical vowels: anti-inflammatoire
    return lo_left in _PREFIXES and len(lo_right) > 2 and lo_right in vocab


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


def _is_markup(line: str) -> bool:
    return line.startswith(("#", "|"))


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
    if _is_markup(prev) or _is_markup(line) or _LIST_ITEM.match(line):
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
    if _is_markup(prev) or _is_markup(paragraph) or _LIST_ITEM.match(paragraph):
        return False
    if _ends_sentence(prev) or prev.endswith(";"):
        return False
    first = paragraph[0]
    if first.islower():
        return True
    # "l’analyse de | 47429 patients": a number after a word, not after a short heading.
    return first.isdigit() and prev[-1].islower() and len(prev) >= 40


# --- front matter -----------------------------------------------------------------------

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
            meta[key] = [_unquote(v) for v in _split_outside(value[1:-1], ",") if v.strip()]
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


def _split_outside(text: str, separators: str) -> list[str]:
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


# --- readers ----------------------------------------------------------------------------


class _Skip(Exception):
    """A file that cannot become a document; the message is the French reason."""


@dataclass
class _Extracted:
    """A file's raw text and what it says about itself, before text repair."""

    text: str
    meta: dict[str, MetaValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    repair: bool = True  # False when the text has no layout to undo


_NOT_LETTER = re.compile(r"[\W\d_]+")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")


def _decode(data: bytes) -> tuple[str, list[str]]:
    """Bytes to text: UTF-8, else Windows-1252 when it reads as text; binary is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError as error:
            raise _Skip("fichier UTF-16 tronqué ou abîmé") from error
    if b"\x00" in data:
        raise _Skip("fichier binaire (octets nuls) : ce n'est pas du texte")
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
        raise _Skip("fichier vide (rien que des espaces)")
    sample = text[:100_000]
    if len(_BAD_CHARS.findall(sample)) > 0.02 * len(sample):
        raise _Skip("contenu binaire ou illisible (caractères de contrôle) : ce n'est pas du texte")
    head = "".join(sample[:10_000].split())
    if len(_NOT_LETTER.sub("", head)) < 0.3 * len(head):
        raise _Skip("contenu qui ne ressemble pas à du texte (trop peu de lettres)")
    return text, notes


def _read_text_file(path: Path) -> _Extracted:
    text, notes = _decode(path.read_bytes())
    if path.suffix.lower() != ".md":
        return _Extracted(text, notes=notes)
    try:
        meta, body = parse_front_matter(text)
    except ValueError as error:
        return _Extracted(text, notes=[*notes, f"{error} : lu comme du texte sans métadonnées"])
    return _Extracted(body, meta, notes)


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


def _read_html(path: Path) -> _Extracted:
    text, notes = _decode(path.read_bytes())
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    meta: dict[str, MetaValue] = dict(parser.meta)
    if parser.title:
        meta["title"] = parser.title
    return _Extracted("\n\n".join(parser.blocks), meta, notes, repair=False)


def _read_pdf(path: Path) -> _Extracted:
    try:
        from pypdf import PdfReader  # imported here: only a corpus with PDFs needs it
    except ImportError as error:
        raise _Skip("PDF non lu : la bibliothèque pypdf n'est pas installée") from error
    # pypdf raises many exception types on damaged files; any of them means "unreadable".
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Skip("PDF protégé par un mot de passe")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        title, author = (info.title, info.author) if info else (None, None)
    except _Skip:
        raise
    except Exception as error:  # noqa: BLE001
        raise _Skip(f"PDF illisible ({type(error).__name__} : {error})") from error
    meta: dict[str, MetaValue] = {}
    if title and title.strip() and not re.search(r"\.\w{2,4}$|^Microsoft", title.strip()):
        meta["title"] = title.strip()
    if author and author.strip():
        meta["authors"] = author.strip()
    # A blank line between pages: a sentence running over a page is rejoined by repair_text.
    return _Extracted("\n\n".join(pages), meta)


def _read(path: Path) -> _Extracted:
    size = path.stat().st_size
    if size == 0:
        raise _Skip("fichier vide")
    if size > MAX_FILE_BYTES:
        raise _Skip(f"fichier trop gros ({size} octets, {MAX_FILE_BYTES} au plus)")
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(path)
    if suffix in (".html", ".htm"):
        return _read_html(path)
    return _read_text_file(path)


# --- documents --------------------------------------------------------------------------


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by `-`: `Étude N°2` -> `etude-n-2`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _doc_id(source: str) -> str:
    return "/".join(slugify(part) or "x" for part in Path(source).with_suffix("").parts)


def _title_from_name(path: str) -> str:
    words = " ".join(re.split(r"[_\-\s]+", Path(path).stem)).strip()
    return words[:1].upper() + words[1:] if words else path


def _as_list(value: MetaValue | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in _split_outside(value, ",;") if v]
    return [v.strip() for v in value if v.strip()]


def _as_text(value: MetaValue | None) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else ", ".join(value)


def _to_document(
    source: str, extracted: _Extracted, vocabulary: _Vocabulary
) -> tuple[Document, list[str]]:
    notes = list(extracted.notes)
    text = _repair(extracted.text, vocabulary) if extracted.repair else extracted.text
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    meta = extracted.meta
    title = _as_text(meta.get("title"))
    if not title:
        heading = next((p for p in paragraphs if re.match(r"#\s", p)), "")
        title = heading.lstrip("#").strip() or _title_from_name(source)
    # Headings become plain lines; the one that repeats the title goes (the title travels
    # with every chunk anyway).
    paragraphs = [re.sub(r"^#{1,6}\s+", "", p) if p.startswith("#") else p for p in paragraphs]
    if paragraphs and paragraphs[0].casefold() == title.casefold():
        paragraphs = paragraphs[1:]
    if not paragraphs:
        raise _Skip("aucun texte en dehors des métadonnées")
    date = _as_text(meta.get("date"))
    if date and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date):
        notes.append(f"date {date!r} pas au format ISO (AAAA-MM-JJ) : conservée telle quelle")
    document = Document(
        doc_id=_doc_id(source),
        source=source,
        title=unicodedata.normalize("NFC", title),
        text="\n\n".join(paragraphs),
        authors=tuple(
            unicodedata.normalize("NFC", a)
            for a in _as_list(meta.get("authors", meta.get("author")))
        ),
        publication=_as_text(meta.get("publication")),
        date=date,
        original_source=_as_text(meta.get("original_source")) or source,
    )
    return document, notes


def _is_corpus_description(name: str) -> bool:
    return name.startswith(("_", ".")) or name.lower().startswith("readme")


def _walk(folder: Path) -> Iterator[Path]:
    """Files of the folder, recursively, in a stable order; hidden folders are not entered."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not _is_corpus_description(name):
                yield Path(root) / name


def load_corpus(folder: Path) -> IngestReport:
    """Read every document of the corpus folder, recursively.

    Args:
        folder: the corpus folder.

    Returns:
        The documents in the order of their paths, the files skipped with a French reason,
        and notes on files read with a fallback (encoding, malformed front matter...).

    Raises:
        CorpusError: the folder is missing, or holds no readable document.
    """
    folder = Path(folder)
    accepted = ", ".join(SUPPORTED_EXTENSIONS)
    if not folder.is_dir():
        what = "n'est pas un dossier" if folder.exists() else "est introuvable"
        raise CorpusError(
            f"Le dossier du corpus « {folder} » {what} (fichiers acceptés : {accepted})."
        )
    report = IngestReport()
    extracted: list[tuple[str, _Extracted]] = []
    for path in _walk(folder):
        source = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            report.skipped.append(
                SkippedFile(source, f"extension non prise en charge (acceptées : {accepted})")
            )
            continue
        try:
            extracted.append((source, _read(path)))
        except _Skip as skip:
            report.skipped.append(SkippedFile(source, str(skip)))
        except OSError as error:
            report.skipped.append(
                SkippedFile(source, f"fichier illisible ({error.strerror or error})")
            )

    # One vocabulary for the whole corpus: a word cut in one file is often whole in another.
    for _, item in extracted:
        item.text = _normalize(item.text)
    vocabulary = _Vocabulary(
        set(), set().union(*(_words_of(e.text) for _, e in extracted if e.repair))
    )
    ids: set[str] = set()
    first_with_text: dict[str, str] = {}  # sha256 of a text -> the first source that has it
    for source, item in extracted:
        try:
            document, notes = _to_document(source, item, vocabulary)
        except _Skip as skip:
            report.skipped.append(SkippedFile(source, str(skip)))
            continue
        if document.doc_id in ids:  # a.md beside a.txt: the extension tells them apart
            document = replace(document, doc_id=f"{document.doc_id}-{slugify(Path(source).suffix)}")
        ids.add(document.doc_id)
        digest = hashlib.sha256(document.text.encode()).hexdigest()
        if digest in first_with_text:
            notes.append(f"même texte que {first_with_text[digest]} (indexé deux fois)")
        first_with_text.setdefault(digest, source)
        report.documents.append(document)
        report.notes.extend(FileNote(source, n) for n in notes)

    if not report.documents:
        if report.skipped:
            details = "; ".join(f"{s.path} : {s.reason}" for s in report.skipped[:5])
            raise CorpusError(
                f"Aucun document lisible dans le dossier du corpus « {folder} » "
                f"(fichiers acceptés : {accepted}). Fichiers ignorés : {details}."
            )
        raise CorpusError(
            f"Le dossier du corpus « {folder} » ne contient aucun document (fichiers acceptés : {accepted})."
        )
    return report
