"""The stock ledger's invariants, in one place and free of any database code.

Stock is double-entry between locations: a move takes a quantity of one
product (lot, serial) from one location and status to another. Balances per
product × lot × serial × location × status follow from the moves. Here we
check a batch of moves against the current balances and compute the balance
deltas; ``app.services.ledger`` loads the inputs under lock and writes the result.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from app.domain.errors import ValidationFailed
from app.domain.quantities import format_quantity

REAL_KINDS = frozenset({"bin", "receiving"})
STATUSES = ("available", "quarantine", "on_hold", "recalled", "expired", "damaged")
# Places where stock stops being ours to allocate: only available stock may go there.
OUTBOUND_KINDS = frozenset({"customer", "transit"})


class LedgerError(ValidationFailed):
    """A posting would break a ledger invariant; nothing is posted."""


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    kind: str
    warehouse_id: int | None

    @property
    def is_real(self) -> bool:
        return self.kind in REAL_KINDS


@dataclass(frozen=True)
class LotInfo:
    id: int
    product_id: int
    number: str
    status: str
    expiry_date: dt.date | None


@dataclass(frozen=True)
class Move:
    product_id: int
    from_location_id: int
    to_location_id: int
    quantity: Decimal
    lot_id: int | None = None
    serial_id: int | None = None
    from_status: str = "available"
    to_status: str = "available"
    # the reservation this move consumes (a transfer shipping what it reserved)
    reservation_id: int | None = None


@dataclass(frozen=True)
class Held:
    """What a balance holds now: on hand, and how much of it is reserved."""

    quantity: Decimal
    reserved: Decimal = Decimal(0)


BalanceKey = tuple[int, int, int, int, str]  # product, lot (0 = none), serial (0 = none), location, status


def from_key(m: Move) -> BalanceKey:
    return (m.product_id, m.lot_id or 0, m.serial_id or 0, m.from_location_id, m.from_status)


def to_key(m: Move) -> BalanceKey:
    return (m.product_id, m.lot_id or 0, m.serial_id or 0, m.to_location_id, m.to_status)


def compute_deltas(
    moves: Iterable[Move],
    balances: Mapping[BalanceKey, Held],
    places: Mapping[int, Place],
    lots: Mapping[int, LotInfo],
    serial_stock: Mapping[int, Mapping[tuple[int, str], Decimal]],
    today: dt.date,
    names: Mapping[str, Mapping[int, str]] | None = None,
    consumed: Mapping[BalanceKey, Decimal] | None = None,
) -> dict[BalanceKey, Decimal]:
    """Check ``moves`` and return the balance change per key.

    ``balances`` holds the current quantity and reservation of every key the
    moves touch; ``consumed`` the reserved quantity the moves take by consuming
    their reservations. Reserved units stay where they are: no move may take a
    balance below what is still reserved on it after the posting.
    ``serial_stock`` what each moved serial has now in real places, by
    (location, status).
    Raises LedgerError listing every problem found.
    """
    names = names or {}
    product_name = names.get("product", {})
    serial_name = names.get("serial", {})
    problems: list[str] = []
    deltas: dict[BalanceKey, Decimal] = defaultdict(Decimal)
    moves = list(moves)
    for i, m in enumerate(moves, start=1):
        where, zwhere = f"line {i}", f"第 {i} 行"
        src, dst = places.get(m.from_location_id), places.get(m.to_location_id)
        if src is None or dst is None:
            problems.append((f"{where}: unknown location", f"{zwhere}：库位不存在"))
            continue
        if not isinstance(m.quantity, Decimal) or not m.quantity.is_finite() or m.quantity <= 0:
            problems.append((f"{where}: quantity must be a positive number, got {m.quantity}", f"{zwhere}：数量必须为正数，实为 {m.quantity}"))
            continue
        if m.from_status not in STATUSES or m.to_status not in STATUSES:
            problems.append((f"{where}: unknown stock status", f"{zwhere}：库存状态无效"))
            continue
        if src.id == dst.id and m.from_status == m.to_status:
            problems.append((f"{where}: source and destination are the same", f"{zwhere}：来源与目的库位相同"))
            continue
        lot = lots.get(m.lot_id) if m.lot_id else None
        if m.lot_id and (lot is None or lot.product_id != m.product_id):
            product = product_name.get(m.product_id, m.product_id)
            problems.append((f"{where}: lot does not belong to product {product}",
                             f"{zwhere}：批次不属于产品 {product}"))
            continue
        if m.serial_id and m.quantity != 1:
            problems.append((f"{where}: a serial number moves one unit at a time, got {format_quantity(m.quantity)}",
                             f"{zwhere}：序列号一次只能移动一件，实为 {format_quantity(m.quantity)}"))
            continue
        if dst.kind in OUTBOUND_KINDS and src.is_real:
            if m.from_status != "available":
                problems.append((f"{where}: stock in status {m.from_status} cannot be shipped",
                                 f"{zwhere}：状态为 {m.from_status} 的库存不能发出"))
            if lot is not None and lot.status != "available":
                problems.append((f"{where}: lot {lot.number} is {lot.status} and cannot be shipped",
                                 f"{zwhere}：批次 {lot.number} 状态为 {lot.status}，不能发出"))
            if (dst.kind == "customer" and lot is not None and lot.expiry_date is not None
                    and lot.expiry_date < today):
                problems.append((f"{where}: lot {lot.number} expired on {lot.expiry_date} "
                                 "and cannot be shipped to a customer",
                                 f"{zwhere}：批次 {lot.number} 已于 {lot.expiry_date} 过期，不能发给客户"))
        deltas[from_key(m)] -= m.quantity
        deltas[to_key(m)] += m.quantity

    consumed = consumed or {}
    for key, delta in deltas.items():
        place = places[key[3]]
        if not place.is_real or delta >= 0:
            continue  # virtual places (supplier, customer, transit...) may go negative
        held = balances.get(key, Held(Decimal(0)))
        after = held.quantity + delta
        still_reserved = held.reserved - consumed.get(key, Decimal(0))
        if after >= still_reserved and after >= 0:
            continue
        product = product_name.get(key[0], key[0])
        lot = lots.get(key[1])
        what = (f"{product}" + (f" lot {lot.number}" if lot else "")
                + (f" serial {serial_name.get(key[2], key[2])}" if key[2] else ""))
        have, want = format_quantity(held.quantity), format_quantity(-delta)
        if still_reserved > 0:
            free = format_quantity(max(held.quantity - still_reserved, Decimal(0)))
            reserved = format_quantity(still_reserved)
            problems.append((
                f"not enough free stock of {what} in {place.code} ({key[4]}): {have} on hand, "
                f"{reserved} of it reserved for other documents, {free} free, {want} requested",
                f"{what} 在 {place.code}（{key[4]}）可用库存不足：现有 {have}，其中 {reserved} 已被其他单据预留，"
                f"可用 {free}，需要 {want}"))
        else:
            problems.append((
                f"not enough stock of {what} in {place.code} ({key[4]}): {have} on hand, {want} requested",
                f"{what} 在 {place.code}（{key[4]}）库存不足：现有 {have}，需要 {want}"))

    # A serial is in at most one real place, one unit, after the posting.
    for serial_id in {k[2] for k in deltas if k[2]}:
        stock = dict(serial_stock.get(serial_id, {}))
        for key, delta in deltas.items():
            if key[2] == serial_id and places[key[3]].is_real:
                pos = (key[3], key[4])
                stock[pos] = stock.get(pos, Decimal(0)) + delta
        held = sorted({places[loc].code for (loc, _), q in stock.items() if q > 0 and loc in places})
        if sum(q for q in stock.values() if q > 0) > 1:
            serial = serial_name.get(serial_id, serial_id)
            problems.append((f"serial {serial} is already in stock ({', '.join(held)}); "
                             "a serial can be in one place only",
                             f"序列号 {serial} 已在库（{', '.join(held)}），一个序列号只能在一个位置"))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise LedgerError("; ".join(en for en, _ in unique), details={"problems": [en for en, _ in unique]},
                          zh="；".join(zh for _, zh in unique))
    return {k: v for k, v in deltas.items() if v != 0}
