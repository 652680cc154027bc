"""Ingest: the corpus folder read into cleaned documents.

Enters: a folder of .md (front matter), .txt, .html, .pdf files.
Leaves: `Document` records (chatbot/records.py) with their metadata, and the files skipped
with a French reason (`load_corpus` -> `IngestReport`).
Must not import: index, answer, safety, serve, evaluation (nothing downstream).

Modules, in the order a file goes through them: `corpus.py` walks the folder and builds the
documents (`load_corpus`); `readers.py` decodes a file (text, Markdown, HTML, PDF);
`front_matter.py` reads a Markdown article's metadata; `repair.py` rebuilds the words of text
from a page layout, `paragraphs.py` its paragraphs.
"""
