"""The HTTP API beside the chat: POST /api/ask, POST /api/feedback, GET /api/health, /api/docs.

/api/ask returns one record of the result format of ../shared/EVAL_FORMAT.md, so an evaluator
can post question-file lines as they are. Errors are JSON `{"detail": <French text>, "code"}`:
400 invalid JSON or an empty / too long question, 422 wrong fields or types, 403 a browser on a
site that is not allowed, 413 a body too large, 429 too many requests from one client, 503
the service is busy or degraded (guard.py answers some of them before this module; the others
are in api_errors.py). Every text field is cleaned (chatbot/text/sanitize.py) as it is read,
and has a bound.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr

from chatbot import texts_fr
from chatbot.errors import FeedbackUnavailable, IndexMismatch, InvalidQuestion
from chatbot.records import refusal_result
from chatbot.serve.api_docs import docs_page
from chatbot.serve.api_errors import (
    ERRORS,
    ApiError,
    error_response,
    http_error,
    internal_error,
    validation_error,
)
from chatbot.serve.asking import ask_engine
from chatbot.serve.feedback import Feedback, index_version
from chatbot.text.sanitize import clean_text

log = logging.getLogger("chatbot")


def _cleaned(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


# A text field as read from JSON: cleaned before its type and length are checked, so that a
# lone surrogate is repaired, not echoed into a response that cannot be encoded.
Text = Annotated[StrictStr, BeforeValidator(_cleaned)]

DESCRIPTION = (
    "Questions-réponses citées sur les documents de l'association. `POST /api/ask` renvoie "
    "un enregistrement du format de résultats partagé (réponse avec marqueurs [n], citations, "
    "passages retrouvés, temps). Les messages d'erreur sont en français."
)
router = APIRouter(prefix="/api")


class Turn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant"]
    content: Text = Field(max_length=20_000)


class AskRequest(BaseModel):
    """A question, with the earlier turns of the conversation, oldest first."""

    # Extra fields are ignored, so a whole line of a question file can be posted as it is.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            # The deployment's own example questions (profile/deployment.toml).
            "examples": [
                {"question": texts_fr.EXAMPLE_QUESTIONS[0], "history": []},
                {
                    "question": "et en pratique ?",
                    "history": [
                        {"role": "user", "content": texts_fr.EXAMPLE_QUESTIONS[1]},
                        {"role": "assistant", "content": "Voici ce que disent les documents…"},
                    ],
                },
            ]
        },
    )
    question: Text = Field(description="Le message du patient, tel qu'il l'a tapé.")
    history: list[Turn] = Field(default_factory=list, max_length=50)
    id: Text = Field("api", max_length=200, description="Recopié dans le résultat.")


class SourceOut(BaseModel):
    chunk_id: str
    source: str = Field(description="Chemin du document, relatif au dossier du corpus.")
    title: str
    author: str
    publication: str
    date: str
    text: str = Field(description="Le passage en entier.")


class CitationOut(SourceOut):
    n: int
    quote: str = Field(description="Le passage exact sur lequel la réponse s'appuie.")


class RetrievedOut(BaseModel):
    rank: int
    chunk_id: str
    source: str
    score: float
    text: str


class AskResult(BaseModel):
    """One record of the result format (../shared/EVAL_FORMAT.md)."""

    id: str
    question: str
    answer: str = Field(description="Le texte montré au patient, avec ses marqueurs [1], [2]…")
    refused: bool
    safety: str | None = Field(
        description="La règle de sécurité qui a répondu (ex. `emergency`), sinon null."
    )
    citations: list[CitationOut]
    retrieved: list[RetrievedOut]
    timings_ms: dict[str, float]
    backend: str = "extractive"
    nearby: list[SourceOut] = Field(
        default_factory=list,
        description="Après un refus : les documents les plus proches de la question, chacun "
        "par un de ses passages, pour lire plus loin. Rien n'en est cité.",
    )


class FeedbackIn(BaseModel):
    """A 👍/👎 on an answer obtained from /api/ask, with an optional comment."""

    model_config = ConfigDict(extra="ignore")
    # Every field bounded: a vote is one short question and its answer; its store keeps no
    # more (feedback.py).
    vote: Literal["up", "down"]
    question: Text = Field(max_length=2_000)
    answer: Text = Field(max_length=10_000)
    history: list[Turn] = Field(default_factory=list, max_length=20)
    chunk_ids: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20
    )
    refused: StrictBool = False
    safety: Annotated[Text, Field(max_length=40)] | None = None
    comment: Text = Field("", max_length=2000)


class FeedbackOut(BaseModel):
    id: int


@router.post("/ask", response_model=AskResult, responses=ERRORS, summary="Poser une question")
def ask(body: AskRequest, request: Request) -> Any:
    """Answer a question from the association's documents, with numbered citations.

    A question the engine cannot take (empty, too long) is a 400; a question in another
    language gets a 200 refusal with the French message, as every entry point does.
    """
    engine = request.app.state.engine
    history = [t.model_dump() for t in body.history]
    try:
        answer = ask_engine(engine, body.question, history)
    except InvalidQuestion as exc:
        message = texts_fr.input_error(
            exc.reason, body.question, engine.settings.max_question_chars
        )
        if exc.reason == "not_french":
            return refusal_result(body.id, body.question, message)
        return error_response(400, message, exc.reason)
    except IndexMismatch:
        return error_response(503, texts_fr.INDEX_UNAVAILABLE, "index")
    # Already the documented shape: returned as is, without a second validation pass.
    return JSONResponse(answer.to_result(body.id, body.question))


@router.post(
    "/feedback", response_model=FeedbackOut, responses=ERRORS, summary="Donner un avis 👍/👎"
)
def feedback(body: FeedbackIn, request: Request) -> Any:
    """Store a vote on an answer (no IP address nor anything else about the person).

    When the store cannot write, the vote is answered 503 with a French message: the chat
    itself keeps answering.
    """
    store = request.app.state.store
    if store is None:
        return error_response(503, texts_fr.FEEDBACK_FAILED, "feedback_failed")
    fb = Feedback(
        vote=body.vote,
        question=body.question,
        answer=body.answer,
        history=[t.model_dump() for t in body.history],
        chunk_ids=tuple(body.chunk_ids),
        refused=body.refused,
        safety=body.safety,
        comment=body.comment,
        index_version=index_version(request.app.state.engine.index.manifest),
    )
    try:
        return {"id": store.add(fb)}
    except FeedbackUnavailable as exc:
        log.warning("Avis non enregistré : %s", exc)
        return error_response(503, texts_fr.FEEDBACK_FAILED, "feedback_failed")


@router.get(
    "/health",
    summary="État du service",
    responses={503: {"description": "L'index est inutilisable : le service ne répond plus"}},
)
def health(request: Request) -> Any:
    """`ok`; `degraded` when the chat answers but votes cannot be stored or the refusal was
    fitted for another index; `error` (503) when the index cannot be served. `problems` says
    why, in French."""
    engine, store = request.app.state.engine, request.app.state.store
    index_problem = engine.index.problem()
    feedback_problem = request.app.state.feedback_problem if store is None else store.problem
    calibration_problem = getattr(engine, "calibration_problem", None)
    checks = {
        "index": "erreur"
        if index_problem
        else "vérification en cours"
        if engine.index.checking()
        else "ok",
        "feedback": "indisponible" if feedback_problem else "ok",
        "calibration": "à réajuster" if calibration_problem else "ok",
    }
    degraded = feedback_problem or calibration_problem
    status = "error" if index_problem else "degraded" if degraded else "ok"
    body = {
        "status": status,
        "index": index_version(engine.index.manifest),
        "checks": checks,
        "problems": [p for p in (index_problem, feedback_problem, calibration_problem) if p],
    }
    return JSONResponse(body, status_code=503 if index_problem else 200)


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request) -> str:
    """The OpenAPI description as a plain page: no script, nothing loaded from elsewhere."""
    return docs_page(request.app.openapi())


__all__ = [
    "DESCRIPTION",
    "ERRORS",
    "ApiError",
    "AskRequest",
    "AskResult",
    "CitationOut",
    "FeedbackIn",
    "FeedbackOut",
    "RetrievedOut",
    "Turn",
    "ask",
    "docs",
    "feedback",
    "health",
    "http_error",
    "internal_error",
    "router",
    "validation_error",
]
