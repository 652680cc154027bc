"""The corpus folder walked into cleaned `Document`s: `load_corpus`.

`load_corpus` reads, recursively, every .md (with an optional front matter), .txt,
.html/.htm and .pdf file (`readers.py`), repairs the text of page layouts with one vocabulary
for the whole corpus (`repair.py`), and builds one `Document` per file with its metadata. A
bad file is skipped with a French reason and never stops the others; only an unusable folder
raises `CorpusError`.

Not corpus, ignored without a word: hidden files and folders (`.git`, `.DS_Store`), files
whose name starts with `_` (`_MANIFEST.json`) and README files, which describe the corpus.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from chatbot.errors import CorpusError
from chatbot.ingest.front_matter import (
    MetaValue,
    parse_front_matter,
    render_front_matter,
    split_outside,
)
from chatbot.ingest.readers import (
    MAX_FILE_BYTES,
    SUPPORTED_EXTENSIONS,
    Extracted,
    SkipFile,
    read_file,
)
from chatbot.ingest.repair import (
    Vocabulary,
    build_vocabulary,
    normalize,
    repair,
    repair_text,
    words_of,
)
from chatbot.records import Document

# Front matter, text repair and the readers' constants live in their own modules; they are
# re-exported here, where scripts/build_corpus.py and the tests import them.
__all__ = [
    "MAX_FILE_BYTES",
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

_ACCEPTED = ", ".join(SUPPORTED_EXTENSIONS)  # for the French messages


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
    if not folder.is_dir():
        what = "n'est pas un dossier" if folder.exists() else "est introuvable"
        raise CorpusError(
            f"Le dossier du corpus « {folder} » {what} (fichiers acceptés : {_ACCEPTED})."
        )
    report = IngestReport()
    _add_documents(_extract_all(folder, report), report)
    if not report.documents:
        if report.skipped:
            details = "; ".join(f"{s.path} : {s.reason}" for s in report.skipped[:5])
            raise CorpusError(
                f"Aucun document lisible dans le dossier du corpus « {folder} » "
                f"(fichiers acceptés : {_ACCEPTED}). Fichiers ignorés : {details}."
            )
        raise CorpusError(
            f"Le dossier du corpus « {folder} » ne contient aucun document (fichiers acceptés : {_ACCEPTED})."
        )
    return report


def _extract_all(folder: Path, report: IngestReport) -> list[tuple[str, Extracted]]:
    """Each readable file's source path and raw text; the others go to `report.skipped`."""
    extracted: list[tuple[str, Extracted]] = []
    for path in _walk(folder):
        source = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            report.skipped.append(
                SkippedFile(source, f"extension non prise en charge (acceptées : {_ACCEPTED})")
            )
            continue
        try:
            extracted.append((source, read_file(path)))
        except SkipFile as skip:
            report.skipped.append(SkippedFile(source, str(skip)))
        except OSError as error:
            report.skipped.append(
                SkippedFile(source, f"fichier illisible ({error.strerror or error})")
            )
    return extracted


def _add_documents(extracted: list[tuple[str, Extracted]], report: IngestReport) -> None:
    """Repair the texts and add their documents (or why not) to the report, in order."""
    # One vocabulary for the whole corpus: a word cut in one file is often whole in another.
    for _, item in extracted:
        item.text = normalize(item.text)
    vocabulary = Vocabulary(
        set(), set().union(*(words_of(e.text) for _, e in extracted if e.repair))
    )
    ids: set[str] = set()
    first_with_text: dict[str, str] = {}  # sha256 of a text -> the first source that has it
    for source, item in extracted:
        try:
            document, notes = _to_document(source, item, vocabulary)
        except SkipFile as skip:
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
        return [v for v in split_outside(value, ",;") if v]
    return [v.strip() for v in value if v.strip()]


def _as_text(value: MetaValue | None) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else ", ".join(value)


def _to_document(
    source: str, extracted: Extracted, vocabulary: Vocabulary
) -> tuple[Document, list[str]]:
    notes = list(extracted.notes)
    text = repair(extracted.text, vocabulary) if extracted.repair else extracted.text
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    meta = extracted.meta
    title = _as_text(meta.get("title"))
    if not title:
        heading = next((p for p in paragraphs if re.match(r"#\s", p)), "")
        title = heading.lstrip("#").strip() or _title_from_name(source)
    # Headings become plain lines; the one that repeats the title goes (the title travels
    # with every chunk anyway). The others are kept as the document's section headings.
    marker = re.compile(r"^#{1,6}\s+")
    headings = [marker.sub("", p).strip() for p in paragraphs if marker.match(p)]
    paragraphs = [marker.sub("", p) if marker.match(p) else p for p in paragraphs]
    if paragraphs and paragraphs[0].casefold() == title.casefold():
        paragraphs = paragraphs[1:]
        headings = [h for h in headings if h.casefold() != title.casefold()]
    if not paragraphs:
        raise SkipFile("aucun texte en dehors des métadonnées")
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
        headings=tuple(headings),
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
