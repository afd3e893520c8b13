"""Named domain errors. The API maps each class to one HTTP status."""
from __future__ import annotations


class DomainError(Exception):
    """Base class: ``message`` is meant for a person; ``details`` for a client."""

    status = 422

    def __init__(self, message: str, details: dict | list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        body = {"message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    """Input is malformed or breaks a rule; nothing was changed."""

    status = 422


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    """The request is valid but the document's current state does not allow it."""

    status = 409
