"""Internal moves (移库): put-away from receiving into bins, or bin to bin
within one warehouse, keeping the stock's status."""
from __future__ import annotations

from typing import Any

from app.context import ServiceContext
from app.domain.errors import DocumentInvalid, NotFound, Problems, ValidationFailed
from app.domain.ledger import Move
from app.domain.quantities import parse_quantity
from app.stock.items import lot_ref, names_for, serial_ref
from app.stock.ledger import StockLedger
from app.stock.locations import bin_in_warehouse

def post_internal_move(ctx: ServiceContext, data: dict) -> Any:
    """Put-away or move stock between bins of one warehouse, keeping its status."""
    m = ctx.models
    warehouse = ctx.warehouse_in_scope(data.get("warehouse"))
    lines = data.get("lines") or []
    if not lines:
        raise ValidationFailed("a move needs at least one line", zh="移库单至少需要一行明细")
    doc = m["InternalMove"](warehouse=warehouse, moved_at=ctx.now(), reason=data.get("reason"),
                            status="posted")
    moves, problems, products = [], Problems(), []
    for i, line in enumerate(lines, 1):
        where = f"line {i}"
        try:
            product = ctx.find("Product", line.get("product"), key="sku", what="product")
            src = bin_in_warehouse(ctx, line.get("from_location"), warehouse, "from location")
            dst = bin_in_warehouse(ctx, line.get("to_location"), warehouse, "to location")
            qty = parse_quantity(line.get("quantity"), where)
            lot = lot_ref(ctx, product, line.get("lot"))
            serial = serial_ref(ctx, product, line.get("serial"))
            status = line.get("status") or "available"
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
            continue
        products.append(product)
        doc.lines.append(m["InternalMoveLine"](product=product, lot=lot, serial=serial,
                                               from_location=src, to_location=dst, quantity=qty))
        moves.append(Move(product_id=product.id, lot_id=lot.id if lot else None,
                          serial_id=serial.id if serial else None, from_location_id=src.id,
                          to_location_id=dst.id, quantity=qty, from_status=status,
                          to_status=status))
    problems.raise_if_any(DocumentInvalid, ("move not posted: ", "移库单未过账："))
    ctx.session.add(doc)
    ctx.session.flush()
    StockLedger(ctx.session, m).post_moves("InternalMove", doc.id, doc.name, moves,
                                           moved_at=doc.moved_at, names=names_for(products))
    return doc
