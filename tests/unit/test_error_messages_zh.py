"""Every error the UDI/HIBC parsers and allocation raise says the same in Chinese.

Two halves: a runtime test drives each reachable error path and checks the
Chinese text; a static test reads the source with ``ast`` so that a new raise
site without ``zh=`` fails even before anyone writes a test that reaches it.
"""
from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain import allocation, hibc, udi
from app.domain.errors import DomainError
from app.domain.hibc import HibcError, mod43_check_char, parse_hibc
from app.domain.udi import UdiError, parse_hibc_pair, parse_udi

CJK = re.compile(r"[\u4e00-\u9fff]")
# A quoted value: the quote is not part of a word (so "label's" is not one).
QUOTED = re.compile(r"(?<![A-Za-z])'([^']*)'(?![A-Za-z])")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def assert_full_chinese(exc: DomainError, *values: str) -> None:
    """``exc.zh`` is Chinese, differs from the English and carries every value
    the English carries: the ``values`` the test names, each quoted value and
    each number (AI, position, length, date, quantity)."""
    assert exc.zh, f"no Chinese text for: {exc.message}"
    assert exc.zh != exc.message
    assert CJK.search(exc.zh), exc.zh
    for value in values:
        assert value in exc.message, (value, exc.message)
        assert value in exc.zh, (value, exc.zh)
    for quoted in QUOTED.findall(exc.message):
        assert f"'{quoted}'" in exc.zh, (quoted, exc.message, exc.zh)
    for number in NUMBER.findall(exc.message):
        assert number in exc.zh, (number, exc.message, exc.zh)


def test_the_checker_itself_catches_a_partial_translation():
    # The old generic text: Chinese, but without the AI and the value.
    partial = UdiError("The best before date (AI 15) '280230' is not a real date.",
                       zh="条码中的日期不存在。")
    with pytest.raises(AssertionError):
        assert_full_chinese(partial)
    with pytest.raises(AssertionError):
        assert_full_chinese(UdiError("Nothing was scanned.", zh="Nothing was scanned."))


def signed(data: str) -> str:
    return data + mod43_check_char(data)


GTIN = "05901234123457"
PRIMARY = "+A999123457"  # check character '7'


def udi_error(scan: str, **kwargs) -> UdiError:
    with pytest.raises(UdiError) as info:
        parse_udi(scan, **kwargs)
    return info.value


def hibc_error(text: str) -> HibcError:
    with pytest.raises(HibcError) as info:
        parse_hibc(text)
    return info.value


# --------------------------------------------------------------------------
# GS1 and routing (parse_udi)


@pytest.mark.parametrize(
    ("scan", "code", "values"),
    [
        ("", "empty", ()),
        ("  \r\n", "empty", ()),
        ("\x1d", "empty", ()),
        ("]!1abc", "unrecognised", ("']!1'",)),
        ("hello", "unrecognised", ("'hello'",)),
        ("(01)05901234123457(2)12", "unrecognised", ("(2)12",)),
        (f"(01){GTIN}(23)12", "unknown_ai", ("(23)",)),
        ("1022222222222222222222aaa", "unknown_ai", ("'aaa'", "AI 10", "'22222222222222222222'")),
        ("0105901234123457101234|21B", "unknown_ai", ("'|21B'", "'1234'")),
        ("0107032069804987", "gtin_check_digit", ("07032069804987", "8", "7")),
        ("5901234123458", "gtin_check_digit", ("5901234123458",)),
        ("(01)05901234123456(10)A", "gtin_check_digit", ("05901234123456",)),
        ("https://example.com/01/00614141123453/10/A", "gtin_check_digit", ("00614141123453",)),
        ("010590123412345", "bad_value", ("AI 01", "'0590123412345'", "14")),
        (f"(01){GTIN}(10)" + "A" * 21, "bad_value", ("AI 10", "'" + "A" * 21 + "'", "20")),
        (f"(01){GTIN}(30)ABC", "bad_value", ("AI 30", "'ABC'", "8")),
        (f"https://example.com/01/{GTIN}/10/A%20B", "bad_value", ("AI 10", "'A B'")),
        ("https://example.com/foo", "digital_link", ("'https://example.com/foo'", "/foo")),
        ("10LOT1\x1d17291231", "no_gtin", ("AI 01",)),
        ("00123456789012345675", "no_gtin", ("SSCC", "AI 00")),
        (signed("+$$3300531LOT17"), "hibc_secondary_only", ()),
    ],
)
def test_gs1_and_routing_errors_are_in_full_chinese(scan, code, values):
    error = udi_error(scan)
    assert error.details["code"] == code
    assert_full_chinese(error, *values)


@pytest.mark.parametrize("scan", [None, 12345, b"0105901234123457"])
def test_non_text_input_is_refused_in_both_languages(scan):
    error = udi_error(scan)
    assert error.details == {"code": "empty"}
    assert_full_chinese(error, type(scan).__name__)


@pytest.mark.parametrize("ai", ["11", "12", "13", "15", "16", "17"])
@pytest.mark.parametrize("value", ["280230", "281301"])
@pytest.mark.parametrize(
    "template",
    ["01{gtin}{ai}{value}10L1", "(01){gtin}({ai}){value}(10)L1",
     "https://id.example.org/01/{gtin}?{ai}={value}"],
    ids=["element-string", "hri", "digital-link"],
)
def test_bad_date_names_the_ai_and_value_in_both_languages(ai, value, template):
    error = udi_error(template.format(gtin=GTIN, ai=ai, value=value))
    assert error.details == {"code": "bad_date", "ai": ai, "value": value}
    assert_full_chinese(error, f"AI {ai}", f"'{value}'")


def test_bad_best_before_date_in_chinese_names_the_date_kind():
    error = udi_error(f"01{GTIN}15280230")
    assert error.zh.startswith("最佳使用日期（AI 15）'280230' 不是真实存在的日期")


def test_generic_gs1_error_keeps_both_languages(monkeypatch):
    # Reached only when biip refuses a message whose elements each parse.
    from biip import ParseError
    from biip.gs1_messages import GS1Message

    def refuse(*args, **kwargs):
        raise ParseError("Unexpected trailing data '~'.")

    monkeypatch.setattr(GS1Message, "parse", refuse)
    error = udi_error(f"01{GTIN}")
    assert error.details["code"] == "gs1"
    assert_full_chinese(error, "'~'")


# --------------------------------------------------------------------------
# HIBC: through parse_udi (HibcError becomes UdiError, Chinese kept) and direct


HIBC_SCANS = [
    # (scan, code, values in both texts)
    ("+A99912345/$$52001510X3/16D20111212/S77DEFG45Z", "hibc_check_char", ("'7'", "'Z'")),
    ("+a99912345", "hibc_character", ("'a'", "2")),
    ("+A999#12345", "hibc_character", ("'#'", "6")),
    ("+A", "hibc_too_short", ("'+A'",)),
    (signed("+%A9991234"), "hibc_unrecognised", ("'%'",)),
    (signed("+A9991/$L"), "hibc_primary", ("'A9991'",)),
    (signed("+A99912345/$$"), "hibc_date_format", ("'$$'",)),
    (signed("+A99912345/$$A1LOT"), "hibc_date_format", ("'$$A1LOT'", "'A'")),
    (signed("+A99912345/$$81"), "hibc_quantity", ("'$$81'", "2")),
    (signed("+A99912345/$$9123"), "hibc_quantity", ("'$$9123'", "5")),
    (signed("+A99912345/$LOT/Q"), "hibc_quantity", ("'/Q'",)),
    (signed("+A99912345/$LOT/Q123456789"), "hibc_quantity", ("'/Q123456789'",)),
    (signed("+A99912345/$LOT/X1"), "hibc_unknown_field", ("'/X1'",)),
    (signed("+A99912345/$"), "hibc_lot", ()),
    (signed("+A99912345/$+"), "hibc_serial", ()),
    (signed("+A99912345/$LOT/S"), "hibc_serial", ()),
    (signed("+A99912345/$LOT-4567890123456.789"), "hibc_lot", ("'LOT-4567890123456.789'", "21", "18")),
    (signed("+A99912345/$+SN 4567890123456$789"), "hibc_serial", ("'SN 4567890123456$789'", "20")),
    (signed("+A99912345/$$1330LOT"), "hibc_date", ("'1330'", "MMYY", "13")),
    (signed("+A99912345/$$2133130LOT"), "hibc_date", ("'133130'", "MMDDYY")),
    (signed("+A99912345/$$3231131LOT"), "hibc_date", ("'231131'", "2023-11", "31")),
    (signed("+A99912345/$$423113024LOT"), "hibc_date", ("'23113024'", "24")),
    (signed("+A99912345/$$523366LOT"), "hibc_date", ("'23366'", "366", "2023")),
    (signed("+A99912345/$$62300023LOT"), "hibc_date", ("'2300023'", "YYJJJHH")),
    (signed("+A99912345/$$3ABCDEFLOT"), "hibc_date", ("'ABCDEF'", "YYMMDD")),
    (signed("+A99912345/$LOT/14D20231301"), "hibc_date", ("'20231301'", "YYYYMMDD")),
    (signed("+A99912345/$LOT/14D2023"), "hibc_date", ("'2023'", "YYYYMMDD")),
    (signed("+A99912345/$LOT/16D20230230"), "hibc_date", ("'20230230'", "2023-02")),
    (signed("+A99912345/$+S1/S2"), "hibc_conflict", ("'S1'", "'2'")),
    (signed("+A99912345/$$3300531LOT/14D20300601"), "hibc_conflict", ("2030-05-31", "2030-06-01")),
    (signed("+12X7"), "hibc_secondary", ("'12X'",)),
    (signed("+$"), "hibc_too_short", ("'+$",)),
]


@pytest.mark.parametrize(("scan", "code", "values"), HIBC_SCANS)
def test_hibc_errors_through_parse_udi_are_in_full_chinese(scan, code, values):
    error = udi_error(scan)
    assert error.details["code"] == code
    assert_full_chinese(error, *values)


@pytest.mark.parametrize(("scan", "code", "values"), HIBC_SCANS)
def test_hibc_errors_are_in_full_chinese(scan, code, values):
    error = hibc_error(scan)
    assert error.details["code"] == code
    assert_full_chinese(error, *values)
    # parse_udi passes the same texts on.
    via_udi = udi_error(scan)
    assert (via_udi.message, via_udi.zh) == (error.message, error.zh)


def test_hibc_not_hibc_and_character_hint():
    assert_full_chinese(hibc_error("0105901234123457"), "'010590123412'")
    caps = hibc_error("+a99912345")
    assert "Caps Lock" in caps.message and "Caps Lock" in caps.zh


def test_hibc_space_check_character_is_named_in_chinese():
    alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    label = next(f"+A999{a}{b}5" for a in alnum for b in alnum
                 if mod43_check_char(f"+A999{a}{b}5") == " ")
    error = hibc_error(label + "X")
    assert "' ' (a space)" in error.message
    assert "' '（空格）" in error.zh
    assert_full_chinese(error, "'X'")


def test_hibc_lot_safety_net_message():
    # Unreachable through parse_hibc ('/' splits fields first); still bilingual.
    with pytest.raises(HibcError) as info:
        hibc._lot_or_serial("A/B", "lot")
    assert_full_chinese(info.value, "'A/B'")


@pytest.mark.parametrize(
    ("primary", "secondary", "code", "values"),
    [
        (signed("+$LOT17"), signed("+$LOT17"), "hibc_no_primary", ()),
        (PRIMARY, PRIMARY, "hibc_not_secondary", ("A9991234",)),
        (PRIMARY, signed("+$LOT1X"), "hibc_link_mismatch", ("'X'", "'7'")),
        (PRIMARY, "0105901234123457", "hibc_not_hibc", ("'010590123412'",)),
        (PRIMARY, signed("+$LOT/14D202313017"), "hibc_date", ("'20231301'",)),
    ],
)
def test_hibc_pair_errors_are_in_full_chinese(primary, secondary, code, values):
    with pytest.raises(UdiError) as info:
        parse_hibc_pair(primary, secondary)
    assert info.value.details["code"] == code
    assert_full_chinese(info.value, *values)


def test_combine_hibc_without_link_character():
    # combine_hibc checks its own inputs; a hand-built record has no link.
    with pytest.raises(HibcError) as info:
        hibc.combine_hibc(parse_hibc(PRIMARY), hibc.HibcData(check_char="7", lot="L"))
    assert info.value.details["code"] == "hibc_not_secondary"
    assert_full_chinese(info.value)


def test_udi_and_hibc_errors_cannot_be_built_without_chinese():
    with pytest.raises(TypeError):
        UdiError("English only")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        HibcError("English only", {})  # type: ignore[call-arg]


# --------------------------------------------------------------------------
# Allocation

ON = dt.date(2026, 12, 1)


def candidate(lot="L1", qty="10", *, expiry=dt.date(2027, 12, 1), serial=None,
              status="available"):
    return allocation.StockCandidate(
        product_id=7, lot_id=f"id-{lot}", lot_number=lot, serial=serial,
        location_id="loc-A", location_code="A-01", pick_sequence=1,
        expiry_date=expiry, received_at=dt.datetime(2025, 1, 1), quantity=Decimal(qty),
        status=status,
    )


def request(qty="1", **kwargs):
    kwargs.setdefault("on_date", ON)
    kwargs.setdefault("strategy", allocation.Strategy.FEFO)
    return allocation.AllocationRequest(product_id=7, quantity=Decimal(qty), **kwargs)


@pytest.mark.parametrize(
    ("build", "values"),
    [
        (lambda: request(0), ("0",)),
        (lambda: request("-1.5"), ("-1.5",)),
        (lambda: allocation.AllocationRequest(7, 1.5, "fefo", ON), ("1.5", "float")),
        (lambda: allocation.AllocationRequest(7, True, "fefo", ON), ("True", "bool")),
        (lambda: allocation.AllocationRequest(7, Decimal("NaN"), "fefo", ON), ("'NaN'",)),
        (lambda: allocation.StockCandidate(7, None, None, None, 1, "A", 1, None, None, 0.1),
         ("0.1", "float")),
        (lambda: request(strategy="lifo"), ("'lifo'", "fefo", "manual_lot")),
        (lambda: request(on_date="2026-12-01"), ("'2026-12-01'", "on_date")),
        (lambda: request(min_remaining_days=-3), ("-3", "min_remaining_days")),
        (lambda: request(min_remaining_days=1.5), ("1.5",)),
        (lambda: request("2.5", serial_tracked=True), ("7", "2.5")),
        (lambda: request(strategy="manual_lot"), ()),
    ],
    ids=["zero", "negative", "float", "bool", "nan", "candidate-float", "strategy",
         "on-date", "min-days", "min-days-float", "serial-fraction", "manual-lot"],
)
def test_allocation_input_errors_are_in_full_chinese(build, values):
    with pytest.raises(DomainError) as info:
        build()
    assert_full_chinese(info.value, *values)


@pytest.mark.parametrize(
    ("stock", "kwargs", "values"),
    [
        ([candidate("A", "3")], {"lot_number": "B-7"}, ("3", "B-7")),
        ([candidate("A", "1", serial="S1")], {"serial": "S-9"}, ("S-9",)),
        ([candidate("A", "2", serial=None)], {"serial_tracked": True}, ("2",)),
        ([candidate("A", "4", expiry=dt.date(2026, 11, 30))], {}, ("4", "2026-12-01")),
        ([candidate("A", "5", expiry=dt.date(2027, 1, 1))], {"min_remaining_days": 90},
         ("5", "90", "2026-12-01")),
    ] + [
        ([candidate("A", "6", status=status)], {}, ("6",))
        for status in ("quarantine", "on_hold", "recalled", "expired", "damaged", "in_repair")
    ],
    ids=["other-lot", "other-serial", "no-serial", "expired", "shelf-life", "quarantine",
         "on-hold", "recalled", "status-expired", "damaged", "unknown-status"],
)
def test_insufficient_stock_reasons_are_in_full_chinese(stock, kwargs, values):
    qty = "10"
    with pytest.raises(allocation.InsufficientStock) as info:
        allocation.allocate(request(qty, **kwargs), stock)
    assert_full_chinese(info.value, qty, *values)
    assert info.value.zh.startswith("产品 7 库存不足：需求 10，可分配 0；未分配原因：")


def test_insufficient_stock_chinese_names_each_status():
    stock = [candidate("Q", "1", status="quarantine"), candidate("H", "2", status="on_hold"),
             candidate("R", "3", status="recalled"), candidate("D", "4", status="damaged"),
             candidate("X", "5", status="in_repair")]
    with pytest.raises(allocation.InsufficientStock) as info:
        allocation.allocate(request("99"), stock)
    for phrase in ("1 件处于待检隔离状态", "2 件处于冻结状态", "3 件已召回", "4 件已破损",
                   "5 件处于 in_repair 状态"):
        assert phrase in info.value.zh


def test_insufficient_stock_expired_reason_names_the_date_in_chinese():
    # The Chinese used to drop the date the English gives ("expired by ...").
    with pytest.raises(allocation.InsufficientStock) as info:
        allocation.allocate(request("1"), [candidate("A", "4", expiry=dt.date(2026, 1, 1))])
    assert "4 units expired by 2026-12-01" in info.value.message
    assert "4 件截至 2026-12-01 已过期" in info.value.zh


# --------------------------------------------------------------------------
# Static: every DomainError raised in these modules is built with zh=

DOMAIN = Path(__file__).parents[2] / "app" / "domain"
MODULES = {"udi.py": udi, "hibc.py": hibc, "allocation.py": allocation}

# Functions that build and return a DomainError (with zh=, which the call
# check below verifies inside them); `raise helper(...)` is allowed for these.
ERROR_HELPERS = {
    "udi.py": {"_empty_error", "_gtin_error", "_element_value_error", "_generic_gs1_error",
               "_explain_element_string", "_from_hibc_error"},
    "hibc.py": set(),
    "allocation.py": {"_insufficient"},
}


def _is_domain_error(module, name: str) -> bool:
    obj = getattr(module, name, None)
    return isinstance(obj, type) and issubclass(obj, DomainError)


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):  # e.g. errors.ValidationFailed(...)
        return node.func.attr
    return None


def zh_problems(source: str, module, helpers: set[str], filename: str) -> list[str]:
    """Where ``source`` builds a DomainError without a usable zh=, or raises
    something that is neither a DomainError nor a whitelisted helper's result."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _is_domain_error(module, _callee(node) or ""):
            zh = next((k for k in node.keywords if k.arg == "zh"), None)
            if zh is None:
                problems.append(f"{filename}:{node.lineno}: {_callee(node)}(...) without zh=")
            elif isinstance(zh.value, ast.Constant) and not zh.value.value:
                problems.append(f"{filename}:{node.lineno}: {_callee(node)}(...) with an empty zh=")
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc
            name = _callee(exc) if isinstance(exc, ast.Call) else None
            if name is None:
                # `raise error` hides what was built; route it through a helper.
                problems.append(f"{filename}:{node.lineno}: raise of a value, not a call")
            elif not _is_domain_error(module, name) and name not in helpers:
                problems.append(f"{filename}:{node.lineno}: raise {name}(...) is neither a "
                                "DomainError nor a whitelisted helper")
    return problems


@pytest.mark.parametrize("filename", sorted(MODULES))
def test_every_domain_error_is_built_with_chinese(filename):
    source = (DOMAIN / filename).read_text(encoding="utf-8")
    assert zh_problems(source, MODULES[filename], ERROR_HELPERS[filename], filename) == []


@pytest.mark.parametrize("filename", sorted(MODULES))
def test_whitelisted_helpers_exist_and_return_errors(filename):
    module = MODULES[filename]
    for name in ERROR_HELPERS[filename]:
        assert callable(getattr(module, name, None)), f"{filename}: no helper {name}"
        tree = ast.parse((DOMAIN / filename).read_text(encoding="utf-8"))
        helper = next(n for n in ast.walk(tree)
                      if isinstance(n, ast.FunctionDef) and n.name == name)
        returns = ast.unparse(helper.returns) if helper.returns else ""
        assert returns in ("UdiError", "HibcError", "InsufficientStock"), (name, returns)


def test_static_check_catches_a_missing_zh():
    # The check must fail on the shapes it is meant to catch.
    source = '''
def parse(value):
    if not value:
        raise UdiError("empty", {"code": "empty"})
    if value == "x":
        raise UdiError("x", zh=None)
    if value == "y":
        raise _unlisted_helper(value)
    error = UdiError("z", zh="z 错误")
    raise error

def _unlisted_helper(value):
    return UdiError(f"bad {value}")
'''
    problems = zh_problems(source, udi, ERROR_HELPERS["udi.py"], "sample.py")
    by_line = sorted((int(p.split(":")[1]), p.split(": ", 1)[1]) for p in problems)
    assert by_line == [
        (4, "UdiError(...) without zh="),
        (6, "UdiError(...) with an empty zh="),
        (8, "raise _unlisted_helper(...) is neither a DomainError nor a whitelisted helper"),
        (10, "raise of a value, not a call"),
        (13, "UdiError(...) without zh="),
    ]


# --------------------------------------------------------------------------
# Static, app-wide: every DomainError built anywhere under app/ carries zh=


APP = Path(__file__).parents[2] / "app"


def _domain_error_names() -> set[str]:
    """Every DomainError class, the app's own subclasses included (all modules imported)."""
    import importlib
    import pkgutil

    import app as package
    for info in pkgutil.walk_packages([str(APP)], prefix="app."):
        importlib.import_module(info.name)
    names, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    assert package  # imported for its modules
    return names


def _self_translating(names: set[str]) -> set[str]:
    """DomainError classes whose own constructor writes both languages (it takes
    no zh=), such as AccountLocked: building one needs no zh=."""
    import inspect
    out, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        init = cls.__dict__.get("__init__")
        if cls is not DomainError and init is not None and "zh" not in inspect.signature(init).parameters:
            out.add(cls.__name__)
    return out & names


def app_zh_problems(source: str, filename: str, names: set[str]) -> list[str]:
    """Calls building a DomainError (by class name) without a usable zh=; a call
    passing ``**kwargs`` is taken to pass it on."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _callee(node) not in names:
            continue
        if any(k.arg is None for k in node.keywords):
            continue
        zh = next((k for k in node.keywords if k.arg == "zh"), None)
        if zh is None:
            problems.append(f"{filename}:{node.lineno}: {_callee(node)}(...) without zh=")
        elif isinstance(zh.value, ast.Constant) and not zh.value.value:
            problems.append(f"{filename}:{node.lineno}: {_callee(node)}(...) with an empty zh=")
    return problems


def test_every_domain_error_under_app_is_built_with_chinese():
    names = _domain_error_names()
    assert {"ValidationFailed", "NotFound", "Forbidden", "Conflict", "UdiError",
            "InvalidTransition", "Locked"} <= names
    checked = names - _self_translating(names)
    assert "AccountLocked" not in checked  # it writes its own Chinese
    problems = []
    for path in sorted(APP.rglob("*.py")):
        problems += app_zh_problems(path.read_text(encoding="utf-8"),
                                    str(path.relative_to(APP.parent)), checked)
    assert problems == []


def test_app_wide_check_catches_a_missing_zh():
    source = '''
def f(x, **kw):
    if x:
        raise Conflict(f"{x} is closed")
    raise NotFound("gone", zh="")

def g(**kw):
    return ValidationFailed("passed on", **kw)
'''
    assert sorted(app_zh_problems(source, "sample.py", {"Conflict", "NotFound", "ValidationFailed"})) == [
        "sample.py:4: Conflict(...) without zh=", "sample.py:5: NotFound(...) with an empty zh="]
