"""Values as a person reads them, on every generated screen, export and the
audit trail: labels, not keys (``lot_serial`` → "By lot and serial number");
Yes / No, not True / False; nothing, not None; ``10``, not ``10.0000``; local
times to the minute, not UTC microseconds."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.quantities import format_quantity
from app.i18n import local_time, pick
from app.meta.model import FieldMeta

YES_NO = {True: {"en": "Yes", "zh": "是"}, False: {"en": "No", "zh": "否"}}
# money and the like keep their places (12.50); quantities and measures drop
# trailing zeros (10, 2.5), so a unit count never reads 10.0000
FIXED_SCALE_MAX = 2


def decimal_text(value: Decimal | float | int, scale: int = 4) -> str:
    value = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if scale <= FIXED_SCALE_MAX:
        return f"{value:.{scale}f}"
    return format_quantity(value)


def value_text(value: Any, f: FieldMeta | None = None, lang: str = "en",
               zone: dt.tzinfo | None = None) -> str:
    """``value`` of field ``f`` (None: guess from the value) in ``lang``."""
    if value is None or value == "":
        return ""
    if f is not None and f.type == "enum":
        return pick(f.option_label(str(value)), lang) or str(value)
    if isinstance(value, bool):
        return pick(YES_NO[value], lang)
    if isinstance(value, (Decimal, float)):
        return decimal_text(value, f.scale if f is not None else 4)
    if isinstance(value, dt.datetime):
        return local_time(value, zone)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def stored_text(text: str | None, f: FieldMeta | None, lang: str = "en",
                zone: dt.tzinfo | None = None) -> str:
    """A value as the audit trail stored it (text) read back as ``f`` shows it."""
    if text is None or text == "":
        return ""
    if f is None:
        return text
    try:
        if f.type == "bool":
            return pick(YES_NO[text in ("True", "true", "1")], lang)
        if f.type == "decimal":
            return decimal_text(Decimal(text), f.scale)
        if f.type == "datetime":
            return local_time(dt.datetime.fromisoformat(text), zone)
    except (InvalidOperation, ValueError):
        return text
    return value_text(text, f, lang, zone)
