"""Named domain errors. The API maps each class to one HTTP status."""
from __future__ import annotations


class DomainError(Exception):
    """Base class: ``message`` is meant for a person; ``details`` for a client.

    ``zh`` is the same message in Simplified Chinese, where one is written; the
    API answers in the user's language and gives both under ``messages``.
    """

    status = 422

    def __init__(self, message: str, details: dict | list | None = None, zh: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.zh = zh

    def in_language(self, lang: str) -> str:
        return self.zh if lang == "zh" and self.zh else self.message

    def to_dict(self, lang: str = "en") -> dict:
        body = {"message": self.in_language(lang)}
        if self.zh:
            body["messages"] = {"en": self.message, "zh": self.zh}
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


class DocumentInvalid(ValidationFailed):
    """Several lines of a document are wrong: every problem is listed, nothing is posted."""


class Problems(list):
    """What is wrong with a document, line by line, in English and Chinese; the
    whole list is reported at once and nothing is posted."""

    def line(self, number: int, problem: "DomainError | str", zh: str | None = None,
             label: str = "") -> None:
        en_text = problem.message if isinstance(problem, DomainError) else problem
        zh_text = problem.in_language("zh") if isinstance(problem, DomainError) else (zh or problem)
        tag = f" ({label})" if label else ""
        self.append((f"line {number}{tag}: {en_text}", f"第 {number} 行{tag}：{zh_text}"))

    def raise_if_any(self, cls: type, prefix: tuple[str, str] = ("", "")) -> None:
        if self:
            raise cls(prefix[0] + "; ".join(en for en, _ in self),
                      details={"problems": [en for en, _ in self]},
                      zh=prefix[1] + "；".join(zh for _, zh in self))
