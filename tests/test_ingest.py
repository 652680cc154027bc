"""Ingestion: text repair on inline French, every file kind, bad input, and the real corpus."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chatbot.errors import CorpusError
from chatbot.ingest.corpus import (
    SUPPORTED_EXTENSIONS,
    IngestReport,
    load_corpus,
    parse_front_matter,
    render_front_matter,
    repair_text,
)
from chatbot.records import Document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

# A column of the magazine as the PDF extraction gave it: a break every few words, cut
# words, a heading, a column break in mid-sentence across a blank line.
COLUMN = """\
L’ofatumumab est un nouvel an-
ti-CD20 sous-cutané ciblant le lymphocyte B. Plus de 1800 pa-
tients ont été inclus dans 2 études faites aux Etats-
Unis ou en Europe, avec une sé-
questration dans les ganglions lym- 
phoïdes.

Tolérance du produit

Il a été rapporté par le Professeur Lebrun- 
Frenay une étude conce-

rnant 277 patients suivis
au moins 10 ans.
"""


# --- text repair --------------------------------------------------------------------------


def test_cut_words_are_rejoined_and_real_hyphens_kept() -> None:
    text = repair_text(COLUMN)
    for joined in ("patients", "séquestration", "lymphoïdes", "concernant"):
        assert joined in text
    for hyphenated in ("anti-CD20", "sous-cutané", "Etats-Unis", "Lebrun-Frenay"):
        assert hyphenated in text
    assert "-\n" not in text and "- " not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pa-\ntients", "patients"),
        ("voie sous-\ncutanée", "voie sous-cutanée"),
        ("c’est-\nà-dire", "c’est-à-dire"),
        ("de quelle greffe parle-\nt-on", "de quelle greffe parle-t-on"),
        ("celle-\nci", "celle-ci"),
        ("une scien-\nce", "une science"),  # a syllable, not the pronoun of « est-ce »
        ("vous pré-\nférez", "vous préférez"),  # pré- welded when nothing says otherwise
        ("anti-\ninflammatoire", "anti-inflammatoire"),  # two identical vowels keep it
        ("le COVID-\n19", "le COVID-19"),
    ],
)
def test_each_hyphen_at_a_line_end(raw: str, expected: str) -> None:
    assert repair_text(raw) == expected


def test_the_vocabulary_decides_between_a_cut_and_a_compound() -> None:
    raw = "des cellules auto-\nréactives"
    assert repair_text(raw, {"autoréactives"}) == "des cellules autoréactives"
    assert repair_text(raw, {"auto-réactives"}) == "des cellules auto-réactives"
    # The text's own words count too: « sous-groupe » is written whole further on.
    assert "un sous-groupe" in repair_text("un sous-\ngroupe de patients. Ce sous-groupe")


def test_hard_line_breaks_become_paragraphs() -> None:
    paragraphs = repair_text(COLUMN).split("\n\n")
    assert paragraphs[1] == "Tolérance du produit"  # a heading stays on its own
    assert paragraphs[0].startswith("L’ofatumumab est un nouvel anti-CD20")
    assert paragraphs[0].endswith("les ganglions lymphoïdes.")
    # The blank line of a column break in mid-sentence does not cut the paragraph.
    assert paragraphs[2] == (
        "Il a été rapporté par le Professeur Lebrun-Frenay une étude concernant "
        "277 patients suivis au moins 10 ans."
    )
    assert len(paragraphs) == 3


def test_a_capital_after_a_blank_line_is_not_the_end_of_a_cut_word() -> None:
    # « légères à mo- » then another article's signature: nothing to join across the gap.
    text = repair_text("étaient légères à mo-\n\nDr Laure Michel, Rennes")
    assert text == "étaient légères à mo-\n\nDr Laure Michel, Rennes"


def test_lists_keep_one_item_per_paragraph() -> None:
    text = repair_text(
        "Ocrevus en pratique :\n- un bilan biologique est à\nfaire avant.\n- Une contraception."
    )
    assert text.split("\n\n") == [
        "Ocrevus en pratique :",
        "- un bilan biologique est à faire avant.",
        "- Une contraception.",
    ]


def test_whitespace_and_unicode_are_normalized() -> None:
    decomposed = "e\u0301tude  de   l\u2019IRM\u00a0: re\u0301sultats"
    assert repair_text(decomposed) == "étude de l’IRM : résultats"
    assert repair_text("pa\u00adtients") == "patients"  # a soft hyphen is a cut


def test_repair_is_idempotent() -> None:
    once = repair_text(COLUMN)
    assert repair_text(once) == once
    real = (CORPUS / "courrier-2019-10-ocrelizumab.md").read_text(encoding="utf-8")
    _, body = parse_front_matter(real)
    assert repair_text(body) == body.strip()


# --- files --------------------------------------------------------------------------------


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def only_document(folder: Path) -> Document:
    report = load_corpus(folder)
    assert len(report.documents) == 1, report
    return report.documents[0]


def test_front_matter_gives_the_metadata(tmp_path: Path) -> None:
    write(
        tmp_path,
        "courrier/biotine.md",
        "---\n"
        'title: "Déception sur l’étude de la biotine"\n'
        "authors:\n"
        "  - Dr Jean-Christophe Ouallet (neurologue, CRC-CHU Bordeaux)\n"
        "  - 'Pr B. Brochet'\n"
        "publication: Le Courrier de la Ligue\n"
        "date: 2020\n"
        "original_source: 001_4e251b192a0e92da.txt\n"
        "---\n\n"
        "# Déception sur l’étude de la biotine\n\n"
        "L’étude de la Biotine SPI2 est néga-\ntive.\n",
    )
    doc = only_document(tmp_path)
    assert doc.title == "Déception sur l’étude de la biotine"
    assert doc.authors == (
        "Dr Jean-Christophe Ouallet (neurologue, CRC-CHU Bordeaux)",
        "Pr B. Brochet",
    )
    assert (doc.publication, doc.date) == ("Le Courrier de la Ligue", "2020")
    assert doc.original_source == "001_4e251b192a0e92da.txt"
    assert doc.source == "courrier/biotine.md"
    assert doc.doc_id == "courrier/biotine"
    assert (
        doc.text == "L’étude de la Biotine SPI2 est négative."
    )  # the title heading is not repeated


def test_authors_as_a_comma_string_or_an_inline_list() -> None:
    meta, body = parse_front_matter("---\nauthors: Dr A. Martin, Pr B. Durand\n---\nTexte")
    assert meta["authors"] == "Dr A. Martin, Pr B. Durand" and body == "Texte"
    meta, _ = parse_front_matter('---\nauthors: ["Dr A. Martin (Nice, CHU)", Pr B. Durand]\n---\n')
    assert meta["authors"] == ["Dr A. Martin (Nice, CHU)", "Pr B. Durand"]


def test_rendered_front_matter_reads_back() -> None:
    meta = {
        "title": 'Un titre : « avec » des "guillemets"',
        "authors": ["Dr A (x, y)"],
        "date": "2020",
    }
    parsed, body = parse_front_matter(render_front_matter(meta) + "\nCorps")
    assert parsed == meta and body.strip() == "Corps"


def test_title_from_the_first_heading_or_else_the_file_name(tmp_path: Path) -> None:
    write(
        tmp_path, "a/notes.md", "Introduction.\n\n# La fatigue dans la SEP\n\nUn symptôme fréquent."
    )
    write(tmp_path, "b/vaccins_et_sep-2019.txt", "Les vaccins inactivés sont possibles.")
    titles = {d.source: d.title for d in load_corpus(tmp_path).documents}
    assert titles == {
        "a/notes.md": "La fatigue dans la SEP",
        "b/vaccins_et_sep-2019.txt": "Vaccins et sep 2019",
    }


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path, "bon.txt", "La sclérose en plaques est une maladie du système nerveux.")
    write(tmp_path, "binaire.txt", bytes(range(256)) * 20)
    write(tmp_path, "bruit.md", bytes([7, 27, 14, 200, 15, 16, 65]) * 300)  # no NUL byte
    write(tmp_path, "vide.txt", "")
    write(tmp_path, "blanc.md", "  \n\n ")
    write(tmp_path, "image.png", b"\x89PNG\r\n")
    write(tmp_path, "casse.pdf", b"%PDF-1.4 ceci n'est pas un PDF")
    report = load_corpus(tmp_path)
    assert [d.source for d in report.documents] == ["bon.txt"]
    reasons = {s.path: s.reason for s in report.skipped}
    assert set(reasons) == {
        "binaire.txt",
        "bruit.md",
        "vide.txt",
        "blanc.md",
        "image.png",
        "casse.pdf",
    }
    assert "binaire" in reasons["binaire.txt"] and "binaire" in reasons["bruit.md"]
    assert "vide" in reasons["vide.txt"] and "vide" in reasons["blanc.md"]
    assert "extension" in reasons["image.png"] and "PDF illisible" in reasons["casse.pdf"]


def test_a_windows_1252_file_is_kept_with_its_accents_and_a_note(tmp_path: Path) -> None:
    write(
        tmp_path,
        "ancien.txt",
        "Les lésions de la moelle épinière ; « œdème » à l’IRM.".encode("cp1252"),
    )
    report = load_corpus(tmp_path)
    assert report.documents[0].text == "Les lésions de la moelle épinière ; « œdème » à l’IRM."
    assert [n.path for n in report.notes] == ["ancien.txt"] and "cp1252" in report.notes[0].note


def test_corpus_descriptions_are_not_documents(tmp_path: Path) -> None:
    write(tmp_path, "article.md", "Un article.")
    write(tmp_path, "README.md", "Ce dossier contient le corpus.")
    write(tmp_path, "_MANIFEST.json", "{}")
    write(tmp_path, "_brouillon.md", "Pas encore publié.")
    write(tmp_path, ".git/config", "x")
    report = load_corpus(tmp_path)
    assert [d.source for d in report.documents] == ["article.md"] and report.skipped == []


def test_html_script_is_never_content_and_escaped_code_stays_inert_text(tmp_path: Path) -> None:
    write(
        tmp_path,
        "page.html",
        "<html><head><title>Titre de l’onglet</title><script>alert('titre')</script>"
        '<meta name="author" content="France Sclérose en Plaques"></head><body>'
        "<nav>Accueil | Contact</nav><h1>La fatigue</h1>"
        "<p>Un symptôme <b>fréquent</b>.<script>document.write('injecté')</script></p>"
        "<p>Exemple à ne pas exécuter : &lt;script&gt;alert(1)&lt;/script&gt;</p>"
        "<style>p { color: red }</style><p>Fin",  # unclosed: no crash
    )
    doc = only_document(tmp_path)
    assert doc.title == "La fatigue" and doc.authors == ("France Sclérose en Plaques",)
    assert doc.text.split("\n\n") == [
        "Un symptôme fréquent.",
        "Exemple à ne pas exécuter : <script>alert(1)</script>",
        "Fin",
    ]


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF whose text has the given lines (ASCII), written by hand."""
    content = "BT /F1 12 Tf 72 760 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for n, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def test_pdf_text_is_extracted_and_repaired(tmp_path: Path) -> None:
    write(
        tmp_path,
        "etude_ofatumumab.pdf",
        pdf_bytes(["Les pa-", "tients ont un trai-", "tement anti-", "CD20."]),
    )
    doc = only_document(tmp_path)
    assert doc.text == "Les patients ont un traitement anti-CD20."
    assert doc.title == "Etude ofatumumab"


def test_an_empty_or_missing_folder_raises_a_french_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as empty:
        load_corpus(tmp_path)
    message = str(empty.value)
    assert str(tmp_path) in message and all(ext in message for ext in SUPPORTED_EXTENSIONS)
    assert "aucun document" in message
    with pytest.raises(CorpusError, match="introuvable"):
        load_corpus(tmp_path / "absent")


def test_a_folder_of_unreadable_files_raises_and_says_why(tmp_path: Path) -> None:
    write(tmp_path, "binaire.txt", b"\x00\x01\x02" * 100)
    with pytest.raises(CorpusError, match="binaire.txt"):
        load_corpus(tmp_path)


def test_1500_files_load_in_a_few_seconds(tmp_path: Path) -> None:
    paragraph = repair_text(COLUMN).replace("\n\n", "\n")
    for k in range(1500):
        write(tmp_path, f"lot{k % 15}/{k}.txt", (f"Document {k}.\n" + COLUMN + paragraph) * 3)
    start = time.perf_counter()
    report = load_corpus(tmp_path)
    assert len(report.documents) == 1500
    assert time.perf_counter() - start < 15  # 2-3 s here; generous for a loaded CI machine


# --- the project's corpus (built by scripts/build_corpus.py, committed) ---------------------


@pytest.fixture(scope="module")
def corpus_report() -> IngestReport:
    return load_corpus(CORPUS)


def test_the_real_corpus_has_one_document_per_article(corpus_report: IngestReport) -> None:
    documents = corpus_report.documents
    assert len(documents) == 19  # 17 magazine articles, the news article, its testimonies
    assert corpus_report.skipped == [] and corpus_report.notes == []
    for doc in documents:
        assert doc.title and doc.authors and doc.date and doc.publication, doc.source
        assert doc.original_source in {"000_afbf27f337a4f524.txt", "001_4e251b192a0e92da.txt"}
    by_source = {d.source: d for d in documents}
    biotine = by_source["courrier-2019-03-biotine.md"]
    assert biotine.title == "Déception sur l’étude de la biotine"
    assert biotine.authors == ("Dr Jean-Christophe Ouallet (neurologue, CRC-CHU Bordeaux)",)
    assert by_source["fsep-2026-01-congres-irm-moelle-epiniere.md"].date == "2026-02-06"


def test_the_real_corpus_has_no_order_form_and_no_cut_word(corpus_report: IngestReport) -> None:
    text = "\n".join(d.text for d in corpus_report.documents)
    for absent in ("Carte N°", "BON DE COMMANDE", "SIRET", "sep-ensemble.fr", "a c t u s"):
        assert absent not in text
    for present in ("Lebrun-Frenay", "anti-CD20", "lymphoïdes", "Etats-Unis", "sous-cutanée"):
        assert present in text
    # The ocrelizumab article, cut in two by the ALCAM box in the source, is whole again.
    ocrelizumab = next(d for d in corpus_report.documents if d.source.endswith("ocrelizumab.md"))
    assert "étaient légères à modérées (démangeaisons" in ocrelizumab.text
    assert "ALCAM" not in ocrelizumab.text
    assert "| Réduction des poussées vs placebo, % | 94,2 % | 73 % | 62 % | 55 % |" in text


def test_section_headings_are_kept_as_the_document_s_sections(tmp_path: Path) -> None:
    write(
        tmp_path,
        "greffe.md",
        "# Greffe\n\nDeux greffes existent.\n\n## Cellules mésenchymateuses\n\nUn essai a eu lieu.",
    )
    (doc,) = load_corpus(tmp_path).documents
    # The title's heading is the title; the other one reads as a plain line of the text and
    # is remembered as a section heading.
    assert doc.title == "Greffe"
    assert doc.headings == ("Cellules mésenchymateuses",)
    assert doc.text == "Deux greffes existent.\n\nCellules mésenchymateuses\n\nUn essai a eu lieu."
