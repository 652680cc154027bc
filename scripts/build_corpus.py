#!/usr/bin/env python3
"""Build the project's corpus/ from the association's raw files: one Markdown file per article.

Usage:
    python scripts/build_corpus.py --sources ../shared/corpus-sources --out corpus

The raw files are text extracted from page layouts. In the magazine, titles and signatures
often come after the body, boxes and tables are interleaved with the running text, and one
article is even cut in two by another. So the segmentation is not guessed: `SOURCES` below
says, for each article, its title, its authors and the line ranges of its pieces, in reading
order. Before writing anything the script checks that the spec fits the source: the file's
sha256, the first words of every piece, every title against its source lines, and that
every non-blank line lands in exactly one article or one exclusion (order form, adverts,
page footers). Words cut at line ends are rejoined by `chatbot.ingest.repair_text`, with the
vocabulary of the whole source as evidence. The result is read back with `load_corpus` and
checked: every line of text of the source is in its article, titles and authors round-trip.

`corpus/_MANIFEST.json` records what built the corpus: this script, the sha256 of each
source, and each file written (a later build deletes the files an earlier one listed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from chatbot.ingest.corpus import (  # noqa: E402
    build_vocabulary,
    load_corpus,
    render_front_matter,
    repair_text,
)

MANIFEST = "_MANIFEST.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Piece:
    """A run of source lines (1-based, inclusive) and what it is in the article."""

    kind: str  # one of KINDS
    first: int
    last: int
    starts: str  # what the first line starts with: a wrong line number fails loudly
    part: str = ""  # a line shared by two articles (two titles): the part that is this one's
    cont: bool = False  # continues the piece before, of the same kind (a paragraph cut in two)


KINDS = {
    "body": "running text, repaired into paragraphs",
    "heading": "a section heading, written `## ...`",
    "byline": "a signature; `cont` pieces join the one before with a comma",
    "references": "the « Références : » line, written `## Références`",
    "ref": "one reference, one paragraph",
    "caption": "a figure or table caption, repaired like running text",
    "table": "the NMOSD table: a Markdown table, then one line per study (see NMOSD_TABLE)",
    "title": "the article's title in the source: checked against `Article.title`, not written",
    "meta": "the publication line of a web page: its date is in the front matter",
}


def P(kind: str, first: int, last: int, starts: str, part: str = "", cont: bool = False) -> Piece:
    return Piece(kind, first, last, starts, part, cont)


@dataclass(frozen=True)
class Article:
    slug: str  # the end of the file name
    title: str  # in normal French capitalization
    authors: tuple[str, ...]  # "Name (role)", as signed in the source
    pieces: tuple[Piece, ...]  # in reading order


@dataclass(frozen=True)
class Exclusion:
    first: int
    last: int
    starts: str
    reason: str


@dataclass(frozen=True)
class Source:
    file: str
    sha256: str  # the spec's line numbers hold for this exact file
    prefix: str  # output files: f"{prefix}-{rank:02d}-{slug}.md"
    publication: str
    date: str
    articles: tuple[Article, ...]
    excluded: tuple[Exclusion, ...] = ()
    one_paragraph_per_line: bool = False  # a web page: each line of running text is a paragraph


UNSIGNED = "Le Courrier de la Ligue (article non signé)"
OUALLET = "Dr Jean-Christophe Ouallet (neurologue, CRC-CHU Bordeaux)"
MICHEL = (
    "Dr Laure Michel (responsable du Centre d’Investigation Clinique de Neurologie, "
    "Hôpital Pontchaillou, Rennes)"
)

NEWS = Source(
    file="000_afbf27f337a4f524.txt",
    sha256="47cf72ba22cd97d08810ebe8c5fdfb19d0169b73e12d96882f98242cb7be6d3c",
    prefix="fsep-2026",
    publication="France Sclérose en Plaques",
    date="2026-02-06",
    one_paragraph_per_line=True,
    articles=(
        # The report, its signature, then the prizes and thanks of the same congress day.
        Article(
            "congres-irm-moelle-epiniere",
            "Comment mieux visualiser et comprendre l’atteinte de la moelle épinière dans la "
            "sclérose en plaques ?",
            ("Pr Jean-Philippe Ranjeva (Marseille, membre du CMS de France Sclérose en Plaques)",),
            (
                P("body", 1, 1, "Comment mieux visualiser"),
                P("meta", 3, 3, "actualitéPublié le 06 février 2026"),
                P("body", 4, 16, "Le 21e congrès annuel"),
                P("byline", 17, 17, "Par le Pr Jean-Philippe RANJEVA"),
                P("byline", 18, 18, "Membre du CMS", cont=True),
                P("body", 19, 25, "À l’occasion de ce 21e workshop"),
            ),
        ),
        # The site's testimonies: not the congress report, and not by its author. Kept apart
        # so that a patient's words are never cited under Pr Ranjeva's name.
        Article(
            "temoignages",
            "Derrière chaque sclérose en plaques, il y a une histoire",
            ("Emma (patiente)", "Stéphane (patient)", "Renaud (neurologue)"),
            (
                P("body", 26, 26, "Derrière chaque sclérose en plaques"),
                P("body", 27, 27, "J’ai été diagnostiquée"),
                P("byline", 28, 28, "Emma"),
                P("byline", 29, 29, "Patiente", cont=True),
                P("body", 30, 30, "Apprendre que j’avais"),
                P("byline", 31, 31, "Stéphane"),
                P("byline", 32, 32, "Patient", cont=True),
                P("body", 33, 36, "Être neurologue"),
                P("byline", 37, 37, "Renaud"),
                P("byline", 38, 38, "Neurologue", cont=True),
            ),
        ),
    ),
)

MAGAZINE = Source(
    file="001_4e251b192a0e92da.txt",
    sha256="2a4643b9ed73e8e85e1923432047b417ea14b6a02161b57c364bd1334c717356",
    prefix="courrier-2019",
    publication=(
        "Le Courrier de la Ligue, numéro spécial « actus médicales 2019 » "
        "(Ligue française contre la sclérose en plaques)"
    ),
    date="2020",
    articles=(
        Article(
            "editorial",
            "Éditorial",
            (
                "Pr Bruno Brochet (président du Conseil Scientifique de la LFSEP, CRC SEP, "
                "service de neurologie, CHU de Bordeaux)",
            ),
            (
                P("body", 1, 48, "Ce numéro du Courrier de la Ligue"),
                P("byline", 50, 50, "Professeur B. Brochet"),
                P("byline", 51, 51, "Président du Conseil Scientifique", cont=True),
                P("byline", 53, 53, "CRC SEP,  Service de Neurologie", cont=True),
            ),
        ),
        Article(
            "genetique",
            "233 régions du génome identifiées",
            (UNSIGNED,),
            (
                P("title", 81, 81, "233 RÉGIONS DU GÉNOME IDENTIFIÉES"),
                P("body", 54, 79, "La prestigieuse revue"),
                P("references", 83, 83, "Références"),
                P("ref", 84, 87, "Multiple sclerosis genomic map"),
            ),
        ),
        Article(
            "biotine",
            "Déception sur l’étude de la biotine",
            (OUALLET,),
            (
                P("title", 114, 114, "DÉCEPTION SUR L’ÉTUDE DE LA BIOTINE"),
                P("byline", 116, 116, "Par le Dr Jean-Christophe Ouallet"),
                P("body", 89, 112, "L’étude de la Biotine"),
            ),
        ),
        Article(
            "gadolinium",
            "Injection de produit de contraste non nécessaire pour toutes les IRM de contrôle",
            (OUALLET,),
            (
                P("title", 141, 142, "INJECTION DE PRODUIT DE CONTRASTE"),
                P("byline", 144, 144, "Par le Dr Jean-Christophe Ouallet"),
                P("body", 118, 134, "Une équipe allemande"),
                P("references", 136, 136, "Références"),
                P("ref", 137, 139, "Accuracy of Unenhanced MRI"),
            ),
        ),
        Article(
            "syndrome-radiologiquement-isole",
            "Le syndrome radiologiquement isolé",
            (UNSIGNED,),
            (
                P("title", 146, 147, "LE SYNDROME"),
                P("body", 149, 187, "Au Congrès ECTRIMS 2019 à Stockholm"),
                P("references", 188, 188, "Références"),
                P("ref", 189, 189, "ECTRIMS, résumé de communication 97"),
            ),
        ),
        Article(
            "activite-physique",
            "Bougez !",
            (
                "Dr Anne Blanchard-Dauphin (médecin de médecine physique et réadaptation, "
                "CHU de Lille)",
            ),
            (
                P("title", 259, 259, "BOUGEZ !"),
                P("byline", 268, 268, "Par le Dr Anne Blanchard-Dauphin"),
                P("body", 190, 257, "Il est désormais connu"),
                P("references", 261, 261, "Références"),
                P("ref", 262, 263, "Pilates for people with multiple sclerosis"),
                P("ref", 264, 266, "The Effects of M2M and Adapted Yoga"),
            ),
        ),
        Article(
            "irm-medullaire",
            "L’IRM médullaire : quelle valeur ajoutée dans le suivi des patients ?",
            ("Dr Jonathan Ciron (neurologue, CHU de Toulouse)",),
            (
                P("title", 311, 312, "L’IRM MÉDULLAIRE :"),
                P("byline", 314, 314, "Par le Dr Jonathan Ciron"),
                P("body", 270, 306, "La nécessité de surveiller"),
                P("references", 308, 308, "Références"),
                P("ref", 309, 309, "J Neurol. 2019 Dec"),
            ),
        ),
        Article(
            "vaccination",
            "Recommandations vaccinales",
            (UNSIGNED,),
            (
                P("title", 332, 332, "RECOMMANDATIONS VACCINALES"),
                P("body", 315, 330, "Dans un contexte de méfiance"),
                P("body", 334, 334, "Retrouvez également les infos"),
            ),
        ),
        Article(
            "nouveaux-traitements",
            "Les nouveaux traitements dans la SEP : les « -imod » et « -umab » sont de retour !",
            ("Dr Nicolas Collongues (neurologue, Hôpitaux universitaires, Strasbourg)",),
            (
                P("title", 459, 461, "LES NOUVEAUX TRAITEMENTS"),
                P("byline", 463, 463, "Par le Dr Nicolas Collongues"),
                P("body", 335, 343, "Après le fingolimod"),
                P("heading", 345, 345, "Ponesimod et Ozanimod"),
                P("body", 347, 389, "A l’ECTRIMS cette année"),
                P("heading", 391, 391, "Ofatumumab"),
                P("body", 393, 412, "Une étude nommée ASCLEPIOS"),
                P("heading", 414, 415, "Dans la neuromyélite optique, 3 nouveaux"),
                P("body", 417, 457, "De nombreux traitements ont été utilisés"),
                P("caption", 465, 466, "Tableau. Principaux résultats"),
                P("table", 470, 523, "REVENT"),
                P("caption", 467, 468, "Anti-C5 : anticorps anti-complément"),
            ),
        ),
        Article(
            "ocrelizumab",
            "Une avancée thérapeutique : l’ocrelizumab",
            (MICHEL,),
            (
                P("title", 675, 676, "UNE AVANCÉE THÉRAPEUTIQUE"),
                P("body", 678, 680, "Ocrevus®, nouveau traitement"),
                P("byline", 597, 597, "Dr Laure Michel, Responsable"),
                P("body", 524, 537, "L’ocrelizumab (ou Ocrevus®) est un anti-"),
                P("heading", 539, 539, "Ocrevus dans la SEP récurrente"),
                P("body", 541, 559, "L’AMM d’Ocrevus® a été obtenu"),
                P("heading", 561, 561, "Ocrevus dans la SEP progressive"),
                P("body", 563, 587, "Dans la SEP progressive primaire"),
                P("heading", 589, 589, "Tolérance du produit"),
                # "légères à mo-" ... the ALCAM box ... "dérées (démangeaisons"
                P("body", 591, 595, "La tolérance d’Ocrevus®"),
                P("body", 627, 647, "dérées (démangeaisons", cont=True),
                P("heading", 649, 649, "Ocrevus : en pratique"),
                P("body", 651, 663, "- Il y a un bilan biologique"),
                P("body", 598, 599, "Conflit d’intérêts de l’auteur"),
            ),
        ),
        # The ALCAM box sits inside the ocrelizumab pages and has no signature of its own:
        # Dr Laure Michel, whose signature opens it, is the first author of the study it reports.
        Article(
            "alcam",
            "Le rôle majeur d’ALCAM : mieux comprendre comment les lymphocytes B pénètrent au "
            "sein du système nerveux central (SNC)",
            (MICHEL,),
            (
                P("title", 665, 667, "LE RÔLE MAJEUR D’ALCAM"),
                P("body", 601, 625, "Une avancée importante dans la compré-"),
                P("references", 669, 669, "Références"),
                P("ref", 670, 673, "Activated leukocyte cell adhesion molecule"),
            ),
        ),
        Article(
            "greffe-cellules-souches",
            "Greffe de cellules souches : de quelle greffe parle-t-on et est-ce une solution "
            "thérapeutique aujourd’hui dans la sclérose en plaques ?",
            ("Dr Hélène Zéphir (neurologue, Hôpital Roger Salengro, Lille)",),
            (
                P("title", 834, 837, "GREFFE DE CELLULES SOUCHES"),
                P("byline", 839, 839, "Par Dr Hélène Zéphir"),
                P("body", 681, 693, "Il existe deux concepts de greffe"),
                P("heading", 695, 697, "Transplantation de Cellules Souches"),
                P("body", 699, 790, "Il s’agit d’une procédure"),
                P("heading", 792, 793, "Transplantation de Cellules Souches"),
                P("body", 795, 832, "Les cellules souches mésenchymateuses"),
            ),
        ),
        Article(
            "mortalite-interferons",
            "Avancées 2019 en matière de mortalité et SEP",
            ("Dr Emmanuelle Leray (neurologue, Rennes)",),
            (
                P("title", 960, 961, "AVANCÉES 2019 EN MATIÈRE DE"),
                P("byline", 976, 976, "Par le Dr Emmanuelle Leray"),
                P("body", 840, 958, "Au cours de l’année 2019"),
                P("references", 963, 963, "Références"),
                P("ref", 964, 971, "Le groupe de recherche est composé de"),
                P("ref", 972, 974, "Cette étude a été financée"),
            ),
        ),
        Article(
            "gestion-fatigue",
            "Gestion de la fatigue : zoom sur une étude organisée par le réseau SEP IDF Ouest",
            (
                "Fanny Cassedane (psychologue clinicienne, entretien)",
                "Stéphanie Gredat (patiente experte, propos recueillis)",
            ),
            (
                P("title", 1066, 1069, "GESTION"),
                P("byline", 1131, 1132, "Entretien avec Fanny Cassedane"),
                P("body", 977, 997, "La fatigue est un symptôme"),
                P("heading", 999, 1001, "Quel est l’objectif de l’étude"),
                P("body", 1003, 1007, "Il s’agit d’évaluer l’efficacité"),
                P("heading", 1009, 1010, "Qu’est-ce que la TCC"),
                P("body", 1012, 1020, "La TCC est une thérapie"),
                P("heading", 1022, 1022, "Comment est construit le programme ?"),
                P("body", 1024, 1056, "Le programme est bâti"),
                P("heading", 1058, 1060, "Quand seront publiés les résultats ?"),
                P("body", 1062, 1064, "La publication est prévue en 2021"),
            ),
        ),
        Article(
            "structures-sep",
            "Les structures liées à la SEP",
            ("Pr Pierre Labauge (neurologue, CRC-CHU Montpellier)",),
            (
                P("title", 1127, 1127, "LES STRUCTURES LIÉES À LA SEP"),
                P("byline", 1129, 1129, "Par le Prof. Pierre Labauge"),
                P("body", 1071, 1125, "Informer, c’est rassurer"),
            ),
        ),
        # Its title shares a line with the next article's: « ESPACE NUMÉRIQUE SANTÉ ÉDUCATION
        # THÉRAPEUTIQUE ET » / « MÉDECINE CONNECTÉE ».
        Article(
            "espace-numerique-sante",
            "Espace numérique santé",
            (UNSIGNED,),
            (
                P("title", 1286, 1286, "ESPACE NUMÉRIQUE SANTÉ", part="ESPACE NUMÉRIQUE SANTÉ"),
                P("body", 1133, 1164, "Le 22 mars dernier"),
                P("heading", 1166, 1167, "Concrètement, quelles données"),
                P("body", 1169, 1201, "L’ENS rassemblera"),
            ),
        ),
        Article(
            "education-therapeutique-medecine-connectee",
            "Éducation thérapeutique et médecine connectée",
            (
                "Dr Mikaël Cohen (neurologue, CRC SEP – CHU de Nice)",
                "M. Delenne (patiente experte, propos recueillis)",
            ),
            (
                P(
                    "title",
                    1286,
                    1286,
                    "ESPACE NUMÉRIQUE SANTÉ",
                    part="ÉDUCATION THÉRAPEUTIQUE ET",
                ),  # fmt: skip
                P("title", 1288, 1288, "MÉDECINE CONNECTÉE"),
                P("byline", 1338, 1338, "Par le Dr Mikaël Cohen"),
                P("byline", 1339, 1339, "Propos recueillis par M. Delenne"),
                P("byline", 1290, 1291, "Retranscription Colloque Marseille 2019"),
                P("body", 1203, 1215, "Les technologies informatiques"),
                P("heading", 1217, 1218, "Qu’entend-on par médecine"),
                P("body", 1220, 1243, "Il n’y a pas de définition"),
                P("heading", 1245, 1247, "Peut-on utiliser les technologies"),
                P("body", 1249, 1277, "Les technologies de communication sont déjà"),
                P("heading", 1279, 1280, "Y a-t-il un intérêt"),
                # "d’impli-" ... two title lines and a signature ... "quer davantage"
                P("body", 1282, 1284, "Les outils digitaux peuvent"),
                P("body", 1292, 1323, "quer davantage les patients", cont=True),
                P("heading", 1325, 1325, "Un mot pour conclure ?"),
                P("body", 1327, 1334, "Les outils digitaux sont prometteurs"),
                P("caption", 1341, 1342, "Figure 1 :"),
                P("caption", 1344, 1344, "Figure 2 :"),
            ),
        ),
    ),
    excluded=(
        Exclusion(1336, 1336, "a c t u s  m é d i c a l e s", "pied de page"),
        Exclusion(1346, 1378, "Je souhaite recevoir", "bon de commande (champs de carte bancaire)"),
        Exclusion(1380, 1419, "P_", "mentions légales (SIRET) imprimées à la verticale"),
        Exclusion(1421, 1421, "BON DE COMMANDE", "bon de commande"),
        Exclusion(1423, 1484, "• Novembre 2019", "publicité pour un livre"),
        Exclusion(1485, 1491, "sep-ensemble.fr", "publicité pour le site sep-ensemble.fr"),
    ),
)

SOURCES = (NEWS, MAGAZINE)

# The NMOSD table, read column by column in the extraction (lines 470-523). Rows and values
# are the source's own; only the layout is new. `_render_table` checks both ways that no
# value was lost or invented.
NMOSD_TABLE = (
    ("Étude", "REVENT", "N-Momentum", "Sakura Sky", "Sakura Star"),
    ("Traitement", "Eculizumab", "Inebilizumab", "Satralizumab", "Satralizumab"),
    ("Mode d’action", "Anti-C5", "Anti-CD19", "Anti-IL6R", "Anti-IL6R"),
    (
        "Patients (n)",
        "AQP4+ (n=143)",
        "AQP4+ (n=212), AQP4- (n=18)",
        "AQP4 + (n=55), AQP4- (n=28)",
        "AQP4 + (n=64), AQP4- (n=31)",
    ),
    (
        "Bras de traitements",
        "Eculizumab vs placebo, Traitement IS associé autorisé",
        "Inebilizumab vs placebo, Traitements seuls",
        "Satralizumab vs placebo, Traitement IS associé autorisé",
        "Satralizumab vs placebo, Traitements seuls",
    ),
    ("Réduction des poussées vs placebo, %", "94,2 %", "73 %", "62 %", "55 %"),
)
ADDED_LABELS = {"Étude", "Traitement"}  # row labels the source shows by position only


def fold(text: str) -> str:
    """Letters and digits only, lower case (the comparison of ../shared/EVAL_FORMAT.md)."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


class SpecError(Exception):
    """The spec does not fit the source: nothing is written."""


# --- checking the spec against the source ------------------------------------------------


def check_spec(source: Source, lines: list[str]) -> None:
    """Every piece starts where it says; every non-blank line has exactly one owner."""
    errors: list[str] = []
    owners: dict[int, list[str]] = defaultdict(list)
    parts: dict[int, list[str]] = defaultdict(list)

    def claim(first: int, last: int, starts: str, owner: str, part: str = "") -> None:
        if not 1 <= first <= last <= len(lines):
            errors.append(f"{owner}: lignes {first}-{last} hors du fichier ({len(lines)} lignes)")
            return
        if not _one_line(lines[first - 1]).startswith(_one_line(starts)):  # any Unicode space
            errors.append(f"{owner}: la ligne {first} ne commence pas par {starts!r}")
        for n in range(first, last + 1):
            if lines[n - 1].strip():
                owners[n].append(owner)
                if part:
                    parts[n].append(part)

    for article in source.articles:
        for piece in article.pieces:
            if piece.kind not in KINDS:
                errors.append(f"{article.slug}: type de morceau inconnu {piece.kind!r}")
            if piece.part and (
                piece.first != piece.last or piece.part not in lines[piece.first - 1]
            ):
                errors.append(
                    f"{article.slug}: {piece.part!r} n'est pas dans la ligne {piece.first}"
                )
            claim(piece.first, piece.last, piece.starts, article.slug, piece.part)
        titles = [p for p in article.pieces if p.kind == "title"]
        if titles and fold(article.title) != fold(" ".join(_raw(p, lines) for p in titles)):
            errors.append(
                f"{article.slug}: le titre {article.title!r} n'est pas celui de la source"
            )
    for ex in source.excluded:
        claim(ex.first, ex.last, ex.starts, f"(exclu : {ex.reason})")

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        who = owners.get(n, [])
        if not who:
            errors.append(f"ligne {n} dans aucun article ni exclusion : {line.strip()!r}")
        elif len(who) > 1:
            # Only a line split into parts may have several owners, and the parts must be it.
            line_parts = sorted(parts.get(n, []), key=line.find)
            if len(line_parts) != len(who) or " ".join(line_parts) != " ".join(line.split()):
                errors.append(f"ligne {n} dans plusieurs articles ({', '.join(who)})")
    if errors:
        raise SpecError(
            f"{source.file} : la spécification ne colle pas à la source :\n  " + "\n  ".join(errors)
        )


def _raw(piece: Piece, lines: list[str]) -> str:
    if piece.part:
        return piece.part
    return "\n".join(line.strip() for line in lines[piece.first - 1 : piece.last])


# --- rendering ----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _render_table(raw: str) -> str:
    source_text = " ".join(raw.split())
    out = [
        "| " + " | ".join(NMOSD_TABLE[0]) + " |",
        "|" + "---|" * len(NMOSD_TABLE[0]),
        *("| " + " | ".join(row) + " |" for row in NMOSD_TABLE[1:]),
    ]
    # Then one line per study, so that a sentence quoted alone still says which drug a
    # figure belongs to: only the table's own labels and values.
    labels = [row[0][:1].lower() + row[0][1:].removesuffix(", %") for row in NMOSD_TABLE[2:]]
    for k in range(1, len(NMOSD_TABLE[0])):
        fields = " ; ".join(
            f"{label} : {row[k]}" for label, row in zip(labels, NMOSD_TABLE[2:], strict=True)
        )
        out.append(f"\n{NMOSD_TABLE[0][k]} ({NMOSD_TABLE[1][k]}) — {fields}.")
    table = "\n".join(out)
    # Both ways: every word of the source is in the table, every value of the table in the source.
    lost = [w for w in raw.split() if w not in table]
    invented = [
        value
        for row in NMOSD_TABLE
        for cell in row
        for value in cell.split(", ")
        if value not in ADDED_LABELS and " ".join(value.split()) not in source_text
    ]
    if lost or invented:
        raise SpecError(
            f"tableau NMOSD : mots perdus {lost}, valeurs absentes de la source {invented}"
        )
    return table


def render_article(source: Source, article: Article, lines: list[str], vocabulary: set[str]) -> str:
    """The Markdown body of one article (after its front matter)."""
    # Pieces marked `cont` continue the piece before: they are repaired together, so that
    # a word cut across the interruption ("mo-" ... "dérées") is rejoined.
    groups: list[tuple[str, list[str]]] = []
    for piece in article.pieces:
        raw = _raw(piece, lines)
        if piece.kind == "body" and source.one_paragraph_per_line:
            raw = "\n\n".join(raw.split("\n"))
        if piece.cont:
            if not groups or groups[-1][0] != piece.kind:
                raise SpecError(f"{article.slug}: un morceau `cont` doit suivre un {piece.kind}")
            groups[-1][1].append(raw)
        else:
            groups.append((piece.kind, [raw]))

    blocks = [f"# {article.title}"]
    for kind, raws in groups:
        if kind in ("title", "meta"):
            continue
        if kind in ("body", "caption"):
            blocks.append(repair_text("\n".join(raws), vocabulary))
        elif kind == "heading":
            blocks.append("## " + _one_line(repair_text("\n".join(raws), vocabulary)))
        elif kind == "byline":
            blocks.append(", ".join(_one_line(repair_text(r, vocabulary)) for r in raws))
        elif kind == "references":
            blocks.append("## Références")
        elif kind == "ref":
            blocks.append(_one_line(repair_text("\n".join(raws), vocabulary)))
        elif kind == "table":
            blocks.append(_render_table("\n".join(raws)))
    return "\n\n".join(blocks) + "\n"


def file_name(source: Source, rank: int, article: Article) -> str:
    return f"{source.prefix}-{rank:02d}-{article.slug}.md"


# --- checking the result ------------------------------------------------------------------


def check_text_kept(source: Source, article: Article, lines: list[str], markdown: str) -> list[str]:
    """Lines of the source whose words are missing from the article written."""
    folded = fold(markdown)
    missing = []
    for piece in article.pieces:
        if piece.kind in ("title", "meta", "table") or piece.part:
            continue
        for n in range(piece.first, piece.last + 1):
            if fold(lines[n - 1]) not in folded:
                missing.append(f"{article.slug}: ligne {n} perdue : {lines[n - 1].strip()!r}")
    return missing


def suspicious_spots(text: str) -> list[str]:
    """Places where a word may still be cut: `mo- dérées`, a hyphen at a line end."""
    spots = [m.group() for m in re.finditer(r"\w*[a-zà-ÿ]- [a-zà-ÿ]\w*", text)]
    spots += [m.group() for m in re.finditer(r"\w*-\n", text)]
    return spots


# --- main ---------------------------------------------------------------------------------


def build(sources_dir: Path, out_dir: Path) -> list[dict[str, object]]:
    """Check every spec, then write the corpus; returns the manifest's file records."""
    planned: list[tuple[str, Source, Article, str]] = []
    source_records = []
    problems: list[str] = []
    for source in SOURCES:
        path = sources_dir / source.file
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != source.sha256:
            raise SpecError(
                f"{path} a changé (sha256 {digest}, la spécification a été écrite pour "
                f"{source.sha256}) : relisez les numéros de lignes de SOURCES avant de reconstruire."
            )
        text = data.decode("utf-8")
        lines = text.split("\n")
        check_spec(source, lines)
        vocabulary = build_vocabulary([text])
        for rank, article in enumerate(source.articles, 1):
            body = render_article(source, article, lines, vocabulary)
            problems += check_text_kept(source, article, lines, body)
            meta = {
                "title": article.title,
                "authors": list(article.authors),
                "publication": source.publication,
                "date": source.date,
                "original_source": source.file,
            }
            planned.append(
                (
                    file_name(source, rank, article),
                    source,
                    article,
                    render_front_matter(meta) + "\n" + body,
                )
            )
        source_records.append({"file": source.file, "sha256": digest})
    if problems:
        raise SpecError("texte perdu :\n  " + "\n  ".join(problems))

    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous_build(out_dir, {name for name, *_ in planned})
    records: list[dict[str, object]] = []
    for name, source, article, markdown in planned:
        (out_dir / name).write_text(markdown, encoding="utf-8")
        records.append(
            {
                "file": name,
                "sha256": hashlib.sha256(markdown.encode()).hexdigest(),
                "title": article.title,
                "original_source": source.file,
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "built_by": "scripts/build_corpus.py",
        "sources": source_records,
        "files": records,
    }
    (out_dir / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return records


def _remove_previous_build(out_dir: Path, keep: set[str]) -> None:
    manifest = out_dir / MANIFEST
    listed: set[str] = set()
    if manifest.is_file():
        listed = {f["file"] for f in json.loads(manifest.read_text(encoding="utf-8"))["files"]}
    for name in sorted(listed - keep):
        (out_dir / name).unlink(missing_ok=True)
    strangers = sorted(
        p.name
        for p in out_dir.iterdir()
        if p.name not in listed | keep | {MANIFEST} and not p.name.startswith(".")
    )
    if strangers:
        print(
            f"Attention : fichiers laissés tels quels dans {out_dir} : {', '.join(strangers)}",
            file=sys.stderr,
        )


def verify(out_dir: Path) -> list[str]:
    """Read the corpus back as the chatbot will, and compare with the spec."""
    report = load_corpus(out_dir)
    expected = {file_name(s, k, a): (s, a) for s in SOURCES for k, a in enumerate(s.articles, 1)}
    problems = [f"{s.path} ignoré : {s.reason}" for s in report.skipped]
    problems += [f"{n.path} : {n.note}" for n in report.notes]
    found = {d.source for d in report.documents}
    problems += [f"{name} absent du corpus relu" for name in sorted(set(expected) - found)]
    for doc in report.documents:
        if doc.source not in expected:
            continue
        source, article = expected[doc.source]
        if (doc.title, doc.authors, doc.date) != (article.title, article.authors, source.date):
            problems.append(f"{doc.source} : titre, auteurs ou date relus différemment")
        problems += [f"{doc.source} : mot coupé ? {spot!r}" for spot in suspicious_spots(doc.text)]
    return problems


def print_summary(out_dir: Path, records: list[dict[str, object]]) -> None:
    documents = {d.source: d for d in load_corpus(out_dir).documents}
    print(f"{'fichier':<60} {'mots':>5}  titre — auteurs")
    for record in records:
        doc = documents[str(record["file"])]
        print(
            f"{doc.source:<60} {len(doc.text.split()):>5}  {doc.title[:60]} — {'; '.join(doc.authors)[:70]}"
        )
    print(f"{len(records)} articles écrits dans {out_dir}, avec {MANIFEST}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=Path, required=True, help="dossier des fichiers bruts")
    parser.add_argument("--out", type=Path, required=True, help="dossier corpus/ à écrire")
    args = parser.parse_args(argv)
    try:
        records = build(args.sources, args.out)
    except SpecError as error:
        print(f"Erreur : {error}", file=sys.stderr)
        return 1
    print_summary(args.out, records)
    problems = verify(args.out)
    for problem in problems:
        print(f"À vérifier : {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
