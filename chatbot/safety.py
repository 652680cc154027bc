"""Safety rules, applied by the engine before retrieval, for every entry point.

Patients write on phones, tired or worried: the patterns run on accent-folded text and
tolerate common misspellings. A red flag is answered with a fixed message and nothing else;
a personal treatment decision is sent to the neurologist, then the documents' general answer
follows; instructions hidden in a question are ignored (the question is answered as usual).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .textnorm import fold


class Rule(StrEnum):
    SUICIDE = "suicide"
    EMERGENCY = "emergency"
    TREATMENT_DECISION = "treatment_decision"
    INJECTION = "injection"


@dataclass(frozen=True)
class SafetyMatch:
    rule: Rule
    pattern: str  # which pattern fired, for logs and tests
    cleaned_question: str  # the question without the injected instructions


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_ME = r"(?:j|je|jai|j ai|moi|me|m|mon|ma|mes|suis)"
_SUDDEN = r"(?:d un coup|dun coup|soudain\w*|brutal\w*|depuis (?:ce matin|hier|cette nuit|tout a l heure|1 heure|une heure|2 heures|deux heures)|tout a coup|subitement|d un seul coup)"

SUICIDE = _any(
    r"suicid\w*",
    # "d'en finir" typed without apostrophe is "den finir"; "en finir avec la fatigue" is not it.
    r"\b(?:en|den) finir\b(?! avec (?!la vie|tout))|\bfinir avec (?:la vie|tout)\b",
    r"\b(?:me|jme|jvais me) (?:tuer|foutre en l air|pendre|jeter sous)\b",
    r"\b(?:j?veux|veut|j?voudrais|envie de|prefere|préfère)\s+(?:plus|pas)?\s*(?:vivre|mourir|disparaitre)\b",
    r"\b(?:veux|voudrais) plus vivre\b|\bplus envie de vivre\b|\bmarre de vivre\b",
    r"\b(?:me|m|jme)\s+(?:suis\s+)?(?:encore\s+|deja\s+)?(?:faire|fait|fais)\s+du mal\b|\bme (?:scarifier|mutiler|couper les veines|couper)\b|\bscarif\w*|\bavec une lame\b",
    r"\bmettre fin a (?:mes jours|ma vie)\b",
    # The words patients use for it without naming it.
    r"\bidees? (?:noires?|suicidaires?|de mort)\b|\bpense\w* (?:a|au) (?:la mort|mourir)\b",
    r"\bplus (?:le |aucun )?gout (?:a|pour) (?:rien|la vie|vivre)\b|\bla vie ne vaut (?:plus|pas) (?:la peine|le coup)\b",
    r"\b(?:seraient|serait|seront|sera) mieux sans moi\b|\bpeux plus (?:continuer a vivre|vivre comme ca)\b",
)

EMERGENCY = _any(
    # vision
    rf"\b(?:(?:perdu|perte|perds|perd)\s+(?:de\s+)?(?:la\s+)?(?:vue|vision)|(?:vois|voit|voie|voi)\s+(?:plus|pu|rien|floue?|double|trouble)\w*|aveugle)\b.*{_SUDDEN}|{_SUDDEN}.*\b(?:(?:perdu|perte|perds|perd)\s+(?:de\s+)?(?:la\s+)?(?:vue|vision)|vois plus|voit plus|vois rien|aveugle|vision)\b",
    r"\b(?:je|j)\s*(?:ne\s+)?(?:vois|voit|voi)\s+(?:plus rien|plus de l oeil|rien)\b",
    # weakness, paralysis
    r"\bparaly\w*",
    rf"\b(?:peux|peu|arrive)\s+(?:plus|pu|pas)\s+(?:a\s+)?(?:bouger|marcher|lever|me lever|tenir debout)\b.*{_SUDDEN}|{_SUDDEN}.*\b(?:peux|peu|arrive)\s+(?:plus|pu|pas)\s+(?:a\s+)?(?:bouger|marcher|lever|me lever|tenir debout)\b",
    rf"\b(?:bras|jambe|jambes|main|visage|cote)\b.*\b(?:repond\w* plus|ne repond\w*|bouge\w* plus|lach\w*|inerte\w*|engourdi\w*|faible\w*|lourde?s?)\b.*{_SUDDEN}|{_SUDDEN}.*\b(?:bras|jambe|jambes|main|visage|cote)\b",
    r"\bfaiblesse (?:soudaine|brutale)\b|\bvisage (?:paralyse|tordu|de travers)\b|\bbouche de travers\b",
    # speech and face, also about someone else (stroke signs)
    r"\bparle\s+(?:bizarre\w*|mal|plus|de travers)\b|\bmots\s+(?:ne\s+)?(?:sortent|viennent)\s+(?:pas|plus)\b|\b(?:bouche|visage|levre)\s+(?:qui\s+)?(?:tombe|pend|de travers)\w*",
    # overdose, poisoning
    r"\b(?:pris|avale|avaler)\s+(?:toute?s?|tous)\s+(?:ma|mes|la|les|une)\s+(?:plaquette|boite|comprime|cachet|medicament|flacon)\w*|\b(?:overdose|surdose)\b|\btrop de (?:cachets|comprimes|medicaments)\b",
    # speech
    r"\bj?(?:arrive|peux|peu)\s+(?:plus|plu|pu|pas)\s+(?:a\s+)?(?:parler|articuler|trouver mes mots)\b|\bmots ne sortent\b|\bje bafouille\b|\bparole\s+(?:bizarre|difficile)\b",
    # breathing
    r"\bj?(?:arrive|peux|peu)\s+(?:plus|plu|pu|pas)\s+(?:a\s+)?respirer\b|\b(?:respire|respir)\s+(?:mal|plus|difficilement)\b|\betouff\w*|\bdu mal a respirer\b|\bmanque d air\b|\bessouffl\w* (?:au repos|d un coup)",
    # chest pain, loss of consciousness, convulsions
    r"\b(?:douleur|mal|serre\w*|oppression)\b.{0,25}\b(?:poitrine|thorax|thoracique|coeur)\b",
    r"\b(?:perdu connaissance|evanoui\w*|convuls\w*|crise d epilepsie)\b",
)

TREATMENT_DECISION = _any(
    r"\b(?:est ce que|est-ce que|estce que|esque|je peux|je peut|j peux|puis je|dois je|je dois|je devrais|faut il que je|je vais|je veux|je voudrais|j aimerais|on peut|peut on)\b.*\b(?:arret\w*|stopp\w*|interromp\w*|chang\w*|switch\w*|diminu\w*|baiss\w*|augment\w*|doubl\w*|saut\w*|espac\w*|reduir\w*|prendre|remplac\w*|passer (?:a|au|sous)|demand\w*|commenc\w*|essay\w*|tent\w*)\b",
    r"\b(?:j\s*)?(?:arret\w*|stopp?\w*|chang\w*|doubl\w*|diminu\w*|augment\w*|saut\w*)\s+(?:de\s+)?(?:mon|ma|mes)\s+\w+",
    r"\bje (?:veux|voudrais|vais) (?:une|un|le|la|les|des)\s+(?:traitement|greffe|perfusion|injection|medicament|ocrevus|biotine|interferon)\w*",
    r"\bquelle dose\b.*\b(?:je|dois|prendre)\b|\bcombien (?:de mg|je dois prendre)\b",
)

INJECTION = _any(
    r"\b(?:ignore|oublie|oublies|ignores|ne tiens pas compte)\w*\s+(?:tes|les|toutes|vos|tous|ce qu|tout ce)\b.{0,40}\b(?:consigne|instruction|regle|directive|prompt)\w*",
    r"\b(?:ignore|disregard)\s+(?:all|previous|your)\b.{0,30}\binstruction\w*",
    r"\btu es (?:maintenant|desormais|a present)\s+[^.?!:;]*|\btu es (?:un |mon )?(?:medecin|docteur|neurologue)\b",
    r"\b(?:fais|fait) comme si\b|\bjoue le role\b|\bagis comme\b|\bsystem prompt\b|\bmode developpeur\b",
    r"\[?\bsystem\b\]?|\bnouvelles? (?:consigne|instruction|regle)s?\b[^.?!:;]*[:.]?[^.?!:;]*|\bsans (?:citer|aucune limite|limite|source)\b",
)

# Imperatives that follow an injection ("... et dis-moi que X") are dropped, X is kept.
_INSTRUCTION_LEAD = re.compile(
    r"^(?:et\s+|puis\s+|alors\s+)*(?:dis moi|dites moi|confirme|confirmez|affirme|affirmez|ecris|repond|reponds|repondez|explique)(?:\s+(?:que|qu|moi|nous))*\s+"
)


def _folded(text: str) -> str:
    # Apostrophes and hyphens become spaces: "j'ai" -> "j ai", "est-ce" -> "est ce".
    return re.sub(r"[\s'’`\-_]+", " ", fold(text)).strip()


def check(question: str) -> SafetyMatch | None:
    """The safety rule that must answer this question, if any (most serious first)."""
    q = _folded(question)
    for rule, pattern in (
        (Rule.SUICIDE, SUICIDE),
        (Rule.EMERGENCY, EMERGENCY),
    ):
        m = pattern.search(q)
        if m:
            return SafetyMatch(rule, m.group(0), question)
    injection = INJECTION.search(q)
    cleaned = _without_instructions(q) if injection else question
    m = TREATMENT_DECISION.search(q)
    if m and re.search(rf"\b{_ME}\b", q):
        return SafetyMatch(Rule.TREATMENT_DECISION, m.group(0), cleaned)
    if injection:
        return SafetyMatch(Rule.INJECTION, injection.group(0), cleaned)
    return None


def _without_instructions(folded: str) -> str:
    """The question left once injected instructions are cut out, for retrieval to see."""
    kept = []
    for segment in re.split(r"[.?!:;\n]+", INJECTION.sub(" ", folded)):
        segment = _INSTRUCTION_LEAD.sub("", re.sub(r"\s+", " ", segment).strip(" ,"))
        if len(segment.split()) >= 2:
            kept.append(segment)
    return " ? ".join(kept) if kept else folded
