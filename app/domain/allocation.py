"""Stock allocation: which lots, serials and bins fill a requested quantity.

Each strategy is a sort key over stock candidates (as in cosmicpython's
``Batch.__gt__``): filter what may be allocated, sort, take greedily. The
strategy is a parameter resolved from the document, product or warehouse
settings, never a branch in a view.

Shelf life: a candidate with an expiry date is allocatable only when
``(expiry_date - on_date).days >= min_remaining_days``; ``on_date`` is usually
the expected arrival date at the destination. A lot is expired once
``on_date`` is past its expiry date (the expiry date itself is the last day of
use), and expired lots are never allocated. Candidates without an expiry date
pass the shelf-life check.

Pure standard library; quantities are exact ``Decimal``.
"""
from __future__ import annotations

import datetime as dt
import decimal
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Iterable, Optional

from app.domain.errors import ValidationFailed

AVAILABLE = "available"

# Arithmetic on quantities must never round.
_EXACT = decimal.Context(prec=80, traps=[decimal.Inexact, decimal.InvalidOperation])


class InsufficientStock(ValidationFailed):
    """Not enough allocatable stock; the message says how much and why."""


# --------------------------------------------------------------------------- values


_QUANTITY_ZH = {"candidate quantity": "候选库存数量", "requested quantity": "需求数量"}


def _exact_quantity(value: Any, what: str) -> Decimal:
    """Return ``value`` as a finite Decimal; refuse floats and other inexact input."""
    what_zh = _QUANTITY_ZH[what]
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        kind = type(value).__name__
        raise ValidationFailed(
            f"{what} must be an exact Decimal, got {value!r} ({kind})",
            zh=f"{what_zh}必须是精确的 Decimal 数值，实为 {value!r}（{kind}）",
        )
    quantity = Decimal(value)
    if not quantity.is_finite():
        raise ValidationFailed(
            f"{what} must be a finite number, got {value!r}",
            zh=f"{what_zh}必须是有限的数值，实为 {value!r}",
        )
    return quantity


@dataclass(frozen=True)
class StockCandidate:
    """One allocatable balance: product × lot × serial × location × status.

    ``quantity`` is what may still be allocated (on hand minus reserved);
    ``received_at`` is the lot's first receipt time, used by FIFO.
    """

    product_id: Any
    lot_id: Any
    lot_number: Optional[str]
    serial: Optional[str]
    location_id: Any
    location_code: str
    pick_sequence: int
    expiry_date: Optional[dt.date]
    received_at: Optional[dt.datetime]
    quantity: Decimal
    status: str = AVAILABLE

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "quantity", _exact_quantity(self.quantity, "candidate quantity")
        )

    def remaining_days(self, on_date: dt.date) -> Optional[int]:
        """Days of shelf life left at ``on_date``; None when the lot has no expiry."""
        if self.expiry_date is None:
            return None
        return (_as_date(self.expiry_date) - on_date).days


@dataclass(frozen=True)
class Pick:
    """Take ``quantity`` from ``candidate``."""

    candidate: StockCandidate
    quantity: Decimal


# --------------------------------------------------------------------------- sort keys


def _nulls_last(value: Any) -> tuple:
    """Sort key part: values ascending, None after all of them, never compared."""
    return (1,) if value is None else (0, value)


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _instant(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """Naive UTC, so aware and naive receipt times can be compared."""
    if value is None or not isinstance(value, dt.datetime) or value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _expiry(c: StockCandidate) -> tuple:
    return _nulls_last(None if c.expiry_date is None else _as_date(c.expiry_date))


def _received(c: StockCandidate) -> tuple:
    return _nulls_last(_instant(c.received_at))


def _bin(c: StockCandidate) -> tuple:
    return (c.pick_sequence, _nulls_last(c.location_code))


def _tiebreak(c: StockCandidate) -> tuple:
    """Identity of the balance, so the order never depends on input order."""
    return (
        _nulls_last(c.lot_number),
        _nulls_last(c.serial),
        _nulls_last(None if c.location_id is None else str(c.location_id)),
        _nulls_last(None if c.lot_id is None else str(c.lot_id)),
        c.quantity,
    )


def fefo_key(c: StockCandidate) -> tuple:
    """First expired, first out; no expiry last, then oldest receipt, then bin."""
    return (_expiry(c), _received(c), _bin(c), _tiebreak(c))


def fifo_key(c: StockCandidate) -> tuple:
    """First in, first out by the lot's first receipt; then expiry, then bin."""
    return (_received(c), _expiry(c), _bin(c), _tiebreak(c))


def closest_bin_key(c: StockCandidate) -> tuple:
    """Fewest steps: pick sequence and bin path first, then expiry, then receipt."""
    return (_bin(c), _expiry(c), _received(c), _tiebreak(c))


def manual_lot_key(c: StockCandidate) -> tuple:
    """The requested lot/serial only (filtered elsewhere), walked in pick order."""
    return closest_bin_key(c)


class Strategy(Enum):
    FEFO = "fefo"
    FIFO = "fifo"
    CLOSEST_BIN = "closest_bin"
    MANUAL_LOT = "manual_lot"

    @property
    def sort_key(self) -> Callable[[StockCandidate], tuple]:
        return _SORT_KEYS[self]

    @classmethod
    def parse(cls, value: "Strategy | str") -> "Strategy":
        """``'fefo'`` (any case) or a Strategy; anything else is refused by name."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        allowed = ", ".join(s.value for s in cls)
        raise ValidationFailed(
            f"unknown allocation strategy {value!r}; allowed: {allowed}",
            details={"value": repr(value), "allowed": [s.value for s in cls]},
            zh=f"未知的分配策略 {value!r}；允许的策略：{allowed}",
        )


_SORT_KEYS: dict[Strategy, Callable[[StockCandidate], tuple]] = {
    Strategy.FEFO: fefo_key,
    Strategy.FIFO: fifo_key,
    Strategy.CLOSEST_BIN: closest_bin_key,
    Strategy.MANUAL_LOT: manual_lot_key,
}


def resolve_strategy(
    document: "Strategy | str | None" = None,
    warehouse: "Strategy | str | None" = None,
    product: "Strategy | str | None" = None,
    has_expiry: bool = True,
) -> Strategy:
    """Document setting, else product, else warehouse; default FEFO / FIFO."""
    for setting in (document, product, warehouse):
        if setting is not None:
            return Strategy.parse(setting)
    return Strategy.FEFO if has_expiry else Strategy.FIFO


# --------------------------------------------------------------------------- request


@dataclass(frozen=True)
class AllocationRequest:
    product_id: Any
    quantity: Decimal
    strategy: Strategy
    on_date: dt.date
    min_remaining_days: int = 0
    lot_number: Optional[str] = None
    serial: Optional[str] = None
    serial_tracked: bool = False

    def __post_init__(self) -> None:
        quantity = _exact_quantity(self.quantity, "requested quantity")
        if quantity <= 0:
            raise ValidationFailed(
                f"requested quantity must be greater than zero, got {_fmt(quantity)}",
                zh=f"需求数量必须大于零，实为 {_fmt(quantity)}",
            )
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "strategy", Strategy.parse(self.strategy))
        if not isinstance(self.on_date, dt.date):
            raise ValidationFailed(
                f"on_date must be a date, got {self.on_date!r}",
                zh=f"on_date（分配日期）必须是日期，实为 {self.on_date!r}",
            )
        object.__setattr__(self, "on_date", _as_date(self.on_date))
        days = self.min_remaining_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValidationFailed(
                f"min_remaining_days must be a whole number of days >= 0, got {days!r}",
                zh=f"min_remaining_days（最短剩余效期）必须是 >= 0 的整数天数，实为 {days!r}",
            )
        if self.serial_tracked and quantity != quantity.to_integral_value():
            raise ValidationFailed(
                f"product {self.product_id} is serial-tracked: quantity must be a "
                f"whole number, got {_fmt(quantity)}",
                zh=f"产品 {self.product_id} 按序列号管理：数量必须是整数，实为 {_fmt(quantity)}",
            )
        if self.strategy is Strategy.MANUAL_LOT and not (self.lot_number or self.serial):
            raise ValidationFailed(
                "manual lot allocation needs a lot number or a serial number",
                zh="手工指定批次分配需要批号或序列号",
            )


# --------------------------------------------------------------------------- allocate


@dataclass(frozen=True)
class _Exclusion:
    """Why stock was left out; the English and Chinese sentence parts are
    written side by side so that they cannot drift apart."""

    code: str
    text: Callable[[str], str]  # units -> sentence part
    text_zh: Callable[[str], str]


def _exclusion_reason(request: AllocationRequest, c: StockCandidate) -> Optional[_Exclusion]:
    """Why this same-product candidate cannot be allocated, or None if it can."""
    if request.lot_number is not None and c.lot_number != request.lot_number:
        lot = request.lot_number
        return _Exclusion("other_lot", lambda n: f"{n} units not in lot {lot}",
                          lambda n: f"{n} 件不属于批次 {lot}")
    if request.serial is not None and c.serial != request.serial:
        serial = request.serial
        return _Exclusion("other_serial", lambda n: f"{n} units not serial {serial}",
                          lambda n: f"{n} 件不是序列号 {serial}")
    if c.status != AVAILABLE:
        status = c.status
        phrase = _STATUS_PHRASES.get(status, f"with status {status}")
        phrase_zh = _STATUS_PHRASES_ZH.get(status, f"处于 {status} 状态")
        return _Exclusion(f"status:{status}", lambda n: f"{n} units {phrase}",
                          lambda n: f"{n} 件{phrase_zh}")
    if request.serial_tracked and not c.serial:
        return _Exclusion("no_serial", lambda n: f"{n} units without a serial number",
                          lambda n: f"{n} 件没有序列号")
    remaining = c.remaining_days(request.on_date)
    if remaining is not None:
        on = request.on_date.isoformat()
        if remaining < 0:
            return _Exclusion("expired", lambda n: f"{n} units expired by {on}",
                              lambda n: f"{n} 件截至 {on} 已过期")
        if remaining < request.min_remaining_days:
            days = request.min_remaining_days
            return _Exclusion(
                "shelf_life",
                lambda n: f"{n} units with remaining shelf life below {days} days at {on}",
                lambda n: f"{n} 件在 {on} 的剩余效期不足 {days} 天",
            )
    return None


_STATUS_PHRASES = {
    "quarantine": "in quarantine",
    "on_hold": "on hold",
    "recalled": "recalled",
    "expired": "with status expired",
    "damaged": "damaged",
}
_STATUS_PHRASES_ZH = {
    "quarantine": "处于待检隔离状态",
    "on_hold": "处于冻结状态",
    "recalled": "已召回",
    "expired": "处于已过期状态",
    "damaged": "已破损",
}


def allocate(request: AllocationRequest, candidates: Iterable[StockCandidate]) -> list[Pick]:
    """Picks that fill ``request.quantity`` by the request's strategy.

    Raises InsufficientStock (a ValidationFailed) when allocatable stock falls
    short, saying how much is allocatable and why other stock was excluded.
    Inputs are never changed; the result depends only on their values.
    """
    with decimal.localcontext(_EXACT):
        eligible: list[StockCandidate] = []
        excluded: "OrderedDict[str, tuple[_Exclusion, Decimal]]" = OrderedDict()
        for c in candidates:
            if c.product_id != request.product_id or c.quantity <= 0:
                continue
            reason = _exclusion_reason(request, c)
            if reason is None:
                eligible.append(c)
            else:
                _, units = excluded.get(reason.code, (reason, Decimal(0)))
                excluded[reason.code] = (reason, units + c.quantity)

        eligible.sort(key=request.strategy.sort_key)
        if request.serial_tracked:
            eligible = _one_per_serial(eligible)
            available = Decimal(len(eligible))
        else:
            available = sum((c.quantity for c in eligible), Decimal(0))

        if available < request.quantity:
            raise _insufficient(request, available, excluded)

        picks: list[Pick] = []
        needed = request.quantity
        for c in eligible:
            if needed <= 0:
                break
            take = Decimal(1) if request.serial_tracked else min(needed, c.quantity)
            picks.append(Pick(c, take))
            needed -= take
        return picks


def _one_per_serial(ordered: list[StockCandidate]) -> list[StockCandidate]:
    """Serial-tracked: one unit per serial, the first in strategy order."""
    seen: set[str] = set()
    result = []
    for c in ordered:
        if c.serial in seen or c.quantity < 1:
            continue
        seen.add(c.serial)
        result.append(c)
    return result


def _insufficient(
    request: AllocationRequest,
    available: Decimal,
    excluded: "OrderedDict[str, tuple[_Exclusion, Decimal]]",
) -> InsufficientStock:
    message = (
        f"insufficient stock of product {request.product_id}: requested "
        f"{_fmt(request.quantity)}, allocatable {_fmt(available)}"
    )
    reasons = sorted(excluded.items(), key=_reason_rank)
    if reasons:
        message += "; excluded: " + "; ".join(
            exclusion.text(_fmt(units)) for _, (exclusion, units) in reasons
        )
    zh = f"产品 {request.product_id} 库存不足：需求 {_fmt(request.quantity)}，可分配 {_fmt(available)}"
    if reasons:
        zh += "；未分配原因：" + "；".join(
            exclusion.text_zh(_fmt(units)) for _, (exclusion, units) in reasons)
    details = {
        "product_id": request.product_id,
        "requested": str(request.quantity),
        "allocatable": str(available),
        "excluded": [
            {"reason": code, "quantity": str(units), "message": exclusion.text(_fmt(units))}
            for code, (exclusion, units) in reasons
        ],
    }
    return InsufficientStock(message, details=details, zh=zh)


_REASON_ORDER = ("shelf_life", "expired", "status:", "no_serial", "other_lot", "other_serial")


def _reason_rank(item: tuple[str, Any]) -> tuple[int, str]:
    """Fixed order, so the message never depends on the order of the candidates."""
    code = item[0]
    for rank, prefix in enumerate(_REASON_ORDER):
        if code.startswith(prefix):
            return (rank, code)
    return (len(_REASON_ORDER), code)


def _fmt(quantity: Decimal) -> str:
    """12.000 -> '12', 1.50 -> '1.5', 1E+1 -> '10'."""
    text = format(quantity.normalize(), "f")
    return "0" if text in ("-0", "0") else text


# --------------------------------------------------------------------------- pick list


def order_pick_list(picks: Iterable[Pick]) -> list[Pick]:
    """Walk order: location pick sequence, then bin path; ties keep allocation order."""
    return sorted(picks, key=lambda p: _bin(p.candidate))


def split_picks(picks: Iterable[Pick], quantities: Iterable[Decimal]) -> list[list[Pick]]:
    """Share one allocation among several lines, in order: the first line takes
    the first picks, and so on. Greedy allocation of the lines one after another
    would give the same picks, because a strategy's order does not depend on
    the quantity asked for."""
    queue = [Pick(p.candidate, p.quantity) for p in picks]
    out: list[list[Pick]] = []
    for wanted in quantities:
        mine: list[Pick] = []
        while wanted > 0:
            head = queue[0]
            take = min(wanted, head.quantity)
            mine.append(Pick(head.candidate, take))
            wanted -= take
            if take == head.quantity:
                queue.pop(0)
            else:
                queue[0] = Pick(head.candidate, head.quantity - take)
        out.append(mine)
    return out
