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
12), so a HIBC expiry is always the label's expiry.

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
    """A scanned HIBC label could not be read. ``zh`` (required) says the same
    as ``message`` in Chinese: the field, the value, what was expected."""

    def __init__(self, message: str, details: dict | None = None, *, zh: str):
        super().__init__(message, details, zh=zh)


# Chinese names of the fields and dates named in messages.
_NAMES_ZH = {
    "lot": "批号",
    "serial": "序列号",
    "lot number": "批号",
    "serial number": "序列号",
    "expiry": "失效日期",
    "expiry date": "失效日期",
    "production_date": "生产日期",
    "production date": "生产日期",
    "quantity": "数量",
}


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
            f"This is not a HIBC label: HIBC data starts with '+', got {text[:12]!r}.",
            {"code": "hibc_not_hibc"},
            zh=f"这不是 HIBC 标签：HIBC 数据以 '+' 开头，实为 {text[:12]!r}。",
        )
    _require_charset(text)
    if len(text) < 3:
        raise HibcError(
            f"The HIBC label {text!r} is too short to hold any data; rescan it.",
            {"code": "hibc_too_short"},
            zh=f"HIBC 标签 {text!r} 太短，不含任何数据；请重新扫描。",
        )

    data, check = text[:-1], text[-1]
    expected = mod43_check_char(data)
    if check != expected:
        raise HibcError(
            f"The HIBC check character is wrong: expected {_show(expected)}, "
            f"got {_show(check)}. The label may be damaged or misread; rescan it "
            "or enter the code by hand.",
            {"code": "hibc_check_char", "expected": expected, "got": check},
            zh=f"HIBC 校验字符错误：应为 {_show_zh(expected)}，实为 {_show_zh(check)}。"
            "标签可能已损坏或读取有误；请重新扫描或手工输入代码。",
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
                f"The HIBC secondary label {text!r} is too short; rescan it.",
                {"code": "hibc_too_short"},
                zh=f"HIBC 副标签 {text!r} 太短；请重新扫描。",
            )
        body, link = body[:-1], body[-1]
        secondary, *rest = body.split("/")
        fields = _parse_secondary(secondary)
    else:
        raise HibcError(
            f"Unrecognised HIBC label: after '+' expected a labeler code (letter) "
            f"or secondary data ('$' or a date), got {_show(body[:1])}.",
            {"code": "hibc_unrecognised"},
            zh=f"无法识别的 HIBC 标签：'+' 之后应为标签商代码（字母）或副数据"
            f"（'$' 或日期），实为 {_show_zh(body[:1])}。",
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
            zh="第一次扫描的 HIBC 标签没有产品代码；请先扫描主标签。",
        )
    if secondary.has_primary or secondary.link_char is None:
        code = f"{secondary.lic}{secondary.product_code}" if secondary.has_primary else None
        why = f"it carries the product code {code}" if code else "it has no link character"
        why_zh = f"它带有产品代码 {code}" if code else "它没有链接字符"
        raise HibcError(
            f"The second HIBC scan is not a secondary (lot/expiry) label: {why}.",
            {"code": "hibc_not_secondary"},
            zh=f"第二次扫描的 HIBC 标签不是副标签（批号/失效日期）：{why_zh}。",
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
            zh=f"这两个 HIBC 标签不属于同一产品：副标签的链接字符为 "
            f"{_show_zh(secondary.link_char)}，主标签的校验字符为 "
            f"{_show_zh(primary.check_char)}。",
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
            "or digits, and a 1-digit unit of measure.",
            {"code": "hibc_primary", "value": segment},
            zh=f"HIBC 产品数据 {segment!r} 格式错误：应为以字母开头的 4 位标签商代码、"
            "1 到 18 位字母或数字的产品代码，以及 1 位数字的计量单位。",
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
        f"The HIBC secondary data {segment!r} is not in a known format: expected "
        "'$' (lot), '$+' (serial), '$$' or '$$+' (with a date), or a 5-digit "
        "YYJJJ date.",
        {"code": "hibc_secondary", "value": segment},
        zh=f"HIBC 副数据 {segment!r} 不是已知格式：应为 '$'（批号）、'$+'（序列号）、"
        "'$$' 或 '$$+'（带日期），或 5 位 YYJJJ 日期。",
    )


def _parse_flagged(rest: str, name: str, segment: str) -> dict:
    """Read ``$$``/``$$+`` data: [quantity] [format flag + date], lot or serial."""
    if not rest[:1].isdigit():
        raise HibcError(
            f"The HIBC secondary data {segment!r} is malformed: after '$$' a digit "
            f"must say how the expiry date is written, got {_show(rest[:1])}.",
            {"code": "hibc_date_format", "value": segment},
            zh=f"HIBC 副数据 {segment!r} 格式错误：'$$' 之后须为说明失效日期写法的"
            f"数字，实为 {_show_zh(rest[:1])}。",
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
                zh=f"{segment!r} 中的 HIBC 数量在 '{rest[0]}' 之后必须是 {size} 位数字。",
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
                zh=f"HIBC 数量字段 '/{segment}' 必须是 1 到 8 位数字。",
            )
        return {"quantity": int(digits)}
    raise HibcError(
        f"Unknown HIBC data field '/{segment}': expected /S (serial), /14D (expiry), "
        "/16D (production date) or /Q (quantity).",
        {"code": "hibc_unknown_field", "value": segment},
        zh=f"未知的 HIBC 数据字段 '/{segment}'：应为 /S（序列号）、/14D（失效日期）、"
        "/16D（生产日期）或 /Q（数量）。",
    )


# --------------------------------------------------------------------------
# Values


def _lot_or_serial(value: str, name: str, *, required: bool = False) -> str | None:
    if not value and not required:
        return None
    if not _LOT_OR_SERIAL_RE.fullmatch(value):
        what = "lot number" if name == "lot" else "serial number"
        if not value:
            problem, problem_zh = "is missing", "缺失"
        elif len(value) > _LOT_OR_SERIAL_MAX:
            problem = (f"{value!r} is {len(value)} characters long; HIBC allows at "
                       f"most {_LOT_OR_SERIAL_MAX}")
            problem_zh = (f" {value!r} 长 {len(value)} 个字符；HIBC 最多允许 "
                          f"{_LOT_OR_SERIAL_MAX} 个")
        else:  # the charset check and the '/' split make this a safety net
            problem = f"{value!r} may only hold A-Z, 0-9, space and - . $ + %"
            problem_zh = f" {value!r} 只能包含 A-Z、0-9、空格和 - . $ + %"
        raise HibcError(
            f"The HIBC {what} {problem}.",
            {"code": f"hibc_{name}", "value": value},
            zh=f"HIBC {_NAMES_ZH[what]}{problem_zh}。",
        )
    return value


def _parse_date(raw: str, pattern: str, what: str) -> dt.date:
    """Turn ``raw`` written as ``pattern`` into a date; HIBC years are 20YY."""
    what_zh = _NAMES_ZH[what]
    if len(raw) != len(pattern) or not raw.isdigit():
        raise HibcError(
            f"The HIBC {what} {raw!r} is not a date in the form {pattern}.",
            {"code": "hibc_date", "value": raw, "format": pattern},
            zh=f"HIBC {what_zh} {raw!r} 不是 {pattern} 格式的日期。",
        )

    def part(letter: str) -> int:
        start = pattern.index(letter)
        return int(raw[start : start + pattern.count(letter)])

    year = part("Y") if "YYYY" in pattern else 2000 + part("Y")
    if "H" in pattern and part("H") > 23:
        # The hour is checked but dropped: stock is tracked by day.
        raise HibcError(
            f"The HIBC {what} {raw!r} ({pattern}) has hour {part('H'):02d}, "
            "which does not exist (00-23).",
            {"code": "hibc_date", "value": raw, "format": pattern},
            zh=f"HIBC {what_zh} {raw!r}（{pattern}）中的小时 {part('H'):02d} 不存在"
            "（应为 00-23）。",
        )
    if "J" in pattern:
        day_of_year = part("J")
        days_in_year = 366 if calendar.isleap(year) else 365
        if not 1 <= day_of_year <= days_in_year:
            raise HibcError(
                f"The HIBC {what} {raw!r} ({pattern}) has day {day_of_year} of "
                f"{year}, which does not exist (1-{days_in_year}).",
                {"code": "hibc_date", "value": raw, "format": pattern},
                zh=f"HIBC {what_zh} {raw!r}（{pattern}）中 {year} 年的第 {day_of_year} 天"
                f"不存在（应为 1-{days_in_year}）。",
            )
        return dt.date(year, 1, 1) + dt.timedelta(days=day_of_year - 1)

    month = part("M")
    if not 1 <= month <= 12:
        raise HibcError(
            f"The HIBC {what} {raw!r} ({pattern}) has month {month:02d}, "
            "which does not exist (01-12).",
            {"code": "hibc_date", "value": raw, "format": pattern},
            zh=f"HIBC {what_zh} {raw!r}（{pattern}）中的月份 {month:02d} 不存在"
            "（应为 01-12）。",
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
            zh=f"HIBC {what_zh} {raw!r}（{pattern}）中 {year}-{month:02d} 的日 "
            f"{day:02d} 不存在。",
        )
    return dt.date(year, month, day)


# --------------------------------------------------------------------------
# Helpers


def _require_charset(text: str) -> None:
    for position, char in enumerate(text, start=1):
        if char not in _MOD43_VALUE:
            lower = char.islower()
            hint = (" Lower-case letters usually mean Caps Lock is on at the computer "
                    "the scanner types into." if lower else "")
            hint_zh = "小写字母通常表示扫描枪所连接的电脑开启了大写锁定（Caps Lock）。" if lower else ""
            raise HibcError(
                f"The HIBC label contains {_show(char)} at position {position}, which "
                "HIBC does not allow (only A-Z, 0-9, space and - . $ / + %)." + hint,
                {"code": "hibc_character", "position": position, "char": char},
                zh=f"HIBC 标签第 {position} 个字符为 {_show_zh(char)}，HIBC 不允许该字符"
                "（只允许 A-Z、0-9、空格和 - . $ / + %）。" + hint_zh,
            )


def _merge_field(fields: dict, name: str, value: object) -> None:
    """Add a field, refusing a second, different value for the same field."""
    if fields.get(name) is not None and fields[name] != value:
        label = name.replace("_", " ")
        raise HibcError(
            f"The HIBC label gives two different values for the {label}: "
            f"{_show(fields[name])} and {_show(value)}.",
            {"code": "hibc_conflict", "field": name},
            zh=f"HIBC 标签为{_NAMES_ZH[name]}给出了两个不同的值："
            f"{_show_zh(fields[name])} 和 {_show_zh(value)}。",
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


def _show_zh(value: object) -> str:
    """:func:`_show` for the Chinese text: the same quoting, a space named."""
    return "' '（空格）" if value == " " else _show(value)
