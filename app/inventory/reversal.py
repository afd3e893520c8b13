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
from app.stock.ledger import StockLedger


def reverse_document(ctx: ServiceContext, entity: str, ref: Any) -> Any:
    """Correct a posted receipt, move or shipment with mirror moves."""
    found = ctx.find(entity, ref, key="name", what=entity.lower())
    model = ctx.models[entity]
    # lock the document (PostgreSQL; SQLite writers are serialized): a concurrent
    # reversal waits here, then sees it reversed
    doc = ctx.session.execute(sa.select(model).where(model.id == found.id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()
    if not ctx.actor.sees_warehouse(doc.warehouse_id):
        raise NotFound(f"unknown {entity.lower()} {ref!r}", zh=f"{ref!r} 不存在")
    if doc.status == "reversed":
        raise Conflict(f"{doc.name} was already reversed", zh=f"{doc.name} 已冲销")
    StockLedger(ctx.session, ctx.models).reverse_document(entity, doc.id)
    doc.status = "reversed"
    return doc
