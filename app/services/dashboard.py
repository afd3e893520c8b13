"""Figures for the home dashboard, limited to the actor's warehouses."""
from __future__ import annotations

import sqlalchemy as sa

from app.actor import Actor


def dashboard_figures(session, models, actor: Actor) -> dict:
    W = models["Warehouse"]
    q = sa.select(sa.func.count()).select_from(W)
    if actor.warehouse_ids is not None:
        q = q.where(W.id.in_(list(actor.warehouse_ids)))
    figures = {"warehouses": session.execute(q).scalar_one()}
    if "stock_balance" in models.metadata.tables:
        B = models.table("stock_balance")
        cond = [B.c.is_real, B.c.quantity > 0]
        if actor.warehouse_ids is not None:
            cond.append(B.c.warehouse_id.in_(list(actor.warehouse_ids)))
        row = session.execute(sa.select(
            sa.func.count(sa.distinct(B.c.lot_id)), sa.func.coalesce(sa.func.sum(B.c.quantity), 0)
        ).where(*cond)).one()
        figures["lots_in_stock"] = row[0]
        figures["units_in_stock"] = row[1]
    return figures
