"""Corrections: a posted receipt, move or shipment is reversed by mirror moves,
never edited or deleted. A document is reversed exactly once: its row is locked
while the reversal posts, and the ledger refuses a second reversal of a move
(unique index); reversing units another document has reserved is refused by
the ledger like any other move."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import Conflict, NotFound
from app.domain.ledger import LedgerError
from app.stock.ledger import StockLedger

LABELS = {"Receipt": ("receipt", "入库单"), "Shipment": ("shipment", "出库单"),
          "InternalMove": ("move", "移库单")}


def reverse_document(ctx: ServiceContext, entity: str, ref: Any) -> Any:
    """Correct a posted receipt, move or shipment with mirror moves. Refused when
    it was reversed already, or when its units are no longer where it put them
    (put away, shipped or reserved since): those must be moved back first."""
    en, zh = LABELS.get(entity, (entity.lower(), entity))
    try:
        found = ctx.find(entity, ref, key="name", what=en)
    except NotFound:
        raise NotFound(f"unknown {en} {ref!r}", zh=f"{zh} {ref!r} 不存在") from None
    model = ctx.models[entity]
    # lock the document (PostgreSQL; SQLite writers are serialized): a concurrent
    # reversal waits here, then sees it reversed
    doc = ctx.session.execute(sa.select(model).where(model.id == found.id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()
    if not ctx.actor.sees_warehouse(doc.warehouse_id):
        raise NotFound(f"unknown {en} {ref!r}", zh=f"{zh} {ref!r} 不存在")
    if doc.status == "reversed":
        raise Conflict(f"{doc.name} was already reversed", zh=f"{doc.name} 已冲销，不能再次冲销")
    try:
        StockLedger(ctx.session, ctx.models).reverse_document(entity, doc.id)
    except LedgerError as exc:
        raise LedgerError(
            f"{doc.name} cannot be reversed: its units are no longer all where it left them "
            f"(put away, shipped or reserved since); move them back first. {exc.message}",
            details=exc.details,
            zh=f"{doc.name} 无法冲销：其货物已不全在原库位（已上架、发出或被预留），请先移回。"
               f"{exc.in_language('zh')}") from None
    doc.status = "reversed"
    return doc
