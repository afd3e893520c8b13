"""One way to speak the user's language.

Every user-facing string is a label with an English and a Chinese text
(``{"en": ..., "zh": ...}``): metadata labels, page texts, PDF labels and the
messages of domain errors alike. ``current_language`` says which one to show,
``pick`` chooses it, ``lazy`` defers the choice to the request that renders it.
"""
from __future__ import annotations

from typing import Mapping

from flask import has_request_context, request, session
from flask_babel import LazyString

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
Label = Mapping[str, str]


def current_language() -> str:
    """The language the user picked in the UI (the flag in the top bar), else
    the one the client's Accept-Language prefers (scripts using a JWT), else
    English. Outside a request: English."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    picked = session.get("locale")
    if picked in LANGUAGES:
        return picked
    if request.accept_languages:
        return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def pick(label: Label | None, lang: str | None = None) -> str:
    """The text of ``label`` in ``lang`` (default: the current language)."""
    if not label:
        return ""
    lang = lang or current_language()
    return label.get(lang) or label.get(DEFAULT_LANGUAGE) or ""


def lazy(label: Label) -> LazyString:
    """A label that renders in the language of the request that shows it."""
    return LazyString(pick, label)


class Texts:
    """A page's catalog of labels: ``t('pending')`` or ``t('more', n=3)`` in one language."""

    def __init__(self, catalog: Mapping[str, Label], lang: str | None = None):
        self.catalog = catalog
        self.lang = lang or current_language()

    def __call__(self, key: str, **values) -> str:
        text = pick(self.catalog[key], self.lang)
        return text.format(**values) if values else text

    def count(self, key: str, n: int, **values) -> str:
        """``key_one`` for exactly one, where the catalog has it; else ``key``."""
        if n == 1 and f"{key}_one" in self.catalog:
            return self(f"{key}_one", n=n, **values)
        return self(key, n=n, **values)

    def subset(self, keys) -> dict[str, str]:
        """Texts a page's script needs, resolved now."""
        return {k: self(k) for k in keys}
