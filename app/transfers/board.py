"""The transfer board (调拨看板) and a transfer's page, as data: the generic
document board with what a transfer card shows (route, priority, dates,
overdue in transit), and the detail with what is on the truck."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from app.context import ServiceContext
from app.documents.board import board, board_documents
from app.domain.clock import today as utc_today
from app.domain.quantities import format_quantity
from app.i18n import local_time
from app.transfers.reads import option_label, transfer_detail
from app.transfers.requests import ENTITY, get_transfer, total_value
from app.transfers.transit import in_transit_lines


def _day(value) -> str:
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def overdue_days(transfer, today: dt.date) -> int:
    """Days a shipped transfer is past its expected arrival (0 when it is not)."""
    if transfer.state == "shipped" and transfer.expected_arrival and transfer.expected_arrival < today:
        return (today - transfer.expected_arrival).days
    return 0


def carriers(ctx: ServiceContext) -> list[dict]:
    P = ctx.models["Partner"]
    rows = ctx.session.execute(sa.select(P.code, P.name).where(P.kind == "carrier")
                               .order_by(P.code)).all()
    return [{"code": c, "name": n} for c, n in rows]


def transfer_board(ctx: ServiceContext, lang: str, today: dt.date | None = None) -> dict:
    """Everything the board shows, in one query for the transfers (warehouses
    and lines loaded with it), urgent and soonest needed first."""
    today = today or utc_today()
    T, TL = ctx.models[ENTITY], ctx.models["TransferLine"]
    stmt = (board_documents(ctx, ENTITY)
            .options(joinedload(T.from_warehouse), joinedload(T.to_warehouse),
                     selectinload(T.lines).joinedload(TL.product))
            .order_by(sa.case((T.priority == "urgent", 0), else_=1),
                      T.requested_date.is_(None), T.requested_date, T.id))
    rows = ctx.session.execute(stmt).unique().scalars().all()

    def card(t) -> dict:
        late = overdue_days(t, today)
        return {"from": t.from_warehouse.code, "from_name": t.from_warehouse.name,
                "to": t.to_warehouse.code, "to_name": t.to_warehouse.name,
                "priority": t.priority or "normal", "urgent": t.priority == "urgent",
                "priority_label": option_label(ctx, ENTITY, "priority", t.priority or "normal", lang),
                "requested_date": _day(t.requested_date), "expected_arrival": _day(t.expected_arrival),
                "overdue": bool(late), "overdue_days": late, "lines": len(t.lines),
                "total_value": format_quantity(total_value(t)), "reason": t.reason or ""}

    data = board(ctx, ENTITY, lang, documents=rows, card=card)
    data["overdue"] = sum(1 for t in rows if overdue_days(t, today))
    data["carriers"] = carriers(ctx)
    return data


def transfer_page(ctx: ServiceContext, ref: str, lang: str, today: dt.date | None = None,
                  zone: dt.tzinfo = dt.timezone.utc) -> dict:
    transfer = get_transfer(ctx, ref)  # NotFound outside the user's scope
    data = transfer_detail(ctx, transfer, lang)
    data["from_name"] = transfer.from_warehouse.name
    data["to_name"] = transfer.to_warehouse.name
    data["overdue"] = bool(overdue_days(transfer, today or utc_today()))
    data["in_transit_lines"] = in_transit_lines(ctx, transfer)
    data["carriers"] = carriers(ctx)
    for h in data["history"]:
        h["at_text"], h["signed_at_text"] = _when(h["at"], zone), _when(h["signed_at"], zone)
    data["shipped_at_text"] = _when(data["shipped_at"], zone)
    data["received_at_text"] = _when(data["received_at"], zone)
    for e in data["exceptions"]:
        e["resolved_at_text"] = _when(e["resolved_at"], zone)
    return data


def _when(iso: str | None, zone: dt.tzinfo) -> str:
    """A stored UTC time as the page shows it: in the business's zone, to the minute."""
    return local_time(dt.datetime.fromisoformat(iso), zone) if iso else ""
