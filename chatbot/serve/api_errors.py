"""The HTTP API's errors in French: `{"detail": <French text>, "code": <stable code>, "errors"}`.

FastAPI's own answers (a wrong field, an unknown method, an unexpected exception) are turned
into one French sentence a site can show as it is; `code` is for programs.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from chatbot import texts_fr

log = logging.getLogger("chatbot")


class ApiError(BaseModel):
    detail: str = Field(description="Message en français, à montrer tel quel.")
    code: str = Field(
        description="Code stable : json_invalid, empty, too_long, missing, string_type…"
    )
    errors: list[dict[str, Any]] = Field(default_factory=list)


# The error answers every route documents.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "JSON invalide, question vide ou trop longue"},
    403: {"model": ApiError, "description": "Site non autorisé (en-tête Origin)"},
    413: {"model": ApiError, "description": "Requête trop volumineuse"},
    422: {"model": ApiError, "description": "Champ manquant ou de mauvais type"},
    429: {"model": ApiError, "description": "Trop de demandes de ce client ; voir Retry-After"},
    503: {"model": ApiError, "description": "Service occupé ou dégradé ; réessayer plus tard"},
}

# FastAPI's own HTTP errors (an unknown method, a body it cannot parse) in French.
_HTTP_CODES = {400: "json_invalid", 404: "not_found", 405: "method"}


def error_response(status: int, detail: str, code: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors, as one French sentence per wrong field."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    messages = [_error_message(e) for e in errors]
    json_invalid = any(e.get("type") == "json_invalid" for e in errors)
    code = (
        "json_invalid"
        if json_invalid
        else str(errors[0].get("type", "invalid"))
        if errors
        else "invalid"
    )
    details = [
        {"field": ".".join(str(x) for x in e.get("loc", ())[1:]), "type": e.get("type")}
        for e in errors
    ]
    return JSONResponse(
        {"detail": " ".join(dict.fromkeys(messages)), "code": code, "errors": details},
        status_code=400 if json_invalid else 422,
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status_code", 500))
    code = _HTTP_CODES.get(status, "internal")
    detail = texts_fr.REQUEST_ERRORS[code].format(path=request.url.path[:100])
    return error_response(status, detail, code)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected: logged with its traceback, answered in French, never shown."""
    log.error("Erreur interne sur %s", request.url.path, exc_info=exc)
    return error_response(500, texts_fr.REQUEST_ERRORS["internal"], "internal")


def _error_message(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    loc = [str(x) for x in error.get("loc", ())[1:]]  # drop "body"
    if kind == "json_invalid":
        return texts_fr.API_ERRORS["json_invalid"]
    if not loc:  # the body itself is not an object
        return texts_fr.API_ERRORS["body"]
    field = ".".join(loc)
    if kind == "literal_error":
        allowed = str((error.get("ctx") or {}).get("expected", "")).replace(" or ", " ou ")
        return texts_fr.API_ERRORS["literal_error"].format(field=field, allowed=allowed)
    if kind in ("string_too_long", "too_long"):
        return texts_fr.API_ERRORS["too_long"].format(field=field)
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        kind = "dict_type"
    template = texts_fr.API_ERRORS.get(kind, texts_fr.API_ERRORS["other"])
    return template.format(field=field)
