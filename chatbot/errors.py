"""Every error the library raises. Only the CLI, the HTTP API and the UI turn them into text."""


class ChatbotError(Exception):
    """Base class of the chatbot's own errors."""


class InvalidQuestion(ChatbotError):
    """The question cannot be answered as given (empty, too long, wrong language...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        # `reason` is a stable code the UI maps to a French message: empty, too_long, not_french
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class CorpusError(ChatbotError):
    """The corpus folder cannot be indexed (missing, empty, nothing readable)."""


class IndexMissing(ChatbotError):
    """No built index where one was expected."""


class IndexMismatch(ChatbotError):
    """The built index does not match this code, model or corpus: it must be rebuilt."""


class ModelError(ChatbotError):
    """The embedding model cannot be assembled or loaded."""


class QuestionFileError(ChatbotError):
    """A question file for the evaluation is malformed."""


class FeedbackError(ChatbotError):
    """A vote cannot be stored or read (bad value, unknown id, unreadable database)."""


class FeedbackUnavailable(FeedbackError):
    """The vote store cannot be used: its folder, file or disk is at fault, not the vote."""


class ResultFileError(ChatbotError):
    """A result file given to the evaluation (e.g. `--compare OLD.jsonl`) is malformed."""


class GenerationError(ChatbotError):
    """The server gave no usable answer; `GenerativeAnswerer` falls back, never raises it."""

    def __init__(self, reason: str, detail: str) -> None:
        # `reason`: unreachable, timeout, http_status, garbage, server_error, cut, truncated,
        # empty -- a stable code for notes and logs.
        self.reason = reason
        super().__init__(f"{reason}: {detail}")
