"""Reservations: units set aside in a bin for one document (a transfer approved
and waiting to be picked). They live beside the ledger: a balance's
``reserved`` always equals its open reservations, the ledger refuses any move
that would take a balance below what is reserved on it, and a move consumes a
reservation only by naming it (``Move.reservation_id``). Nothing else writes
``stock_balance.reserved``."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.ledger import BalanceKey, LedgerError
from app.domain.quantities import format_quantity
from app.stock.ledger import StockLedger

ZERO = Decimal(0)


@dataclass(frozen=True)
class Hold:
    """Units to reserve: ``quantity`` of one available balance, for one line."""

    line_id: int | None
    product_id: int
    lot_id: int
    serial_id: int
    location_id: int
    quantity: Decimal

    @property
    def key(self) -> BalanceKey:
        return (self.product_id, self.lot_id, self.serial_id, self.location_id, "available")


def reserve(ctx: ServiceContext, document_type: str, document_id: int, holds: list[Hold]) -> None:
    """Set ``holds`` aside for the document. The balances are locked and each must
    have that much free (on hand minus reserved), else nothing is reserved."""
    if not holds:
        return
    ledger = StockLedger(ctx.session, ctx.models)
    wanted: dict[BalanceKey, Decimal] = defaultdict(Decimal)
    for h in holds:
        wanted[h.key] += h.quantity
    held = ledger.locked_balances(set(wanted))
    problems = []
    for key, quantity in wanted.items():
        balance = held.get(key)
        free = (balance.quantity - balance.reserved) if balance else ZERO
        if quantity > free:
            problems.append((f"only {format_quantity(free)} of product {key[0]} is free in location "
                             f"{key[3]}, {format_quantity(quantity)} to reserve",
                             f"产品 {key[0]} 在库位 {key[3]} 的可用数量仅 {format_quantity(free)}，"
                             f"需预留 {format_quantity(quantity)}"))
    if problems:
        raise LedgerError("; ".join(en for en, _ in problems), zh="；".join(zh for _, zh in problems))
    b, r = ctx.models.table("stock_balance"), ctx.models.table("stock_reservation")
    ids = _balance_ids(ctx, set(wanted))
    now = ctx.now()
    ctx.session.execute(r.insert(), [{
        "document_type": document_type, "document_id": document_id, "line_id": h.line_id,
        "balance_id": ids[h.key], "product_id": h.product_id, "lot_id": h.lot_id,
        "serial_id": h.serial_id, "location_id": h.location_id, "quantity": h.quantity,
        "picked": ZERO, "state": "active", "created_at": now} for h in holds])
    for key, quantity in wanted.items():
        ctx.session.execute(sa.update(b).where(b.c.id == ids[key]).values(reserved=b.c.reserved + quantity))


def release(ctx: ServiceContext, document_type: str, document_id: int) -> int:
    """Give back every open reservation of the document; returns how many."""
    b, r = ctx.models.table("stock_balance"), ctx.models.table("stock_reservation")
    rows = open_reservations(ctx, document_type, document_id)
    for row in rows:
        ctx.session.execute(sa.update(b).where(b.c.id == row.balance_id)
                            .values(reserved=b.c.reserved - row.quantity))
    if rows:
        ctx.session.execute(sa.update(r).where(r.c.id.in_([row.id for row in rows]))
                            .values(state="released"))
    return len(rows)


def open_reservations(ctx: ServiceContext, document_type: str, document_id: int) -> list:
    r = ctx.models.table("stock_reservation")
    return ctx.session.execute(sa.select(r).where(
        r.c.document_type == document_type, r.c.document_id == document_id,
        r.c.state == "active").order_by(r.c.id)).all()


def mark_picked(ctx: ServiceContext, reservation_id: int, quantity: Decimal) -> None:
    r = ctx.models.table("stock_reservation")
    ctx.session.execute(sa.update(r).where(r.c.id == reservation_id).values(picked=r.c.picked + quantity))


def _balance_ids(ctx: ServiceContext, keys: set[BalanceKey]) -> dict[BalanceKey, int]:
    b = ctx.models.table("stock_balance").c
    rows = ctx.session.execute(sa.select(b.id, b.product_id, b.lot_id, b.serial_id, b.location_id, b.status)
                               .where(sa.tuple_(b.product_id, b.lot_id, b.serial_id, b.location_id,
                                                b.status).in_(sorted(keys))))
    return {tuple(row[1:]): row.id for row in rows}
