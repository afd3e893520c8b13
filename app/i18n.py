"""One way to speak the user's language.

Every user-facing string is a label with an English and a Chinese text
(``{"en": ..., "zh": ...}``): metadata labels, page texts, PDF labels and the
messages of domain errors alike. ``current_language`` says which one to show,
``pick`` chooses it, ``lazy`` defers the choice to the request that renders it.

Times are stored in UTC; people read them in the business's time zone
(``MEDTRACE_TIMEZONE``), to the minute: ``business_zone`` and ``local_time``.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context, has_request_context, request, session
from flask_babel import LazyString

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
DEFAULT_TIMEZONE = "Asia/Shanghai"
Label = Mapping[str, str]
UTC = dt.timezone.utc


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


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a start-up error naming the setting."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"MEDTRACE_TIMEZONE={name!r} is not a known time zone "
                         "(an IANA name such as Asia/Shanghai or UTC)") from exc


def business_zone() -> ZoneInfo:
    """The zone times are shown in: the app's ``MEDTRACE_TIMEZONE``."""
    name = current_app.config.get("MEDTRACE_TIMEZONE") if has_app_context() else None
    return zone_named(name or DEFAULT_TIMEZONE)


def local_time(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """A stored (naive UTC) time as people read it: local, to the minute."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(zone or business_zone()).strftime("%Y-%m-%d %H:%M")


def zone_text(zone: dt.tzinfo | None = None, at: dt.datetime | None = None) -> str:
    """The zone as a column header names it: ``Asia/Shanghai, UTC+08:00``."""
    zone = zone or business_zone()
    offset = (at or dt.datetime.now(UTC)).astimezone(zone).strftime("%z")
    name = getattr(zone, "key", str(zone))
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return name if name in ("UTC", utc) else f"{name}, {utc}"


def to_utc(value: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    """A local (naive) time a person entered, as stored: naive UTC."""
    return value.replace(tzinfo=zone or business_zone()).astimezone(UTC).replace(tzinfo=None)
