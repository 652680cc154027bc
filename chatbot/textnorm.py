"""French text normalisation shared by the lexical index, the answer selection and the metrics.

Patients type on phones: without accents, with typos, in lower case. Everything lexical is
therefore compared on an accent-folded, lower-cased, stemmed form.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)?|[^\W\d_]+", re.UNICODE)

# French function words, folded (no accents). Kept short and explicit rather than imported,
# so that what the lexical index ignores is visible here.
STOP_WORDS = frozenset(
    ["a", "ai", "aie", "aient", "aies", "ait", "alors", "as", "au", "aucun", "aucune", "aupres", "auquel", "aussi", "autre", "autres", "aux", "avaient", "avais", "avait", "avant", "avec", "avez", "aviez", "avoir", "avons", "ayant", "c", "ca", "ce", "ceci", "cela", "celle", "celles", "celui", "ces", "cet", "cette", "ceux", "chaque", "chez", "ci", "comme", "comment", "d", "dans", "de", "des", "deja", "depuis", "dont", "du", "elle", "elles", "en", "encore", "entre", "es", "est", "et", "etaient", "etais", "etait", "etant", "ete", "etes", "etre", "eu", "eux", "fait", "faire", "fais", "font", "fut", "il", "ils", "j", "je", "jusqu", "l", "la", "le", "les", "leur", "leurs", "lui", "m", "ma", "mais", "me", "meme", "memes", "mes", "moi", "mon", "n", "ne", "ni", "nos", "notre", "nous", "on", "ont", "ou", "par", "parce", "pas", "peu", "peut", "peuvent", "plus", "pour", "pourquoi", "qu", "quand", "que", "quel", "quelle", "quelles", "quels", "qui", "quoi", "s", "sa", "sans", "se", "ses", "si", "sien", "soi", "soit", "son", "sont", "sous", "suis", "sur", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute", "toutes", "tres", "tu", "un", "une", "unes", "uns", "vers", "via", "vos", "votre", "vous", "y", "bonjour", "svp", "merci", "stp", "slt", "salut"]
) | frozenset(
    # What patients wrap a question in: interrogatives, modal verbs, fillers. They say
    # nothing about the topic, so neither retrieval nor the refusal decision should use them.
    ["combien", "quoi", "lequel", "laquelle", "lesquels", "peux", "peut", "veux", "veut", "voudrais", "faut", "faudrait", "dois", "doit", "devrais", "sert", "servent", "exactement", "vraiment", "normal", "normalement", "truc", "trucs", "chose", "choses", "ok", "oui", "non", "bien", "mieux", "alors", "donc", "voila", "ici", "quand", "maintenant", "bref", "genre"]
)

# SMS spellings of function words, as patients type them on a phone.
SMS_WORDS = {
    "koi": "quoi", "kel": "quel", "kelle": "quelle", "kels": "quels", "ki": "qui", "ke": "que",
    "k": "que", "pk": "pourquoi", "pq": "pourquoi", "pr": "pour", "ds": "dans", "tt": "tout",
    "tte": "toute", "ts": "tous", "ya": "y", "jsuis": "suis", "chui": "suis", "jpeu": "peux",
    "jpeux": "peux", "jveux": "veux", "mieu": "mieux", "ossi": "aussi", "fo": "faut",
    "fe": "fait", "ce": "ce", "g": "ai", "jai": "ai", "bcp": "beaucoup", "dc": "donc",
    "qd": "quand", "mm": "meme", "vs": "vous", "jsp": "sais", "pa": "pas", "sa": "ca",
    "cest": "c", "cet": "cet", "dla": "de", "dle": "de", "d": "de",
    "jsui": "suis", "tjr": "toujours", "tjrs": "toujours", "slt": "salut", "jvoudrais": "voudrais",
    "kesako": "quoi", "koment": "comment", "pkoi": "pourquoi", "bcq": "beaucoup",
}


def fold(text: str) -> str:
    """Lower case, accents removed, ligatures expanded (NFKD): `Sclérose` -> `sclerose`."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("œ", "oe")


def fold_for_match(text: str) -> str:
    """The comparison form of ../shared/EVAL_FORMAT.md: NFKC, lower case, letters and digits."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())


def words(text: str) -> list[str]:
    """Folded word and number tokens, in order. Elided articles (l', d', qu') are split off."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball French stem of a folded word; numbers are kept as they are."""
    if word[:1].isdigit():
        return word.replace(",", ".")
    return _stemmer().stemWord(word)


_local = threading.local()


def _stemmer():  # type: ignore[no-untyped-def]
    # A Snowball stemmer keeps state between calls: one per thread, or the web server's
    # concurrent requests corrupt each other's words (IndexError inside snowballstemmer).
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("french")
    return stemmer


def content_terms(text: str) -> list[str]:
    """Stems of the words that carry meaning: stop words and one-letter words dropped."""
    return [stem(w) for w in words(text) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


_EN_MARKERS = frozenset(
    ["the", "is", "are", "what", "which", "how", "does", "do", "can", "should", "my", "with", "and", "of", "to", "for", "side", "effects", "about"]
)
_FR_MARKERS = frozenset(
    ["le", "la", "les", "est", "sont", "quels", "quelles", "quel", "comment", "que", "qui", "une", "des", "du", "je", "mon", "ma", "mes", "pour", "avec", "et", "effets", "sur", "il", "elle", "on", "peut", "ca", "sep"]
)


def looks_english(text: str) -> bool:
    """True for a question clearly written in English (patients may paste English text)."""
    tokens = words(text)
    if len(tokens) < 3:
        return False
    en = sum(t in _EN_MARKERS for t in tokens)
    fr = sum(t in _FR_MARKERS for t in tokens)
    return en >= 2 and en > 2 * fr


# An English question opens on one of these; none of them starts a French sentence.
_EN_QUESTION_OPENERS = frozenset(
    ["does", "do", "did", "is", "are", "was", "were", "can", "could", "should", "would", "will", "what", "which", "how", "why", "where", "when", "who", "has", "have"]
)


def is_english_question(text: str) -> bool:
    """A short question in English (« Does biotin work? »), too short for `looks_english`.

    Only for the patient's message: the quotable-sentence checks keep `looks_english` alone.
    """
    tokens = words(text)
    return (
        len(tokens) >= 2
        and tokens[0] in _EN_QUESTION_OPENERS
        and not any(t in _FR_MARKERS for t in tokens)
    )


# Author lines: "Par le Dr Nicolas Collongues, Neurologue - Hôpitaux universitaires, Strasbourg",
# and the author's declaration of interests. They say who wrote, not what about.
BYLINE = re.compile(
    r"^(?:Par (?:le |la )?(?:Dr|Pr|Docteur|Professeure?)\b|Propos recueillis par|Entretien avec"
    r"|Conflits? d[’']intérêts?)"
)


# Patients' everyday words next to the words the documents use. A question containing the
# first is searched with the second too ("effets secondaires" -> "tolérance").
LAY_TERMS = {
    "effets secondaires": "tolérance effets indésirables",
    "effet secondaire": "tolérance effets indésirables",
    "piqure": "injection sous-cutanée",
    "piqures": "injection sous-cutanée",
    "bebe": "grossesse",
    "enceinte": "grossesse",
    "mourir": "mortalité décès",
    "meurt": "mortalité décès",
    "cachet": "comprimé voie orale",
    "cachets": "comprimé voie orale",
    "medoc": "traitement",
    "medocs": "traitement",
    "medicament": "traitement",
    "medicaments": "traitement",
    "deprime": "dépressifs",
    "moral": "dépressifs qualité de vie",
    "sport": "activité physique",
    "vaccin": "vaccination",
    "vaccins": "vaccination",
    "neuro": "neurologue",
    "greffe": "transplantation",
    "autogreffe": "transplantation autologue",
    "dangereux": "tolérance risque effets indésirables",
    "dangereuse": "tolérance risque effets indésirables",
    "transmet": "génétique héréditaire",
    "transmettre": "génétique héréditaire",
    "hereditaire": "génétique",
    "mari": "conjoints entourage",
    "epoux": "conjoints entourage",
    "epouse": "conjoints entourage",
    "compagnon": "conjoints entourage",
    "compagne": "conjoints entourage",
    "foot": "sport activité physique",
    "football": "sport activité physique",
    "natation": "sport activité physique",
    "velo": "sport activité physique",
    "paye": "financement dotation",
    "payer": "financement dotation",
    "paie": "financement dotation",
    "finance": "financement dotation",
}
_LAY_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, LAY_TERMS), key=len, reverse=True)) + r")\b")


def lay_words(text: str) -> list[str]:
    """The everyday words of `text` that LAY_TERMS gives the documents' words for."""
    return _LAY_PATTERN.findall(" ".join(words(text)))


def with_lay_terms(text: str) -> str:
    """`text` followed by the documents' words for the everyday words it uses."""
    found = dict.fromkeys(LAY_TERMS[m] for m in lay_words(text))
    return f"{text} ({' '.join(found)})" if found else text
