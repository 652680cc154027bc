"""A French question-answering assistant that answers from an association's documents, with citations.

Stages, in the order data moves: ingest -> chunk -> index -> retrieve -> answer -> engine.
"""

from chatbot.config import Settings
from chatbot.errors import (
    ChatbotError,
    CorpusError,
    IndexMismatch,
    IndexMissing,
    InvalidQuestion,
    ModelError,
    QuestionFileError,
)
from chatbot.records import Answer, Chunk, Citation, Document, Hit

__all__ = [
    "Answer",
    "ChatbotError",
    "Chunk",
    "Citation",
    "CorpusError",
    "Document",
    "Hit",
    "IndexMismatch",
    "IndexMissing",
    "InvalidQuestion",
    "ModelError",
    "QuestionFileError",
    "Settings",
]
