"""Every French text the user reads: messages, refusals, safety messages, labels, prompts.

Kept in one module so the association can review the wording in one place.
"""

# --- answers ----------------------------------------------------------------------------
LEAD_IN = "Voici ce que disent les documents de l'association :"

REFUSAL = (
    "Je n'ai pas trouvé la réponse dans les documents de l'association. "
    "Pour une question sur votre situation, parlez-en à votre neurologue ou à votre "
    "médecin traitant ; pour une question sur l'association, contactez-la directement."
)

# --- bad input --------------------------------------------------------------------------
INPUT_ERRORS = {
    "empty": "Votre question est vide. Écrivez votre question, par exemple : "
    "« Quels sont les effets secondaires de l'ocrelizumab ? »",
    "too_long": "Votre message est trop long ({length} caractères ; {limit} au maximum). "
    "Posez une question courte : je réponds à partir des documents de l'association.",
    "not_french": "Je réponds uniquement en français, à partir des documents de l'association. "
    "Pouvez-vous reformuler votre question en français ?",
}

# --- safety -----------------------------------------------------------------------------
SAFETY_MESSAGES = {
    "emergency": (
        "Ce que vous décrivez peut être une urgence. Appelez tout de suite le 15 (SAMU) "
        "ou le 112. Si vous pensez à une poussée de votre sclérose en plaques, contactez "
        "aussi votre neurologue ou votre centre SEP sans attendre.\n\n"
        "Je suis un programme qui répond à partir des documents de l'association, pas un "
        "médecin : je ne peux pas évaluer votre situation."
    ),
    "suicide": (
        "Je suis désolé que vous traversiez un moment aussi difficile. Vous n'êtes pas seul·e : "
        "appelez le 3114, le numéro national de prévention du suicide, gratuit, 24 h/24 et "
        "7 j/7. En cas de danger immédiat, appelez le 15 ou le 112.\n\n"
        "Je suis un programme, pas un soignant ; parler à quelqu'un peut vraiment aider."
    ),
    "treatment_decision": (
        "Arrêter, changer ou adapter votre traitement est une décision à prendre avec votre "
        "neurologue : n'en changez pas sans lui en parler. Je suis un programme, pas un médecin."
    ),
}
TREATMENT_GENERAL_LEAD = "Ce que disent les documents de l'association, de façon générale :"

# --- chat window ------------------------------------------------------------------------
APP_TITLE = "Assistant SEP — documents de l'association"
APP_INTRO = (
    "Je suis un **assistant automatique** : je réponds à vos questions sur la sclérose en "
    "plaques uniquement à partir des documents de l'association, en citant mes sources. "
    "**Je ne suis pas un médecin.** Pour votre situation personnelle, parlez-en à votre "
    "neurologue. En cas d'urgence, appelez le 15 ou le 112."
)
INPUT_PLACEHOLDER = "Écrivez votre question ici…"
INPUT_LABEL = "Votre question"
SOURCES_TITLE = "Sources"
EXAMPLE_QUESTIONS = [
    "Quels sont les effets secondaires de l'ocrelizumab ?",
    "La biotine à forte dose est-elle efficace ?",
    "Quel sport pratiquer avec une SEP ?",
    "Faut-il une injection de gadolinium à chaque IRM ?",
]
