"""Every French text the user reads: messages, refusals, safety messages, labels, prompts.

Kept in one module so the association can review the wording in one place. The names and the
disease-specific sentences ($association, $disease, $specialist…) come from the profile's
deployment.toml: another deployment changes that file, not this one.
"""

import tomllib
from string import Template

from chatbot.config import PROFILE_DIR

DEPLOYMENT: dict = tomllib.loads((PROFILE_DIR / "deployment.toml").read_text(encoding="utf-8"))  # type: ignore[type-arg]
DEPLOYMENT["first_example"] = DEPLOYMENT["example_questions"][0]


def _d(text: str) -> str:
    """`text` with the deployment's names in place of $association, $disease…; a name the
    profile lacks fails here, at import, not in front of a patient."""
    return Template(text).substitute({k: v for k, v in DEPLOYMENT.items() if isinstance(v, str)})


# --- answers ----------------------------------------------------------------------------
LEAD_IN = _d("Voici ce que disent les documents de $association :")

REFUSAL = _d(
    "Je n'ai pas trouvé la réponse dans les documents de $association. "
    "Pour une question sur votre situation, parlez-en à votre $specialist ou à votre "
    "médecin traitant ; pour une question sur $association, $contact."
)

# Messages that are not questions: greetings, thanks, goodbyes, "who are you?".
SMALL_TALK = {
    "hello": _d(
        "Bonjour ! Je suis un programme, pas un médecin : je réponds à vos questions sur la "
        "$disease à partir des documents de $association, en citant chaque passage. "
        "Quelle est votre question ?"
    ),
    "thanks": _d("Je vous en prie. Si vous avez une autre question sur la $disease, posez-la."),
    "bye": "Au revoir, prenez soin de vous.",
    # « merci c'était très clair, bonne nuit », « je vous laisse, merci »: thanks or a goodbye,
    # often both (answer/about.py, the closing model).
    "closing": _d(
        "Je vous en prie. Au revoir, prenez soin de vous ; si une autre question vous vient sur "
        "la $disease, vous pourrez la poser ici."
    ),
    # « t'es un robot ? », « je parle à un médecin ? »: what answers, plainly.
    "about": _d(
        "Je suis un programme, pas un médecin ni une personne : je cherche la réponse dans les "
        "documents de $association et je cite chaque passage. Je ne connais pas votre "
        "situation : pour elle, parlez-en à votre $specialist. Quelle est votre question ?"
    ),
}

# --- bad input --------------------------------------------------------------------------
INPUT_ERRORS = {
    "empty": _d(
        "Votre question est vide. Écrivez votre question, par exemple : « $first_example »"
    ),
    "too_long": _d(
        "Votre message est trop long ({length} caractères ; {limit} au maximum). "
        "Posez une question courte : je réponds à partir des documents de $association."
    ),
    "not_french": _d(
        "Je réponds uniquement en français, à partir des documents de $association. "
        "Pouvez-vous reformuler votre question en français ?"
    ),
}


def input_error(reason: str, question: object, limit: int) -> str:
    """The French message for a question the engine cannot take (`InvalidQuestion.reason`)."""
    length = len(question.strip()) if isinstance(question, str) else 0
    return INPUT_ERRORS[reason].format(length=length, limit=limit)


# --- safety -----------------------------------------------------------------------------
SAFETY_MESSAGES = {
    "emergency": _d(
        "Ce que vous décrivez peut être une urgence. Appelez tout de suite le 15 (SAMU) "
        "ou le 112. Si vous ne pouvez pas parler ou entendre, envoyez un SMS au 114. "
        "$urgent_advice\n\n"
        "Je suis un programme qui répond à partir des documents de $association, pas un "
        "médecin : je ne peux pas évaluer votre situation."
    ),
    "suicide": (
        "Je suis désolé que vous traversiez un moment aussi difficile. Vous n'êtes pas seul·e : "
        "appelez le 3114, le numéro national de prévention du suicide, gratuit, 24 h/24 et "
        "7 j/7. En cas de danger immédiat, appelez le 15 ou le 112.\n\n"
        "Je suis un programme, pas un soignant ; parler à quelqu'un peut vraiment aider."
    ),
    "treatment_decision": _d(
        "Arrêter, changer ou adapter votre traitement est une décision à prendre avec votre "
        "$specialist : n'en changez pas sans lui en parler. Je suis un programme, pas un médecin."
    ),
}
# Shown under an answer when the message may carry a risk the detector is not sure of: the
# numbers are there whatever the documents say.
SAFETY_NOTICES = {
    "suicide": (
        "Si vous traversez un moment très difficile ou pensez à mettre fin à vos jours, vous "
        "n'êtes pas seul·e : appelez le 3114 (prévention du suicide, gratuit, 24 h/24). "
        "En cas de danger immédiat, appelez le 15 ou le 112."
    ),
    "emergency": _d(
        "Si ces symptômes sont apparus soudainement ou s'aggravent, appelez le 15 (SAMU) ou le "
        "112, ou le 114 par SMS si vous ne pouvez pas parler. $urgent_notice"
    ),
}
TREATMENT_GENERAL_LEAD = _d("Ce que disent les documents de $association, de façon générale :")
# A message that tells and asks nothing (« crevée. juste crevée », « hier j'ai marché sans
# canne »): no passage answers it, and quoting the nearest would read like an answer to a
# question never asked. Only messages without a question mark get this, so adding one is the
# way back.
NOTHING_ASKED = _d(
    "Je suis un programme : je réponds aux questions sur la $disease à partir des documents de "
    "$association, et je n'ai pas trouvé de question dans votre message. Si vous en avez une, "
    "écrivez-la avec un point d'interrogation : je vous dirai ce qu'en disent les documents. "
    "Pour parler de ce que vous vivez, votre équipe soignante et $association sont là."
)
# Under that message when the patient tells a decision and asks nothing: no passage is quoted.
DECISION_TOLD = _d(
    "Si vous avez une question sur ce traitement, posez-la : je vous dirai ce qu'en disent "
    "les documents de $association."
)

# --- command line ---
CLI_DESCRIPTION = _d("$assistant : réponses citées tirées des documents de $association.")

# --- chat window ------------------------------------------------------------------------
APP_TITLE = _d("$assistant — documents de $association")
APP_INTRO = _d(
    "Je suis un **assistant automatique** : je réponds à vos questions sur la $disease "
    "uniquement à partir des documents de $association, en citant mes sources. "
    "**Je ne suis pas un médecin.** Pour votre situation personnelle, parlez-en à votre "
    "$specialist. En cas d'urgence, appelez le 15 ou le 112."
)
INPUT_PLACEHOLDER = "Écrivez votre question ici…"
INPUT_LABEL = "Votre question"
SOURCES_TITLE = "Sources"
# Above the documents a refusal names (Engine.refusal): they are where to read on, not an answer.
NEARBY_TITLE = "Les documents les plus proches de votre question, qui n'y répondent peut-être pas :"
EXAMPLE_QUESTIONS: list[str] = list(DEPLOYMENT["example_questions"])

# --- generative answers -----------------------------------------------------------------
# Used only when CHATBOT_LLM_BASE_URL points at an OpenAI-compatible server (chatbot/answer/generate.py).
# Rendered with str.format and explicit names: a missing variable raises KeyError, and the
# templates hold no other brace. Every sentence of the reply is then checked against the
# passage it cites (chatbot/answer/verify.py); sentences without their [n] are dropped.
LLM_NO_ANSWER = "Les documents fournis ne répondent pas à cette question."

# Variables: {no_answer}
LLM_SYSTEM_PROMPT = _d(
    "Tu es l'assistant d'une association de $patients. "
    "Tu réponds à la question du patient uniquement à partir des passages numérotés fournis.\n"
    "Règles :\n"
    "1. Réponds en français simple, en deux à cinq phrases courtes, sans titre ni liste.\n"
    "2. Termine chaque phrase par le numéro du passage qui la justifie, entre crochets, avant "
    "le point : « … [2]. » Si deux passages disent chacun la même chose : « … [1][3]. »\n"
    "3. Ne cite un passage que s'il contient, à lui seul, tout ce que dit la phrase.\n"
    "4. Reprends les mots, les chiffres et les noms des passages tels qu'ils sont écrits. "
    "N'ajoute aucune information, aucun chiffre, aucun nom qui n'y figure pas.\n"
    "5. Respecte les négations : si un passage dit qu'un traitement n'est pas efficace, "
    "ne dis jamais qu'il l'est.\n"
    "6. N'écris pas « selon le passage » ni « d'après le document » : le numéro entre "
    "crochets suffit.\n"
    "7. Ne donne aucun conseil personnel sur un traitement ou une dose.\n"
    "8. Si les passages ne permettent pas de répondre, écris seulement : « {no_answer} »"
)

# Variables: {passages}, {history}, {question}
LLM_USER_PROMPT = (
    "Passages :\n\n{passages}\n\n"
    "Conversation précédente :\n{history}\n\n"
    "Question du patient : {question}\n\n"
    "Réponse (chaque phrase terminée par son numéro de passage entre crochets) :"
)

# One passage of {passages}. Variables: {n}, {title}, {text}
LLM_PASSAGE = "[{n}] {title}\n{text}"

# One earlier turn of {history}, by role. Variable: {content}
LLM_HISTORY_TURN = {"user": "Patient : {content}", "assistant": "Assistant : {content}"}
LLM_NO_HISTORY = "(aucune)"
# --- end of generative answers ------------------------------------------------------------

# --- web: chat page, widget, feedback, HTTP API (chatbot/serve/) --------------------------------
CHAT_LABEL = "Conversation avec l'assistant"
CHAT_PLACEHOLDER = _d(
    "Posez votre question sur la $disease, ou choisissez un exemple ci-dessous. "
    "Je réponds en citant les documents de $association."
)
WIDGET_INTRO = _d(
    "Assistant automatique : je réponds à partir des documents de $association. "
    "Je ne suis pas un médecin. Urgence : appelez le 15 ou le 112."
)
DISCLAIMER_SHORT = _d(
    "Réponses automatiques tirées des documents de $association : elles ne remplacent pas "
    "l'avis de votre médecin. Aucune donnée personnelle n'est conservée ; vos avis "
    "(pouce levé ou baissé) enregistrent seulement la question et la réponse."
)
SEND = "Envoyer"
NEW_CONVERSATION = "Nouvelle conversation"
TEXT_SMALLER = "A−"
TEXT_LARGER = "A+"
# The visible text comes first in the name, so that a voice command « A plus » finds the button.
TEXT_SMALLER_LABEL = "A− : réduire la taille du texte"
TEXT_LARGER_LABEL = "A+ : agrandir la taille du texte"
CITE_LINK_LABEL = "Source {n} : {title}"
SOURCE_FILE_LABEL = "Document :"
FEEDBACK_THANKS = "Merci pour votre avis ! Vous pouvez ajouter un commentaire (facultatif)."
FEEDBACK_COMMENT_LABEL = "Votre commentaire (facultatif)"
FEEDBACK_COMMENT_PLACEHOLDER = "Qu'est-ce qui manquait ou n'allait pas dans cette réponse ?"
FEEDBACK_COMMENT_SEND = "Envoyer le commentaire"
FEEDBACK_COMMENT_THANKS = "Merci, votre commentaire a été enregistré."

# The widget's button and panel on the association's site (static/widget.js).
WIDGET_TEXTS = {
    "title": _d("$assistant"),
    "open": _d("Une question sur la $disease_short ?"),
    "open_label": _d("Une question sur la $disease_short ? Ouvrir l'assistant de $association"),
    "close": "Fermer",
    "close_label": "Fermer l'assistant",
    "frame_title": _d("$assistant de $association : questions et réponses citées"),
}

# HTTP API errors (POST /api/ask, /api/feedback): {field} is the JSON field at fault.
API_ERRORS = {
    "json_invalid": "Le corps de la requête n'est pas un JSON valide.",
    "body": _d(
        'Le corps de la requête doit être un objet JSON, par exemple {"question": "$first_example", "history": []}.'
    ),
    "missing": "Le champ « {field} » est obligatoire.",
    "string_type": "Le champ « {field} » doit être un texte.",
    "list_type": "Le champ « {field} » doit être une liste.",
    "dict_type": "Le champ « {field} » doit être un objet JSON.",
    "literal_error": "Le champ « {field} » a une valeur non permise ({allowed}).",
    "extra_forbidden": "Le champ « {field} » n'est pas reconnu.",
    "too_long": "Le champ « {field} » est trop long.",
    "other": "Le champ « {field} » est invalide.",
    "origin": "Origine non autorisée : {origin}. Ce site n'est pas autorisé à utiliser l'assistant.",
    "unknown_feedback": "Avis inconnu : {id}.",
}
API_DOCS_TITLE = _d("API de l'$assistant")
SR_QUESTION = "Vous avez demandé :"  # read by screen readers before each message
SR_ANSWER = "Réponse de l'assistant :"

# --- limits and faults (chatbot/serve/guard.py, text/sanitize.py, the store and the index at the edges) ---
# More reasons an input is refused (InvalidQuestion.reason), with those above.
INPUT_ERRORS["history"] = (
    "L'historique de la conversation est mal formé : chaque tour doit être un objet "
    '{{"role": "user" ou "assistant", "content": "texte"}}.'  # braces doubled: str.format
)
INPUT_ERRORS["history_too_long"] = (
    "La conversation est trop longue pour être suivie. Commencez une nouvelle conversation."
)

# A request refused before it reaches the engine: {"detail": <text>, "code": <key>}.
REQUEST_ERRORS = {
    "host": "Nom de serveur non autorisé : {host}. Ce serveur ne répond qu'à ses propres adresses.",
    "origin": API_ERRORS["origin"],
    "not_found": "Adresse inconnue : {path}.",
    "method": "Cette adresse n'accepte pas cette méthode.",
    "upload": "L'envoi de fichiers est désactivé : l'assistant ne prend que du texte.",
    "body_too_large": "La requête est trop volumineuse ({limit} octets au maximum).",
    "encoding": "Le corps de la requête n'est pas un texte UTF-8 valide.",
    "json_invalid": API_ERRORS["json_invalid"],
    "rate_question": "Vous avez posé beaucoup de questions en peu de temps. "
    "Réessayez dans {seconds} s.",
    "rate_vote": "Vous avez donné beaucoup d'avis en peu de temps. Réessayez dans {seconds} s.",
    "busy": "Trop de demandes, réessayez dans un instant.",
    "internal": "Une erreur interne est survenue. Réessayez dans un instant.",
}

# The service is degraded: the chat answers, or says plainly why it cannot.
FEEDBACK_FAILED = "Désolé, votre avis n'a pas pu être enregistré. Réessayez plus tard."
INDEX_UNAVAILABLE = (
    "Le service est momentanément indisponible : l'index des documents est abîmé. "
    "Réessayez plus tard."
)

# Accessibility: the group of example questions in the empty chat (a screen reader names it).
EXAMPLES_LABEL = "Exemples de questions"
