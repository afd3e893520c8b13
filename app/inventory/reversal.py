"""Corrections: a posted receipt, move or shipment is reversed by mirror moves,
never edited or deleted."""
from __future__ import annotations

from typing import Any

from app.context import ServiceContext
from app.domain.errors import Conflict, NotFound
from app.stock.ledger import StockLedger

def reverse_document(ctx: ServiceContext, entity: str, ref: Any) -> Any:
    """Correct a posted receipt, move or shipment with mirror moves."""
    doc = ctx.find(entity, ref, key="name", what=entity.lower())
    if not ctx.actor.sees_warehouse(doc.warehouse_id):
        raise NotFound(f"unknown {entity.lower()} {ref!r}", zh=f"单据 {ref!r} 不存在")
    if doc.status == "reversed":
        raise Conflict(f"{doc.name} was already reversed", zh=f"{doc.name} 已冲销")
    StockLedger(ctx.session, ctx.models).reverse_document(entity, doc.id)
    doc.status = "reversed"
    return doc
