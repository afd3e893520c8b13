"""Figures for the home dashboard, limited to the actor's warehouses: stock,
goods in transit, transfers waiting for approval, open receiving exceptions
and lots close to expiry (not yet expired); and the alert panel (open notifications)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.actor import Actor
from app.domain.clock import today as utc_today
from app.domain.quantities import format_quantity
from app.notifications.inbox import alert_panel as inbox_panel



def dashboard_figures(session, models, actor: Actor, workflows: dict,
                      today: dt.date | None = None) -> dict:
    today = today or utc_today()
    scope = None if actor.warehouse_ids is None else list(actor.warehouse_ids)
    W, T, E = models["Warehouse"], models["TransferOrder"], models["TransferException"]
    B, Lot = models.table("stock_balance"), models["Lot"]

    def scoped(q, *columns):
        return q if scope is None else q.where(sa.or_(*(c.in_(scope) for c in columns)))

    figures = {"warehouses": session.execute(scoped(
        sa.select(sa.func.count()).select_from(W), W.id)).scalar_one()}
    lots, units = session.execute(scoped(sa.select(
        sa.func.count(sa.distinct(B.c.lot_id)), sa.func.coalesce(sa.func.sum(B.c.quantity), 0)
    ).where(B.c.is_real, B.c.quantity > 0), B.c.warehouse_id)).one()
    figures["lots_in_stock"], figures["units_in_stock"] = lots, format_quantity(units)
    figures["in_transit"] = format_quantity(session.execute(scoped(
        sa.select(sa.func.coalesce(sa.func.sum(B.c.quantity), 0))
        .join(T, T.transit_location_id == B.c.location_id).where(B.c.quantity > 0),
        T.from_warehouse_id, T.to_warehouse_id)).scalar_one())
    wf = workflows["TransferOrder"]
    approval_states = [s for s in wf.states if wf.is_approval_state(s)]
    figures["pending_transfers"] = session.execute(scoped(
        sa.select(sa.func.count()).select_from(T).where(T.state.in_(approval_states)),
        T.from_warehouse_id, T.to_warehouse_id)).scalar_one()
    figures["overdue_in_transit"] = session.execute(scoped(
        sa.select(sa.func.count()).select_from(T).where(
            T.state == "shipped", T.expected_arrival < today),
        T.from_warehouse_id, T.to_warehouse_id)).scalar_one()
    figures["open_exceptions"] = session.execute(scoped(
        sa.select(sa.func.count()).select_from(E).where(E.status == "open"),
        E.warehouse_id)).scalar_one()
    lots_in_stock = (sa.select(sa.func.count(sa.distinct(B.c.lot_id)))
                     .join(Lot, Lot.id == B.c.lot_id).where(B.c.is_real, B.c.quantity > 0))
    # expiring: not expired yet (the expiry date is the last day of use), within the window
    window = today + dt.timedelta(days=models.meta.policies.expiry_warning_days)
    figures["expiring_lots"] = session.execute(scoped(lots_in_stock.where(
        Lot.expiry_date >= today, Lot.expiry_date <= window), B.c.warehouse_id)).scalar_one()
    return figures


def alert_panel(ctx, kinds, lang: str, workflow_entities=frozenset()) -> dict:
    """The alert panel: the actor's open notifications by severity and the
    latest unread ones (the inbox's own rules of who sees what)."""
    return inbox_panel(ctx, kinds, lang, workflow_entities=workflow_entities)
