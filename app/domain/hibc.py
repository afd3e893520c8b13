"""HIBC (Health Industry Bar Code) Supplier Labeling Standard parser.

No maintained Python library reads HIBCC labels, so this is our own. It reads

* a primary symbol:    ``+`` LIC, product code, unit of measure, check char;
* a secondary symbol:  ``+`` secondary data, link char, check char;
* a combined symbol:   ``+`` primary ``/`` secondary ``/`` supplemental ...
  check char (one check char over everything, no link char).

Secondary data forms (after the flag the lot or serial runs to the next ``/``):

=========  ===========================================================
``$``      lot
``$+``     serial
``$$``     format flag, expiry date, lot (see ``_DATE_FORMATS``)
``$$+``    format flag, expiry date, serial
``$$8``    2-digit quantity, optional format flag + date, lot
``$$9``    5-digit quantity, optional format flag + date, lot
``YYJJJ``  (legacy) Julian expiry date, then lot
=========  ===========================================================

Supplemental fields: ``/S`` serial, ``/14D`` expiry YYYYMMDD, ``/16D``
production date YYYYMMDD, ``/Q`` quantity. These are the only dates HIBC
carries: it has no best-before, sell-by or due date as GS1 does (AIs 15, 16,
12), so an HIBC expiry is always the label's expiry.

Lot and serial numbers are 1 to 18 characters of the HIBC set except ``/``
(the field separator): ``A-Z 0-9 - . space $ + %``. The flags above are read
only at the start of the secondary data; inside a lot or serial the same
characters are data (``$$3300531LOT$1`` has lot ``LOT$1``), which is why a
lot written after ``$`` cannot itself start with ``$`` or ``+``.

Everything raises :class:`HibcError` with a message a person can act on.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace

from app.domain.errors import ValidationFailed

__all__ = [
    "LOT_OR_SERIAL_CHARS",
    "MOD43_CHARSET",
    "HibcData",
    "HibcError",
    "combine_hibc",
    "mod43_check_char",
    "parse_hibc",
]

#: The characters HIBC data may use; a character's index is its mod-43 value.
MOD43_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
_MOD43_VALUE = {char: value for value, char in enumerate(MOD43_CHARSET)}

_PRIMARY_RE = re.compile(r"[A-Z][A-Z0-9]{3}[A-Z0-9]{1,18}[0-9]")
# Lot and serial characters: the whole HIBC set but '/', which ends a field.
LOT_OR_SERIAL_CHARS = MOD43_CHARSET.replace("/", "")
_LOT_OR_SERIAL_MAX = 18
_LOT_CHAR = "[" + re.escape(LOT_OR_SERIAL_CHARS) + "]"
_LOT_OR_SERIAL_RE = re.compile(f"{_LOT_CHAR}{{1,{_LOT_OR_SERIAL_MAX}}}")
_LEGACY_JULIAN_RE = re.compile(rf"(\d{{5}})({_LOT_CHAR}{{0,13}})")

# Format flag after ``$$`` -> (pattern name, digit count). Flags 0 and 1 are
# not really flags: they are the first digit of an MMYY month.
_DATE_FORMATS = {
    "2": ("MMDDYY", 6),
    "3": ("YYMMDD", 6),
    "4": ("YYMMDDHH", 8),
    "5": ("YYJJJ", 5),
    "6": ("YYJJJHH", 7),
}


class HibcError(ValidationFailed):
    """A scanned HIBC label could not be read."""


@dataclass(frozen=True)
class HibcData:
    """What one HIBC symbol (or a linked primary + secondary pair) carries.

    ``lic`` is ``None`` for a stand-alone secondary symbol; ``link_char`` is
    only set for one (it must equal the primary symbol's ``check_char``).
    """

    check_char: str
    lic: str | None = None
    product_code: str | None = None
    unit_of_measure: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: dt.date | None = None
    production_date: dt.date | None = None
    quantity: int | None = None
    link_char: str | None = None

    @property
    def has_primary(self) -> bool:
        return self.lic is not None


def mod43_check_char(data: str) -> str:
    """Return the modulo-43 check character for ``data`` (which includes the ``+``)."""
    _require_charset(data)
    return MOD43_CHARSET[sum(_MOD43_VALUE[char] for char in data) % 43]


def parse_hibc(text: str) -> HibcData:
    """Parse one HIBC symbol's data, starting with ``+``; raise :class:`HibcError`."""
    # Code 39 captions are printed between asterisks; some scanners keep them.
    if len(text) > 2 and text.startswith("*") and text.endswith("*"):
        text = text[1:-1]
    if not text.startswith("+"):
        raise HibcError(
            "This is not a HIBC label: HIBC data starts with '+'.",
            {"code": "hibc_not_hibc"},
        )
    _require_charset(text)
    if len(text) < 3:
        raise HibcError(
            "The HIBC label is too short to hold any data; rescan it.",
            {"code": "hibc_too_short"},
        )

    data, check = text[:-1], text[-1]
    expected = mod43_check_char(data)
    if check != expected:
        raise HibcError(
            f"The HIBC check character is wrong: expected {_show(expected)}, "
            f"got {_show(check)}. The label may be damaged or misread; rescan it "
            "or enter the code by hand.",
            {"code": "hibc_check_char", "expected": expected, "got": check},
        )

    body = data[1:]
    if body[:1].isalpha():
        # Primary symbol, alone or with secondary data behind a '/'.
        primary, *rest = body.split("/")
        fields = _parse_primary(primary)
        link = None
        if rest and _is_secondary(rest[0]):
            fields.update(_parse_secondary(rest.pop(0)))
    elif body[:1] == "$" or body[:1].isdigit():
        # Stand-alone secondary symbol: the link character (the primary's
        # check character) sits just before the check character. It may be a
        # '/', so it comes off before the body is split into fields.
        if len(body) < 2:
            raise HibcError(
                "The HIBC secondary label is too short; rescan it.",
                {"code": "hibc_too_short"},
            )
        body, link = body[:-1], body[-1]
        secondary, *rest = body.split("/")
        fields = _parse_secondary(secondary)
    else:
        raise HibcError(
            f"Unrecognised HIBC label: after '+' expected a labeler code (letter) "
            f"or secondary data ('$' or a date), got {_show(body[:1])}.",
            {"code": "hibc_unrecognised"},
        )

    for segment in rest:
        for name, value in _parse_supplemental(segment).items():
            _merge_field(fields, name, value)

    return HibcData(check_char=check, link_char=link, **fields)


def combine_hibc(primary: HibcData, secondary: HibcData) -> HibcData:
    """Join a primary and a stand-alone secondary symbol scanned one after another.

    The secondary's link character must match the primary's check character,
    or the two labels belong to different products.
    """
    if not primary.has_primary:
        raise HibcError(
            "The first HIBC scan has no product code; scan the primary label first.",
            {"code": "hibc_no_primary"},
        )
    if secondary.has_primary or secondary.link_char is None:
        raise HibcError(
            "The second HIBC scan is not a secondary (lot/expiry) label.",
            {"code": "hibc_not_secondary"},
        )
    if secondary.link_char != primary.check_char:
        raise HibcError(
            "These two HIBC labels do not belong together: the secondary label's "
            f"link character is {_show(secondary.link_char)}, the primary label's "
            f"check character is {_show(primary.check_char)}.",
            {
                "code": "hibc_link_mismatch",
                "expected": primary.check_char,
                "got": secondary.link_char,
            },
        )
    fields = {
        name: getattr(primary, name)
        for name in ("lot", "serial", "expiry", "production_date", "quantity")
        if getattr(primary, name) is not None
    }
    for name in ("lot", "serial", "expiry", "production_date", "quantity"):
        value = getattr(secondary, name)
        if value is not None:
            _merge_field(fields, name, value)
    return replace(primary, **fields)


# --------------------------------------------------------------------------
# Structures


def _parse_primary(segment: str) -> dict:
    if not _PRIMARY_RE.fullmatch(segment):
        raise HibcError(
            f"The HIBC product data {segment!r} is malformed: expected a 4-character "
            "labeler code starting with a letter, a product code of 1 to 18 letters "
            "or digits, and a one-digit unit of measure.",
            {"code": "hibc_primary", "value": segment},
        )
    return {
        "lic": segment[:4],
        "product_code": segment[4:-1],
        "unit_of_measure": segment[-1],
    }


def _is_secondary(segment: str) -> bool:
    return segment.startswith("$") or bool(re.match(r"\d{5}", segment))


def _parse_secondary(segment: str) -> dict:
    if segment.startswith("$$+"):
        return _parse_flagged(segment[3:], "serial", segment)
    if segment.startswith("$$"):
        return _parse_flagged(segment[2:], "lot", segment)
    if segment.startswith("$+"):
        return {"serial": _lot_or_serial(segment[2:], "serial", required=True)}
    if segment.startswith("$"):
        return {"lot": _lot_or_serial(segment[1:], "lot", required=True)}
    match = _LEGACY_JULIAN_RE.fullmatch(segment)
    if match:
        # Pre-'$' secondary: YYJJJ expiry then an optional lot of up to 13.
        fields = {"expiry": _parse_date(match.group(1), "YYJJJ", "expiry date")}
        if match.group(2):
            fields["lot"] = match.group(2)
        return fields
    raise HibcError(
        f"The HIBC secondary data {segment!r} is not in a known format.",
        {"code": "hibc_secondary", "value": segment},
    )


def _parse_flagged(rest: str, name: str, segment: str) -> dict:
    """Read ``$$``/``$$+`` data: [quantity] [format flag + date], lot or serial."""
    if not rest[:1].isdigit():
        raise HibcError(
            f"The HIBC secondary data {segment!r} is malformed: after '$$' a digit "
            "must say how the expiry date is written.",
            {"code": "hibc_date_format", "value": segment},
        )
    fields: dict = {}
    if rest[0] in "89":
        size = 2 if rest[0] == "8" else 5
        digits = rest[1 : 1 + size]
        if len(digits) != size or not digits.isdigit():
            raise HibcError(
                f"The HIBC quantity in {segment!r} must be {size} digits after "
                f"'{rest[0]}'.",
                {"code": "hibc_quantity", "value": segment},
            )
        fields["quantity"] = int(digits)
        rest = rest[1 + size :]
        # The date is optional after a quantity: only a date flag starts one.
        if not rest[:1] or rest[0] not in "01234567":
            fields[name] = _lot_or_serial(rest, name)
            return _drop_none(fields)

    flag = rest[0]
    if flag in "01":  # MMYY: the flag is the month's first digit
        raw, rest = rest[:4], rest[4:]
        fields["expiry"] = _parse_date(raw, "MMYY", "expiry date")
    elif flag == "7":  # no expiry date
        rest = rest[1:]
    else:
        pattern, size = _DATE_FORMATS[flag]
        raw, rest = rest[1 : 1 + size], rest[1 + size :]
        fields["expiry"] = _parse_date(raw, pattern, "expiry date")
    fields[name] = _lot_or_serial(rest, name)
    return _drop_none(fields)


def _parse_supplemental(segment: str) -> dict:
    if segment.startswith("14D"):
        return {"expiry": _parse_date(segment[3:], "YYYYMMDD", "expiry date")}
    if segment.startswith("16D"):
        return {"production_date": _parse_date(segment[3:], "YYYYMMDD", "production date")}
    if segment.startswith("S"):
        return {"serial": _lot_or_serial(segment[1:], "serial", required=True)}
    if segment.startswith("Q"):
        digits = segment[1:]
        if not (digits.isdigit() and len(digits) <= 8):
            raise HibcError(
                f"The HIBC quantity field '/{segment}' must be 1 to 8 digits.",
                {"code": "hibc_quantity", "value": segment},
            )
        return {"quantity": int(digits)}
    raise HibcError(
        f"Unknown HIBC data field '/{segment}': expected /S (serial), /14D (expiry), "
        "/16D (production date) or /Q (quantity).",
        {"code": "hibc_unknown_field", "value": segment},
    )


# --------------------------------------------------------------------------
# Values


def _lot_or_serial(value: str, name: str, *, required: bool = False) -> str | None:
    if not value and not required:
        return None
    if not _LOT_OR_SERIAL_RE.fullmatch(value):
        what = "lot number" if name == "lot" else "serial number"
        if not value:
            problem = "is missing"
        elif len(value) > _LOT_OR_SERIAL_MAX:
            problem = (f"{value!r} is {len(value)} characters long; HIBC allows at "
                       f"most {_LOT_OR_SERIAL_MAX}")
        else:  # the charset check and the '/' split make this a safety net
            problem = (f"{value!r} may only hold A-Z, 0-9, space and - . $ + %")
        raise HibcError(
            f"The HIBC {what} {problem}.",
            {"code": f"hibc_{name}", "value": value},
        )
    return value


def _parse_date(raw: str, pattern: str, what: str) -> dt.date:
    """Turn ``raw`` written as ``pattern`` into a date; HIBC years are 20YY."""
    if len(raw) != len(pattern) or not raw.isdigit():
        raise HibcError(
            f"The HIBC {what} {raw!r} is not a date in the form {pattern}.",
            {"code": "hibc_date", "value": raw, "format": pattern},
        )

    def part(letter: str) -> int:
        start = pattern.index(letter)
        return int(raw[start : start + pattern.count(letter)])

    year = part("Y") if "YYYY" in pattern else 2000 + part("Y")
    if "H" in pattern and part("H") > 23:
        # The hour is checked but dropped: stock is tracked by day.
        raise HibcError(
            f"The HIBC {what} {raw!r} ({pattern}) has hour {part('H'):02d}, "
            "which does not exist.",
            {"code": "hibc_date", "value": raw, "format": pattern},
        )
    if "J" in pattern:
        day_of_year = part("J")
        days_in_year = 366 if calendar.isleap(year) else 365
        if not 1 <= day_of_year <= days_in_year:
            raise HibcError(
                f"The HIBC {what} {raw!r} ({pattern}) has day {day_of_year} of "
                f"{year}, which does not exist.",
                {"code": "hibc_date", "value": raw, "format": pattern},
            )
        return dt.date(year, 1, 1) + dt.timedelta(days=day_of_year - 1)

    month = part("M")
    if not 1 <= month <= 12:
        raise HibcError(
            f"The HIBC {what} {raw!r} ({pattern}) has month {month:02d}, "
            "which does not exist.",
            {"code": "hibc_date", "value": raw, "format": pattern},
        )
    if "D" not in pattern:
        # MMYY: a product dated by month is good until that month's last day
        # (the same reading GS1 gives a day of 00).
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    day = part("D")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise HibcError(
            f"The HIBC {what} {raw!r} ({pattern}) has day {day:02d} in "
            f"{year}-{month:02d}, which does not exist.",
            {"code": "hibc_date", "value": raw, "format": pattern},
        )
    return dt.date(year, month, day)


# --------------------------------------------------------------------------
# Helpers


def _require_charset(text: str) -> None:
    for position, char in enumerate(text, start=1):
        if char not in _MOD43_VALUE:
            hint = (
                " Lower-case letters usually mean Caps Lock is on at the scanner's "
                "computer."
                if char.islower()
                else ""
            )
            raise HibcError(
                f"The HIBC label contains {_show(char)} at position {position}, which "
                "HIBC does not allow (only A-Z, 0-9, space and - . $ / + %)." + hint,
                {"code": "hibc_character", "position": position, "char": char},
            )


def _merge_field(fields: dict, name: str, value: object) -> None:
    """Add a field, refusing a second, different value for the same field."""
    if fields.get(name) is not None and fields[name] != value:
        label = name.replace("_", " ")
        raise HibcError(
            f"The HIBC label gives two different values for the {label}: "
            f"{_show(fields[name])} and {_show(value)}.",
            {"code": "hibc_conflict", "field": name},
        )
    fields[name] = value


def _drop_none(fields: dict) -> dict:
    return {name: value for name, value in fields.items() if value is not None}


def _show(value: object) -> str:
    """Quote a value for a message; a space check character is otherwise invisible."""
    if value == " ":
        return "' ' (a space)"
    if isinstance(value, dt.date):
        return value.isoformat()
    return f"'{value}'"
