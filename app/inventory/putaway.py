"""Put-away (上架): what waits in a warehouse's receiving area, with the bin
suggested for each item (``app.stock.queries.suggested_bins``: the bin set up
for the product, else the bin already holding the lot, else the product), and
the bins it may go to. Posting is an internal move
(``app.inventory.internal_moves.post_internal_move``)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.stock.queries import receiving_stock


def putaway_worklist(ctx: ServiceContext, warehouse_ref: Any) -> dict:
    """The receiving area of one of the user's warehouses, and its bins."""
    warehouse = ctx.warehouse_in_scope(warehouse_ref)
    L = ctx.models["Location"]
    bins = [{"code": c, "name": n or "", "zone": z or ""} for c, n, z in ctx.session.execute(
        sa.select(L.code, L.name, L.zone)
        .where(L.warehouse_id == warehouse.id, L.kind == "bin", L.active.isnot(False))
        .order_by(L.pick_sequence, L.code))]
    return {"warehouse": warehouse.code, "warehouse_name": warehouse.name,
            "items": receiving_stock(ctx, warehouse.id), "bins": bins}
