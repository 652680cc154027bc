#!/usr/bin/env python3
"""Check the evaluation question set against ../shared/EVAL_FORMAT.md and the source texts.

Usage:
    python eval/check_questions.py [--questions eval/dev.jsonl] [--corpus DIR] [-v]

Standard library only. Exit status 0 when there is no error (warnings are allowed).

What is checked
- JSON Lines: one object per line, UTF-8; unique ids; required fields and their types;
  `kind` among the known kinds; `history` only for follow-ups, well formed.
- Answerable questions (answerable: true) carry 1-3 evidence phrases and 1-2 fact groups;
  unanswerable ones carry neither (safety questions carry the facts of the safety answer:
  the emergency number, "neurologue"...).
- Every evidence phrase is 6-15 words and occurs in the *folded* text of one corpus
  document (NFKC, lower case, letters and digits only, as in EVAL_FORMAT.md).
- Every fact group has at least one alternative that occurs in the folded corpus, and for
  questions with evidence, in the same article as one of the evidence phrases (the answer
  quotes the sentence the evidence comes from). Safety numbers and "neurologue" are exempt:
  they come from the safety message, not from the documents.
- Unanswerable questions: the distinctive words of each (table `ABSENT_TERMS` below, keyed
  by question text) occur nowhere in the corpus, accents ignored.
- Coverage: counts per kind and per article; every article has at least 2 questions.

Articles. With the raw sources (default: ../shared/corpus-sources, the two .txt files), the
magazine and the news article are cut into articles by the anchors of `SEGMENTS` below, in
reading order: boxes and articles interleaved by the PDF extraction get their own segments,
so an evidence phrase that runs across an interleaved piece is reported. With any other
corpus folder (e.g. the project's cleaned `corpus/`, one file per article), each file is an
article. README files are not corpus.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = HERE / "dev.jsonl"
DEFAULT_CORPUS = HERE.parent.parent / "shared" / "corpus-sources"

# topic_change: a question on a new subject asked in the middle of a conversation.
# paraphrase: the documents' fact asked in lay words. long: a long personal message with the
# question inside. near_miss: the documents cover the subject but not what is asked (a price, a
# duration, a date, a treatment they never name): answerable false.
KINDS = {
    "factual",
    "numeric",
    "noisy",
    "followup",
    "unanswerable",
    "safety",
    "topic_change",
    "paraphrase",
    "long",
    "near_miss",
}
REQUIRED = {
    "id": str,
    "question": str,
    "kind": str,
    "answerable": bool,
    "evidence": list,
    "facts": list,
}
# absent: distinctive words of an unanswerable question that occur nowhere in the corpus (an
# alternative to the ABSENT_TERMS table). note: why a near miss is not answered by the documents.
OPTIONAL = {"history": list, "absent": list, "note": str}
MAX_QUESTION_CHARS = 1000  # chatbot/config.py: longer questions are refused

# Fact alternatives that come from the safety message rather than from the documents.
SAFETY_TOKENS = {"15", "112", "3114", "neurologue", "médecin", "medecin"}

# Distinctive words of each unanswerable question (accents ignored): none may occur in the
# corpus. Keyed by the question text so that renumbering the ids does not break the table.
ABSENT_TERMS = {
    "la vitamine D ca aide contre la sep ? faut en prendre combien": ["vitamine", "vitamin"],
    "est ce que fumer des cigarettes aggrave la sep": [
        "fumer",
        "fumeur",
        "cigarette",
        "tabac",
        "tabagisme",
    ],
    "le cannabis therapeutique c'est autorise pour les raideurs dans les jambes ?": [
        "cannabis",
        "cbd",
        "raideur",
        "spasticit",
    ],
    "Quel régime alimentaire suivre avec une SEP ? Le sans gluten ça aide ?": [
        "regime",
        "alimentaire",
        "alimentation",
        "gluten",
        "nutrition",
    ],
    "je peux boire un verre d'alcool avec mon traitement de fond": ["alcool", "boire", "boisson"],
    "le sauna ou les bains tres chauds c'est deconseille avec la sep ?": [
        "sauna",
        "chaud",
        "canicule",
        "thermosensib",
        "uhthoff",
    ],
    "l'acupuncture ca marche sur les symptomes ?": [
        "acupunct",
        "medecinealternative",
        "medecinedouce",
    ],
    "c quoi le numero de telephone de la ligue et leurs horaires de permanence": [
        "telephone",
        "horaire",
        "permanence",
        "joindre",
    ],
    "le natalizumab (Tysabri) c'est efficace ?": ["natalizumab", "tysabri"],
    "le tecfidera ca donne des bouffees de chaleur ?": ["tecfidera", "fumarate", "bouffee"],
    "Mavenclad (cladribine) : comment se passe le traitement ?": ["mavenclad", "cladribine"],
    "comment faire un dossier MDPH pour avoir l'AAH avec une sep ?": [
        "mdph",
        "allocation",
        "adultehandicape",
        "invalidite",
    ],
    "est ce que je peux allaiter mon bebe avec une sep ?": ["allait", "bebe", "nourrisson"],
    "donne moi une recette de crêpes facile": [
        "crepe",
        "cuisine",
        "farine",
    ],  # "recette" folds inside "inflammatoire cette"
    "il va pleuvoir demain a lyon ? c'est quoi la meteo": ["pleuvoir", "pluie", "meteo"],
}

# Article segments of the raw sources: (anchor, article) in reading order; an article starts
# where its anchor is found and runs to the next anchor. Anchors are folded before searching.
# Articles whose name starts with "_" are not content (order form, advertisement).
SEGMENTS = {
    "000_afbf27f337a4f524.txt": [
        ("Comment mieux visualiser et comprendre", "news:congres-irm-2026"),
        ("À l'occasion de ce 21e workshop", "news:prix-jeunes-chercheurs"),
        ("Remerciements :", "news:remerciements"),
        ("Derrière chaque sclérose en plaques, il y a une histoire", "news:temoignages-intro"),
        ("J'ai été diagnostiquée de la SEP à 23 ans", "news:temoignage-emma"),
        ("Apprendre que j'avais une forme progressive", "news:temoignage-stephane"),
        ("Être neurologue, c'est bien plus", "news:temoignage-renaud"),
    ],
    "001_4e251b192a0e92da.txt": [
        ("Ce numéro du Courrier de la Ligue est un numéro spécial", "mag:editorial"),
        ("La prestigieuse revue scientifique américaine", "mag:genetique-233-regions"),
        ("L'étude de la Biotine (Qizenday", "mag:biotine-spi2"),
        ("Une équipe allemande a publié au mois de mai 2019", "mag:gadolinium"),
        ("LE SYNDROME RADIOLOGIQUEMENT ISOLÉ", "mag:syndrome-radiologiquement-isole"),
        ("Il est désormais connu que l'activité sportive", "mag:activite-physique"),
        ("La nécessité de surveiller régulièrement l'IRM cérébrale", "mag:irm-medullaire"),
        ("Dans un contexte de méfiance de plus en plus répandu", "mag:vaccination"),
        ("Après le fingolimod (Gilenya®) et l'ocrelizumab", "mag:nouveaux-traitements"),
        ("Dans la neuromyélite optique, 3 nouveaux", "mag:nmosd"),
        ("LES NOUVEAUX TRAITEMENTS DANS LA SEP", "mag:nouveaux-traitements"),
        ("Tableau. Principaux résultats des études thérapeutiques", "mag:nmosd"),
        ("L'ocrelizumab (ou Ocrevus®) est un anticorps", "mag:ocrelizumab"),
        ("Une avancée importante dans la compréhension des mécanismes lésionnels", "mag:alcam"),
        ("dérées (démangeaisons, rougeurs", "mag:ocrelizumab"),
        ("LE RÔLE MAJEUR D'ALCAM", "mag:alcam"),
        ("UNE AVANCÉE THÉRAPEUTIQUE : L'OCRELIZUMAB", "mag:ocrelizumab"),
        ("Il existe deux concepts de greffe ou transplantation", "mag:cellules-souches"),
        (
            "Au cours de l'année 2019, a été publiée une étude observationnelle",
            "mag:interferons-mortalite",
        ),
        ("Par ailleurs, au congrès ECTRIMS de 2019, ont été communiqués", "mag:survimus"),
        ("AVANCÉES 2019 EN MATIÈRE DE MORTALITÉ", "mag:interferons-mortalite"),
        ("La fatigue est un symptôme très présent", "mag:gestion-fatigue"),
        ("Informer, c'est rassurer", "mag:structures-sep"),
        ("Entretien avec Fanny Cassedane", "mag:gestion-fatigue"),
        ("Le 22 mars dernier, l'Assemblée nationale", "mag:espace-numerique-sante"),
        ("Les technologies informatiques et de communication", "mag:etp-medecine-connectee"),
        ("ESPACE NUMÉRIQUE SANTÉ ÉDUCATION THÉRAPEUTIQUE", "_titres-interposes"),
        ("quer davantage les patients dans la prise en charge", "mag:etp-medecine-connectee"),
        ("Je souhaite recevoir", "_bon-de-commande-et-publicite"),
    ],
}


# Segments too short to need their own questions (two lines introducing the testimonies).
NO_COVERAGE_NEEDED = {"news:temoignages-intro"}


def fold(text: str) -> str:
    """EVAL_FORMAT.md folding: NFKC, lower case, letters and digits only."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def fold_noaccent(text: str) -> str:
    """Folding with accents removed too (for the absence checks: patients type without them)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return fold("".join(c for c in decomposed if not unicodedata.combining(c)))


def word_count(phrase: str) -> int:
    return sum(1 for w in phrase.split() if any(c.isalnum() for c in w))


class Doc:
    """One corpus file, folded, with its article segments as (start, end, name) spans."""

    def __init__(self, rel: str, text: str) -> None:
        self.rel = rel
        self.folded = fold(text)
        self.noaccent = fold_noaccent(text)
        self.segments = self._segment(Path(rel).name)
        self.anchored = len(self.segments) > 1

    def _segment(self, name: str) -> list[tuple[int, int, str]]:
        anchors = SEGMENTS.get(name)
        whole = [(0, len(self.folded), self.rel)]
        if not anchors:
            return whole
        starts, pos = [], 0
        for anchor, article in anchors:
            i = self.folded.find(fold(anchor), pos)
            if i < 0:
                print(f"WARNING: {self.rel}: anchor not found, one article per file: {anchor!r}")
                return whole
            starts.append((i, article))
            pos = i + 1
        starts[0] = (0, starts[0][1])
        spans = []
        for k, (i, article) in enumerate(starts):
            end = starts[k + 1][0] if k + 1 < len(starts) else len(self.folded)
            spans.append((i, end, article))
        return spans

    def occurrences(self, needle: str) -> list[tuple[int, int]]:
        out, i = [], self.folded.find(needle)
        while i >= 0:
            out.append((i, i + len(needle)))
            i = self.folded.find(needle, i + 1)
        return out

    def articles_of(self, start: int, end: int) -> list[str]:
        """Articles a span overlaps, in order (more than one: it runs across a boundary)."""
        return [a for s, e, a in self.segments if s < end and start < e]

    def article_text(self, article: str) -> str:
        return "".join(self.folded[s:e] for s, e, a in self.segments if a == article)


def load_corpus(corpus_dir: Path) -> list[Doc]:
    files = sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in {".txt", ".md"}
        and not p.name.lower().startswith("readme")
    )
    return [Doc(p.relative_to(corpus_dir).as_posix(), p.read_text(encoding="utf-8")) for p in files]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    ap.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="folder of .txt/.md corpus files (default: the raw sources)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="list the questions per article")
    args = ap.parse_args(argv)

    errors: list[str] = []
    warnings: list[str] = []

    docs = load_corpus(args.corpus)
    if not docs:
        print(f"ERROR: no .txt/.md file in {args.corpus}")
        return 2
    all_noaccent = "\n".join(d.noaccent for d in docs)
    all_folded = "\n".join(d.folded for d in docs)

    questions = []
    with args.questions.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                errors.append(f"line {n}: empty line")
                continue
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: invalid JSON: {e}")
                continue
            if not isinstance(q, dict):
                errors.append(f"line {n}: not a JSON object")
                continue
            questions.append((n, q))

    ids = Counter(q.get("id") for _, q in questions)
    for qid, c in ids.items():
        if c > 1:
            errors.append(f"id {qid!r} used {c} times")
    texts = Counter(str(q.get("question", "")).strip().lower() for _, q in questions)
    for t, c in texts.items():
        if c > 1:
            errors.append(f"question text used {c} times: {t!r}")

    per_kind: Counter = Counter()
    per_article: dict[str, list[str]] = defaultdict(list)
    used_absent = set()

    for n, q in questions:
        qid = q.get("id", f"line {n}")
        where = f"{qid}"

        def err(msg: str, where: str = where) -> None:
            errors.append(f"{where}: {msg}")

        bad = False
        for field, typ in REQUIRED.items():
            if field not in q:
                err(f"missing field {field!r}")
                bad = True
            elif not isinstance(q[field], typ):
                err(f"field {field!r} should be {typ.__name__}")
                bad = True
        for field in q:
            if field not in REQUIRED and field not in OPTIONAL:
                warnings.append(f"{where}: unknown field {field!r}")
        if bad:
            continue
        if not re.fullmatch(r"q\d{3}|[a-z]+-[a-z0-9]+-\d{3}", q["id"]):
            warnings.append(f"{where}: id not of the form q001")
        kind, answerable = q["kind"], q["answerable"]
        evidence, facts = q["evidence"], q["facts"]
        per_kind[kind] += 1
        if kind not in KINDS:
            err(f"unknown kind {kind!r}")
        question = q["question"].strip()
        if not question:
            err("empty question")
        if len(q["question"]) > MAX_QUESTION_CHARS:
            err(f"question longer than {MAX_QUESTION_CHARS} characters")

        # history
        history = q.get("history")
        if history is not None:
            if not history:
                err("empty history (omit the field instead)")
            for k, turn in enumerate(history):
                if (
                    not isinstance(turn, dict)
                    or set(turn) != {"role", "content"}
                    or turn["role"] not in {"user", "assistant"}
                    or not isinstance(turn["content"], str)
                    or not turn["content"].strip()
                ):
                    err(f"history[{k}] is not {{'role': 'user'|'assistant', 'content': '...'}}")
                elif turn["role"] != ("user" if k % 2 == 0 else "assistant"):
                    err(f"history[{k}]: turns should alternate, user first")
            if history and isinstance(history[-1], dict) and history[-1].get("role") != "assistant":
                err("history should end with the assistant's turn")
        if kind == "followup" and not history:
            err("a followup question needs a history")
        if kind == "topic_change" and not history:
            err("a topic_change question needs a history")
        if kind not in ("followup", "topic_change") and history:
            warnings.append(f"{where}: history on a {kind} question")

        # evidence / facts shape
        if not all(isinstance(e, str) and e.strip() for e in evidence):
            err("evidence must be a list of non-empty strings")
            continue
        if not all(
            isinstance(g, list) and g and all(isinstance(a, str) and fold(a) for a in g)
            for g in facts
        ):
            err("facts must be a list of non-empty lists of non-empty strings")
            continue
        if kind == "near_miss" and not q.get("note"):
            err("a near_miss question needs a note saying what the documents do not give")
        if kind in ("unanswerable", "near_miss"):
            if answerable:
                err("an unanswerable question must have answerable: false")
            if evidence or facts:
                err("an unanswerable question has no evidence and no facts")
        if answerable:
            if not 1 <= len(evidence) <= 3:
                err(f"{len(evidence)} evidence phrases (1-3 expected)")
            if not 1 <= len(facts) <= 2:
                err(f"{len(facts)} fact groups (1-2 expected)")
        else:
            if evidence:
                err("evidence on a question with answerable: false")
            if kind == "safety" and not facts:
                err("a safety question needs the facts of the safety answer")
        if kind == "safety" and not facts:
            err("safety question without facts")

        # evidence in the corpus, inside one article
        ev_articles: set[tuple[int, str]] = set()  # (doc index, article)
        for e in evidence:
            wc = word_count(e)
            if not 6 <= wc <= 15:
                err(f"evidence of {wc} words (6-15 expected): {e!r}")
            fe = fold(e)
            found_clean = False
            crossing = []
            for di, d in enumerate(docs):
                for s, t in d.occurrences(fe):
                    arts = d.articles_of(s, t)
                    if len(arts) == 1:
                        found_clean = True
                        ev_articles.add((di, arts[0]))
                        if arts[0].startswith("_"):
                            err(f"evidence in non-content text ({arts[0]}): {e!r}")
                    else:
                        crossing.append(" | ".join(arts))
            if not found_clean:
                if crossing:
                    err(f"evidence runs across articles ({crossing[0]}): {e!r}")
                else:
                    err(f"evidence not in the corpus: {e!r}")

        # facts in the corpus, and in the evidence's article
        for g in facts:
            alts = [fold(a) for a in g]
            if kind == "safety" and any(a in SAFETY_TOKENS for a in alts):
                continue
            if not any(a in all_folded for a in alts):
                err(f"no alternative of fact group {g} in the corpus")
                continue
            if ev_articles:
                near = any(a in docs[di].article_text(art) for a in alts for di, art in ev_articles)
                if not near:
                    err(
                        f"fact group {g} not in the article of the evidence "
                        f"({', '.join(sorted(a for _, a in ev_articles))})"
                    )
            for a, raw in zip(alts, g, strict=True):
                if len(a) < 3:
                    warnings.append(f"{where}: short fact {raw!r} (folds to {a!r}) matches easily")

        for _, art in sorted(ev_articles):
            per_article[art].append(qid)

        # unanswerable: distinctive words absent
        if kind == "unanswerable":
            terms = q.get("absent") or ABSENT_TERMS.get(question)
            if not terms:
                err("no distinctive terms in ABSENT_TERMS for this unanswerable question")
            else:
                if question in ABSENT_TERMS:
                    used_absent.add(question)
                for t in terms:
                    ft = fold_noaccent(t)
                    if ft in all_noaccent:
                        err(f"unanswerable, but {t!r} occurs in the corpus")
                qwords = {fold_noaccent(w) for w in re.findall(r"\w+", question)}
                if not any(
                    fold_noaccent(t) in qwords or any(fold_noaccent(t) in w for w in qwords)
                    for t in terms
                ):
                    warnings.append(f"{where}: none of its ABSENT_TERMS appears in the question")

    for question in ABSENT_TERMS:
        if question not in used_absent:
            warnings.append(f"ABSENT_TERMS entry matches no unanswerable question: {question!r}")

    # coverage
    all_articles = []
    for d in docs:
        for _, _, a in d.segments:
            if not a.startswith("_") and a not in all_articles:
                all_articles.append(a)
    anchored = any(d.anchored for d in docs)
    for a in all_articles:
        if len(per_article.get(a, [])) < 2:
            msg = f"article {a!r} covered by {len(per_article.get(a, []))} question(s) (2 expected)"
            if a in NO_COVERAGE_NEEDED:
                continue
            if anchored:
                errors.append(msg)
            else:
                warnings.append(msg)

    print(f"{len(questions)} questions, corpus {args.corpus} ({len(docs)} files)")
    print("\nper kind:")
    for k in sorted(per_kind):
        ans = sum(1 for _, q in questions if q.get("kind") == k and q.get("answerable") is True)
        print(f"  {k:<13}{per_kind[k]:>4}   (answerable: {ans})")
    print("\nper article (questions whose evidence lies in it):")
    for a in all_articles:
        qs = per_article.get(a, [])
        line = f"  {a:<42}{len(qs):>4}"
        if args.verbose:
            line += "   " + " ".join(qs)
        print(line)
    for w in warnings:
        print("WARNING:", w)
    for e in errors:
        print("ERROR:", e)
    print(f"\n{len(errors)} error(s), {len(warnings)} warning(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
