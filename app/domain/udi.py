"""Read a UDI (Unique Device Identification) barcode scan into one shape.

Two issuing systems appear on our stock:

* GS1: element strings (``01…17…10…``), human-readable text with
  parentheses, GS1 Digital Link URIs and plain GTINs. Parsing is done by
  ``biip``; this module picks the fields we keep and turns biip's errors
  into messages a warehouse clerk can act on.
* HIBCC: labels starting with ``+``, read by :mod:`app.domain.hibc`.

Entry points: :func:`parse_udi` for one scan, :func:`parse_hibc_pair` for a
HIBC product printed as two separate linear barcodes.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.symbology import GS1Symbology, SymbologyIdentifier
from biip.upc import Upc

from app.domain.errors import ValidationFailed
from app.domain.hibc import HibcData, HibcError, combine_hibc, parse_hibc

__all__ = ["UdiData", "UdiError", "parse_hibc_pair", "parse_udi"]

GROUP_SEPARATOR = "\x1d"

# AIs we keep, and what each becomes on UdiData. Each date AI has its own
# field: a sell-by or due date is not a best-before date, and the caller
# decides which of them may stand in for an expiry (see expiry_or_best_before).
_DATE_FIELDS = {
    "17": "expiry",
    "15": "best_before",
    "16": "sell_by",
    "12": "due_date",
    "11": "production_date",
}
_TEXT_FIELDS = {"10": "lot", "21": "serial"}
_COUNT_AIS = ("30", "37")

# Words for AIs in error messages; other AIs use biip's data title.
_AI_NAMES = {
    "01": "GTIN",
    "10": "lot",
    "11": "production date",
    "12": "due date",
    "13": "packaging date",
    "15": "best before date",
    "16": "sell by date",
    "17": "expiry date",
    "21": "serial number",
    "30": "quantity",
    "37": "quantity",
}
_AI_NAMES_ZH = {
    "01": "GTIN",
    "10": "批号",
    "11": "生产日期",
    "12": "付款截止日期",
    "13": "包装日期",
    "15": "最佳使用日期",
    "16": "销售截止日期",
    "17": "失效日期",
    "21": "序列号",
    "30": "数量",
    "37": "数量",
}
_DATE_AIS = {"11", "12", "13", "15", "16", "17"}
_PLAIN_GTIN_LENGTHS = (8, 12, 13, 14)
# What an X field (lot, serial) may hold: GS1 character set 82 has no space.
_X_CHARACTERS = (
    "characters of the GS1 set (letters, digits, common punctuation; no spaces)",
    "个 GS1 字符集中的字符（字母、数字、常用标点；不含空格）",
)
_HRI_RE = re.compile(r"(?:\(\d{2,4}\)[^()]+)+")


class UdiError(ValidationFailed):
    """A scan is not a readable UDI. ``message`` says what is wrong and ``zh``
    says the same in Chinese (the field, the value, what was expected);
    ``zh`` is required so that no raise site can forget it."""

    def __init__(self, message: str, details: dict | None = None, *, zh: str):
        super().__init__(message, details or {}, zh=zh)


@dataclass(frozen=True)
class UdiData:
    """The identifiers a UDI scan carries. Only ``scheme`` and ``di`` are always set.

    ``di`` is the device identifier: the 14-digit GTIN for GS1, LIC + product
    code for HIBC.

    Dates, each exactly as the label states it (GS1 day ``00`` = last day of
    the month):

    ===============  ======  ============================================
    field            GS1 AI  HIBC
    ===============  ======  ============================================
    expiry           17      ``$$`` date or ``/14D`` (its only expiry)
    best_before      15      -- (HIBC labels have no best-before field)
    sell_by          16      --
    due_date         12      --
    production_date  11      ``/16D``
    ===============  ======  ============================================

    ``expiry`` is never filled from another AI; :attr:`expiry_or_best_before`
    gives the date to record as the device's expiry when the product allows a
    best-before date to stand in for it.
    """

    scheme: Literal["gs1", "hibc"]
    di: str
    gtin: str | None = None
    lic: str | None = None
    product_code: str | None = None
    unit_of_measure: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: dt.date | None = None
    production_date: dt.date | None = None
    best_before: dt.date | None = None
    sell_by: dt.date | None = None
    due_date: dt.date | None = None
    quantity: int | None = None

    @property
    def expiry_or_best_before(self) -> dt.date | None:
        """The date to record as the device's expiry: AI 17 if the scan has
        one, else AI 15 (best before), else None.

        Many devices carry only a best-before date. Whether it may stand in
        for the expiry is the caller's decision per product (the receipt
        service); this property only says which date that would be. Sell-by
        (AI 16) and due (AI 12) dates are never used: they say when to sell
        or pay, not until when the device may be used.
        """
        return self.expiry if self.expiry is not None else self.best_before

    def to_dict(self) -> dict:
        """Present fields only; dates as ISO strings. Derived values such as
        :attr:`expiry_or_best_before` are not included."""
        out = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            out[field.name] = value.isoformat() if isinstance(value, dt.date) else value
        return out


def parse_udi(barcode: str, *, separator_chars: str = GROUP_SEPARATOR) -> UdiData:
    """Parse one scan (GS1 or HIBC) into :class:`UdiData`; raise :class:`UdiError`.

    ``separator_chars`` are the characters the scanner sends between GS1
    fields. Keyboard-wedge scanners often cannot type GS (0x1D) and send e.g.
    ``|`` or ``~`` instead; GS itself is always accepted too.
    """
    if not isinstance(barcode, str):
        raise UdiError(
            f"Nothing readable was scanned: expected text, got {type(barcode).__name__}.",
            {"code": "empty"},
            zh=f"未扫描到可读取的内容：应为文本，实为 {type(barcode).__name__}。",
        )
    # Scanners append CR/LF or tabs. Trailing spaces are left for now: a
    # space can be a HIBC check character.
    text = barcode.strip("\r\n\t\x00").lstrip(" ")
    if not text.strip():
        raise _empty_error()

    symbology, body = _split_symbology(text)
    if body.lstrip("*").startswith("+"):
        return _from_hibc(_parse_hibc_lenient(body))

    body = body.strip(" ")
    config = ParseConfig(separator_chars=tuple(dict.fromkeys(GROUP_SEPARATOR + separator_chars)))
    # Some scanners send the leading FNC1 as a separator.
    body = body.lstrip("".join(config.separator_chars))
    if not body:
        raise _empty_error()

    if body.startswith("("):
        return _from_elements(_parse_hri(body, config))
    if body.lower().startswith(("http://", "https://")):
        return _from_elements(_parse_digital_link(body, config))
    if _looks_like_plain_gtin(body, symbology):
        return _from_plain_gtin(body, symbology, config)
    return _from_elements(_parse_element_string(body, config))


def _empty_error() -> UdiError:
    return UdiError(
        "Nothing was scanned: the barcode data is empty.",
        {"code": "empty"},
        zh="未扫描到内容：条码数据为空。",
    )


def parse_hibc_pair(primary: str, secondary: str) -> UdiData:
    """Join a HIBC primary and secondary barcode scanned separately.

    The secondary's link character must match the primary's check character.
    """
    try:
        first = _parse_hibc_lenient(_split_symbology(primary.strip("\r\n\t").lstrip(" "))[1])
        second = _parse_hibc_lenient(_split_symbology(secondary.strip("\r\n\t").lstrip(" "))[1])
        return _from_hibc(combine_hibc(first, second))
    except HibcError as exc:
        raise _from_hibc_error(exc) from exc


# --------------------------------------------------------------------------
# Routing


def _split_symbology(text: str) -> tuple[SymbologyIdentifier | None, str]:
    """Strip an AIM symbology identifier (``]d2``, ``]C1`` …) if the scanner sent one."""
    if not text.startswith("]"):
        return None, text
    try:
        symbology = SymbologyIdentifier.extract(text)
    except (ParseError, IndexError, ValueError) as exc:
        raise UdiError(
            f"Unrecognised barcode format: the scan starts with {text[:3]!r}, which is "
            "not a known symbology identifier.",
            {"code": "unrecognised"},
            zh=f"无法识别的条码格式：扫描内容以 {text[:3]!r} 开头，这不是已知的符号标识符。",
        ) from exc
    return symbology, text[len(symbology) :]


def _looks_like_plain_gtin(body: str, symbology: SymbologyIdentifier | None) -> bool:
    # A bare 8/12/13/14-digit number is a GTIN unless the symbology says the
    # data is a GS1 element string; "96385074" would otherwise read as AI 96.
    if symbology is not None and symbology.gs1_symbology in GS1Symbology.with_gs1_messages():
        return False
    return body.isdigit() and len(body) in _PLAIN_GTIN_LENGTHS


# --------------------------------------------------------------------------
# GS1


def _from_plain_gtin(
    body: str, symbology: SymbologyIdentifier | None, config: ParseConfig
) -> UdiData:
    value = body
    if symbology is not None and symbology.gs1_symbology == GS1Symbology.EAN_13 and len(body) == 8:
        # ]E0 with 8 digits is a UPC-E: expand it to the UPC-A it stands for.
        try:
            value = Upc.parse(body, config=config).as_upc_a()
        except ParseError:
            value = body
    try:
        gtin = Gtin.parse(value, config=config)
    except ParseError as exc:
        raise _gtin_error(value) from exc
    normalised = gtin.as_gtin_14()
    return UdiData(scheme="gs1", di=normalised, gtin=normalised)


def _parse_element_string(body: str, config: ParseConfig) -> GS1ElementStrings:
    try:
        return GS1Message.parse(body, config=config).element_strings
    except ParseError as exc:
        raise _explain_element_string(body, config, exc) from exc


def _parse_hri(body: str, config: ParseConfig) -> GS1ElementStrings:
    hri = "".join(body.split())
    # biip skips text it cannot match (e.g. "(99x)12"), so check the whole
    # string has the (AI)data shape before trusting it.
    if not _HRI_RE.fullmatch(hri):
        raise UdiError(
            f"Could not read the printed GS1 text {body!r}: expected (AI)data pairs "
            "such as (01)05901234123457(10)LOT1.",
            {"code": "unrecognised"},
            zh=f"无法读取印刷的 GS1 文本 {body!r}：应为 (AI)数据 成对的形式，"
            "例如 (01)05901234123457(10)LOT1。",
        )
    try:
        return GS1Message.parse_hri(hri, config=config).element_strings
    except ParseError as exc:
        for ai_number, data in re.findall(r"\((\d+)\)([^(]+)", hri):
            try:
                ai = GS1ApplicationIdentifier.extract(ai_number + data)
            except ParseError:
                ai = None
            if ai is None or ai.ai != ai_number:
                raise UdiError(
                    f"Unknown GS1 application identifier ({ai_number}) in the printed "
                    "text; check that it was typed correctly.",
                    {"code": "unknown_ai", "ai": ai_number},
                    zh=f"印刷文本中的 GS1 应用标识符 ({ai_number}) 无法识别；"
                    "请检查是否输入正确。",
                ) from exc
            try:
                GS1ElementString.parse(ai_number + data, config=config)
            except ParseError as inner:
                raise _element_value_error(ai, data) from inner
        raise _generic_gs1_error(exc) from exc


def _parse_digital_link(body: str, config: ParseConfig) -> GS1ElementStrings:
    try:
        return GS1DigitalLinkURI.parse(body, config=config).element_strings
    except ParseError as exc:
        # Find the failing (AI, value) ourselves rather than reading biip's
        # wording, which differs per failure (pattern, impossible date, ...).
        for ai, value in _digital_link_pairs(body):
            try:
                GS1ElementString.parse(ai.ai + value, config=config)
            except ParseError as inner:
                raise _element_value_error(ai, value) from inner
        # biip's reason is English; it is kept as a detail in both texts.
        raise UdiError(
            f"Could not read the GS1 Digital Link {body!r}: expected a web address "
            f"with a GTIN path such as /01/05901234123457/10/LOT1 (parser: {exc})",
            {"code": "digital_link", "detail": str(exc)},
            zh=f"无法读取 GS1 数字链接 {body!r}：应为带 GTIN 路径的网址，例如 "
            f"/01/05901234123457/10/LOT1（解析器信息：{exc}）",
        ) from exc


def _digital_link_pairs(uri: str) -> list[tuple[GS1ApplicationIdentifier, str]]:
    """(AI, value) pairs of a Digital Link: path ``/AI/value`` pairs, then
    numeric query parameters. Used only to explain a failed parse."""
    parts = urlsplit(uri)
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    candidates = list(pairwise(segments))
    candidates += [(key, value) for key, value in parse_qsl(parts.query) if key.isdigit()]
    pairs = []
    for key, value in candidates:
        if not key.isdigit():
            continue
        try:
            ai = GS1ApplicationIdentifier.extract(key)
        except ParseError:
            continue
        if ai.ai == key:
            pairs.append((ai, value))
    return pairs


def _from_elements(elements: GS1ElementStrings) -> UdiData:
    """Pick our fields out of parsed element strings, refusing bad check digits."""
    # biip still returns the message when a GTIN check digit is wrong; the
    # error is only on the element, so look at every one.
    for element in elements:
        if element.ai.ai in ("01", "02", "03") and element.gtin_error:
            raise _gtin_error(element.value)

    gtin_element = elements.get(ai="01")
    if gtin_element is None or gtin_element.gtin is None:
        if elements.get(ai="00") is not None:
            raise UdiError(
                "This is a shipping-container label (SSCC, AI 00), not a product UDI; "
                "scan the label on the device itself.",
                {"code": "no_gtin"},
                zh="这是物流单元标签（SSCC，AI 00），不是产品 UDI；请扫描器械本身上的标签。",
            )
        raise UdiError(
            "This GS1 barcode has no GTIN (AI 01), so it does not identify a device; "
            "scan the barcode that carries the GTIN.",
            {"code": "no_gtin"},
            zh="此 GS1 条码没有 GTIN（AI 01），无法识别是哪种器械；请扫描带有 GTIN 的条码。",
        )

    gtin = gtin_element.gtin.as_gtin_14()
    values: dict = {"scheme": "gs1", "di": gtin, "gtin": gtin}
    for element in elements:
        ai = element.ai.ai
        if ai in _DATE_FIELDS:
            name, value = _DATE_FIELDS[ai], element.date
        elif ai in _TEXT_FIELDS:
            name, value = _TEXT_FIELDS[ai], element.value
        elif ai in _COUNT_AIS:
            name, value = "quantity", int(element.value)
        else:
            continue  # other AIs (prices, weights, …) are not UDI data
        values.setdefault(name, value)  # first occurrence wins
    return UdiData(**values)


def _explain_element_string(body: str, config: ParseConfig, exc: ParseError) -> UdiError:
    """Walk the element string as biip does, to say where and why it failed."""
    rest = body
    previous: GS1ElementString | None = None
    separators = tuple(config.separator_chars)
    while rest:
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            return _unknown_ai_error(body, rest, previous)
        try:
            element = GS1ElementString.extract(rest, config=config)
        except ParseError:
            value = rest[len(ai.ai) :]
            for separator in separators:
                value = value.split(separator, 1)[0]
            return _element_value_error(ai, value[: _fixed_length(ai) or None])
        previous = element
        rest = rest[len(element) :]
        while rest.startswith(separators):
            rest = rest[1:]
    return _generic_gs1_error(exc)


def _unknown_ai_error(body: str, rest: str, previous: GS1ElementString | None) -> UdiError:
    if previous is None:
        return UdiError(
            f"Unrecognised barcode format: {body[:20]!r} is neither a GS1 code (GTIN, "
            "(01)…, Digital Link) nor a HIBC code (+…).",
            {"code": "unrecognised"},
            zh=f"无法识别的条码格式：{body[:20]!r} 既不是 GS1 条码（GTIN、(01)…、"
            "数字链接），也不是 HIBC 条码（+…）。",
        )
    name, name_zh = _ai_name(previous.ai), _ai_name_zh(previous.ai)
    after = f"{name} (AI {previous.ai.ai}) {previous.value!r}"
    after_zh = f"{name_zh}（AI {previous.ai.ai}）{previous.value!r}"
    hint = hint_zh = ""
    if previous.ai.separator_required:
        hint = (
            f" If the {name} should be shorter, the scanner is not "
            "sending the field separator: check its settings or the separator "
            "characters configured here."
        )
        hint_zh = (
            f"如果{name_zh}应当更短，说明扫描枪没有发送字段分隔符：请检查扫描枪设置"
            "或此处配置的分隔符字符。"
        )
    return UdiError(
        f"Unknown GS1 application identifier: {rest[:12]!r} after the {after} "
        f"does not start with a known AI.{hint}",
        {"code": "unknown_ai", "at": len(body) - len(rest), "text": rest},
        zh=f"无法识别的 GS1 应用标识符：{after_zh} 之后的 {rest[:12]!r} "
        f"不以已知的 AI 开头。{hint_zh}",
    )


def _element_value_error(ai: GS1ApplicationIdentifier, value: str) -> UdiError:
    name, name_zh = _ai_name(ai), _ai_name_zh(ai)
    if ai.ai in _DATE_AIS:
        return UdiError(
            f"The {name} (AI {ai.ai}) {value!r} is not a real date: GS1 dates are "
            "YYMMDD with a month 01-12 and a day that exists in that month "
            "(00 = the last day of the month).",
            {"code": "bad_date", "ai": ai.ai, "value": value},
            zh=f"{name_zh}（AI {ai.ai}）{value!r} 不是真实存在的日期：GS1 日期格式为 "
            "YYMMDD，月份为 01-12，日须在该月中存在（00 = 该月最后一天）。",
        )
    expected, expected_zh = _describe_format(ai)
    return UdiError(
        f"The {name} (AI {ai.ai}) {value!r} is not valid: it must be {expected}.",
        {"code": "bad_value", "ai": ai.ai, "value": value},
        zh=f"{name_zh}（AI {ai.ai}）{value!r} 不合法：{expected_zh}。",
    )


def _gtin_error(value: str) -> UdiError:
    expected = str(gs1_standard_check_digit(value[:-1]))
    return UdiError(
        f"The GTIN {value} has a wrong check digit: expected {expected}, got "
        f"{value[-1]}. The barcode is misprinted or misread; rescan it or check the "
        "number on the label.",
        {"code": "gtin_check_digit", "expected": expected, "got": value[-1]},
        zh=f"GTIN {value} 的校验位错误：应为 {expected}，实为 {value[-1]}。条码印刷有误"
        "或读取错误；请重新扫描或核对标签上的号码。",
    )


def _generic_gs1_error(exc: ParseError) -> UdiError:
    # Only when biip refuses a message whose elements each parse; its reason
    # is English and kept as a detail in both texts.
    return UdiError(
        f"Could not read the GS1 barcode (parser: {exc}).",
        {"code": "gs1", "detail": str(exc)},
        zh=f"无法读取 GS1 条码（解析器信息：{exc}）。",
    )


def _from_hibc_error(exc: HibcError) -> UdiError:
    """The same refusal as a UdiError, both languages kept."""
    return UdiError(exc.message, exc.details, zh=exc.zh)


def _describe_format(ai: GS1ApplicationIdentifier) -> tuple[str, str]:
    """What the AI's data must be: 'N2+N14' -> ('14 digits', '应为 14 位数字'),
    'N2+X..20' -> ('up to 20 characters ...', '应为最多 20 个 ...')."""
    match = re.fullmatch(r"N\d\+([NX])(\.\.)?(\d+)", ai.format)
    if not match:
        return f"in the format {ai.format}", f"应符合格式 {ai.format}"
    size, up_to = match.group(3), bool(match.group(2))
    if match.group(1) == "N":
        kind, kind_zh = "digits", "位数字"
    else:
        kind, kind_zh = _X_CHARACTERS
    return (f"{'up to ' if up_to else ''}{size} {kind}",
            f"应为{'最多' if up_to else ''} {size} {kind_zh}")


def _fixed_length(ai: GS1ApplicationIdentifier) -> int | None:
    """Data length of a fixed-length AI (format like 'N2+N6'), else None."""
    match = re.fullmatch(r"N\d\+[NX](\d+)", ai.format)
    return int(match.group(1)) if match else None


def _ai_name(ai: GS1ApplicationIdentifier) -> str:
    return _AI_NAMES.get(ai.ai, ai.data_title)


def _ai_name_zh(ai: GS1ApplicationIdentifier) -> str:
    # Rare AIs keep biip's English title; the AI number follows it anyway.
    return _AI_NAMES_ZH.get(ai.ai, ai.data_title)


# --------------------------------------------------------------------------
# HIBC


def _parse_hibc_lenient(body: str) -> HibcData:
    """Parse HIBC, coping with trailing spaces that may be scanner padding.

    A space is a valid check character (1 label in 43), so it cannot simply
    be stripped. Keeping one space as the check character is tried first: a
    matching check is strong evidence. Otherwise the spaces were padding.
    A lot or serial that ends the symbol with a space *and* has a space check
    character cannot be told from padding; it is refused, never misread.
    """
    stripped = body.rstrip(" ")
    if stripped == body:
        return _hibc_or_udi_error(body)
    try:
        return parse_hibc(stripped + " ")
    except HibcError as with_space:
        try:
            return parse_hibc(stripped)
        except HibcError as without_space:
            # If the space passed as check character, its error describes the
            # label; if not, the spaces were padding.
            checked = (with_space.details or {}).get("code") != "hibc_check_char"
            error = with_space if checked else without_space
            raise _from_hibc_error(error) from error


def _hibc_or_udi_error(body: str) -> HibcData:
    try:
        return parse_hibc(body)
    except HibcError as exc:
        raise _from_hibc_error(exc) from exc


def _from_hibc(data: HibcData) -> UdiData:
    if not data.has_primary:
        raise UdiError(
            "This is only the HIBC secondary label (lot, expiry or serial); it does "
            "not say which product it is. Scan the primary label (with the product "
            "code) together with it.",
            {"code": "hibc_secondary_only", "link_char": data.link_char},
            zh="这只是 HIBC 副标签（批号、失效日期或序列号），不能说明是哪个产品。"
            "请连同主标签（带产品代码）一起扫描。",
        )
    return UdiData(
        scheme="hibc",
        di=f"{data.lic}{data.product_code}",
        lic=data.lic,
        product_code=data.product_code,
        unit_of_measure=data.unit_of_measure,
        lot=data.lot,
        serial=data.serial,
        expiry=data.expiry,
        production_date=data.production_date,
        quantity=data.quantity,
    )
