"""The `chatbot` command: it parses, calls the library, and prints. Errors become French lines.

The parser is here; the commands, each a few lines over the library, in commands.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from chatbot import texts_fr  # noqa: E402
from chatbot.cli.commands import (  # noqa: E402
    cmd_ask,
    cmd_calibrate,
    cmd_eval,
    cmd_feedback_export,
    cmd_fit_adapter,
    cmd_fit_choice,
    cmd_fit_message_model,
    cmd_fit_ranker,
    cmd_index,
    cmd_safety_eval,
    cmd_safety_fit,
    gate,
)
from chatbot.errors import ChatbotError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ChatbotError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatbot", description=texts_fr.CLI_DESCRIPTION)
    sub = p.add_subparsers(required=True, metavar="COMMANDE")
    _add_index(sub)
    _add_ask(sub)
    _add_eval(sub)
    _add_calibrate(sub)
    _add_fit(sub)
    _add_safety(sub)
    _add_feedback(sub)
    return p


def _add_index(sub: Any) -> None:
    s = sub.add_parser("index", help="construire l'index d'un dossier de documents")
    s.add_argument("--corpus", type=Path, help="dossier de documents (.md, .txt, .html, .pdf)")
    s.add_argument("--out", type=Path, help="dossier de sortie de l'index (défaut : embeddings/)")
    s.add_argument(
        "--if-stale", action="store_true", help="ne reconstruire que si le corpus a changé"
    )
    s.add_argument("--chunk-tokens", type=int, help="taille des passages, en jetons du modèle")
    s.add_argument("--chunk-overlap", type=int, help="recouvrement des passages, en jetons")
    s.set_defaults(func=cmd_index)


def _add_ask(sub: Any) -> None:
    s = sub.add_parser("ask", help="poser une question")
    s.add_argument("question")
    s.add_argument("--index", type=Path)
    s.add_argument("--json", action="store_true", help="écrire le résultat au format d'évaluation")
    s.add_argument("--history", type=Path, help="fichier JSON des tours précédents")
    s.set_defaults(func=cmd_ask)


def _add_eval(sub: Any) -> None:
    s = sub.add_parser("eval", help="évaluer sur un ou plusieurs fichiers de questions")
    s.add_argument(
        "--questions",
        type=Path,
        required=True,
        action="append",
        help="fichier de questions (répétable : dev et test côte à côte)",
    )
    s.add_argument("--index", type=Path)
    s.add_argument("--out", type=Path, help="fichier de résultats JSONL")
    s.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    s.add_argument(
        "--baselines",
        action="store_true",
        help="évaluer aussi les recherches lexicale seule et dense seule, côte à côte",
    )
    s.add_argument("--compare", type=Path, metavar="OLD.jsonl", help="résultats d'un run précédent")
    s.add_argument(
        "--fail-under",
        type=gate,
        action="append",
        default=[],
        metavar="METRIQUE=VALEUR",
        help="code de sortie 1 si la métrique est sous la valeur (répétable), ex. recall@5=0.95",
    )
    s.add_argument(
        "--report",
        type=Path,
        metavar="DOSSIER",
        help="dossier des rapports HTML et Markdown (défaut : à côté de --out)",
    )
    s.set_defaults(func=cmd_eval)


def _add_calibrate(sub: Any) -> None:
    s = sub.add_parser("calibrate", help="ajuster le refus (profile/calibration.json)")
    s.add_argument(
        "--questions",
        type=Path,
        action="append",
        default=[],
        help="questions de développement de ce corpus (répétable) ; jamais celles du test",
    )
    s.add_argument(
        "--contrast",
        type=Path,
        action="append",
        default=[],
        help=(
            "banque de paires minimales (une question à laquelle les documents répondent, sa "
            "jumelle à laquelle ils ne répondent pas) : le refus pèse alors aussi les vecteurs"
        ),
    )
    s.add_argument("--index", type=Path)
    s.add_argument("--piaf-index", type=Path, help="index PIAF (make piaf) : ses quasi-réponses")
    s.add_argument(
        "--out", type=Path, help="fichier de calibration (défaut : profile/calibration.json)"
    )
    s.add_argument("--piaf-limit", type=int, default=1500, help="questions PIAF utilisées")
    s.set_defaults(func=cmd_calibrate)


def _add_fit(sub: Any) -> None:
    s = sub.add_parser("fit", help="ajuster le classement des phrases sur PIAF (make fit)")
    fsub = s.add_subparsers(required=True, metavar="QUOI")
    f = fsub.add_parser("ranker", help="les poids du classement des phrases (profile/ranker.json)")
    f.add_argument("--piaf-index", type=Path, required=True)
    f.add_argument(
        "--limit", type=int, help="questions PIAF d'entraînement utilisées (défaut : toutes)"
    )
    f.set_defaults(func=cmd_fit_ranker)
    f = fsub.add_parser(
        "choice", help="les marges de citation, mesurées sur PIAF (affiche une grille)"
    )
    f.add_argument("--piaf-index", type=Path, required=True)
    f.add_argument("--limit", type=int, default=1000)
    f.set_defaults(func=cmd_fit_choice)
    f = fsub.add_parser(
        "about",
        help="qui répond ? : le modèle des messages sur l'assistant (profile/about/model.json)",
    )
    f.set_defaults(func=cmd_fit_message_model, kind="about")
    f = fsub.add_parser(
        "told",
        help="rien de demandé : le modèle des messages qui racontent (profile/told/model.json)",
    )
    f.set_defaults(func=cmd_fit_message_model, kind="told")
    f = fsub.add_parser(
        "closing",
        help="fin de conversation : le modèle des remerciements et des au revoir "
        "(profile/closing/model.json)",
    )
    f.set_defaults(func=cmd_fit_message_model, kind="closing")
    f = fsub.add_parser(
        "adapter",
        help="ce qu'on cite : la correction du vecteur de la question (profile/quote_adapter.json)",
    )
    f.add_argument(
        "--questions",
        type=Path,
        action="append",
        default=[],
        help="questions étiquetées de ce corpus (répétable ; défaut : dev, pairs, bank) ; jamais "
        "celles du test ni de la validation",
    )
    f.add_argument(
        "--if-stale",
        action="store_true",
        help="seulement s'il a été ajusté pour un autre index (make index)",
    )
    f.set_defaults(func=cmd_fit_adapter)


def _add_safety(sub: Any) -> None:
    s = sub.add_parser("safety", help="détecteur de risques : ajuster, mesurer")
    ssub = s.add_subparsers(required=True, metavar="ACTION")
    f = ssub.add_parser("fit", help="ajuster le détecteur sur la partie « train » de la banque")
    f.add_argument(
        "--bank",
        type=Path,
        help="banque de messages étiquetés (défaut : profile/safety/bank_train.jsonl)",
    )
    f.add_argument(
        "--ordinary",
        type=int,
        default=1500,
        help="questions PIAF ajoutées comme messages ordinaires",
    )
    f.set_defaults(func=cmd_safety_fit)
    e = ssub.add_parser("eval", help="mesurer le détecteur là où il n'a pas été ajusté")
    e.add_argument("--bank", type=Path, action="append", help="messages de test (répétable)")
    e.add_argument(
        "--ordinary",
        type=Path,
        action="append",
        help="fichiers de questions ordinaires (répétable)",
    )
    e.add_argument("--index", type=Path)
    e.add_argument(
        "--out", type=Path, help="rapport JSON (avec les messages manqués et les fausses alertes)"
    )
    e.add_argument(
        "--list",
        action="store_true",
        help="afficher aussi les messages manqués et les fausses alertes",
    )
    e.set_defaults(func=cmd_safety_eval)


def _add_feedback(sub: Any) -> None:
    s = sub.add_parser("feedback", help="avis 👍/👎 des patients")
    fsub = s.add_subparsers(required=True, metavar="ACTION")
    e = fsub.add_parser("export", help="écrire les réponses 👎 comme questions candidates (JSONL)")
    e.add_argument(
        "--db",
        type=Path,
        help="base des avis (défaut : CHATBOT_FEEDBACK_DB ou var/feedback.sqlite3)",
    )
    e.add_argument(
        "--out", type=Path, required=True, help="fichier de questions candidates à relire"
    )
    e.set_defaults(func=cmd_feedback_export)
