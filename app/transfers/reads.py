"""A transfer as the API and the pages show it: lines, pick list, what is in
transit, exceptions with the decisions open to the user, history with
signatures, and the actions the user may take."""
from __future__ import annotations

from decimal import Decimal

from app.context import ServiceContext
from app.documents.engine import allowed_actions, history_of
from app.domain.quantities import format_quantity
from app.transfers.exceptions import ENTITY as EXCEPTION
from app.transfers.picking import pick_list
from app.transfers.requests import ENTITY, total_value
from app.transfers.transit import exceptions_of, in_transit_quantity

ZERO = Decimal(0)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def option_label(ctx: ServiceContext, entity: str, field: str, value, lang: str) -> str:
    """The label of an enum value in ``lang`` (the value itself when unknown)."""
    if value in (None, ""):
        return ""
    return ctx.models.meta.entities[entity].fields[field].option_label(value).get(lang) or str(value)


def transfer_detail(ctx: ServiceContext, transfer, lang: str = "en") -> dict:
    wf = ctx.workflows[ENTITY]
    exceptions = exceptions_of(ctx, transfer)
    return {
        "id": transfer.id, "name": transfer.name, "state": transfer.state,
        "state_label": wf.state_label(transfer.state, lang),
        "from_warehouse": transfer.from_warehouse.code, "to_warehouse": transfer.to_warehouse.code,
        "priority": transfer.priority,
        "priority_label": option_label(ctx, ENTITY, "priority", transfer.priority, lang),
        "requested_date": _iso(transfer.requested_date),
        "reason": transfer.reason, "reason_code": transfer.reason_code,
        "reason_label": option_label(ctx, ENTITY, "reason_code", transfer.reason_code, lang),
        "total_value": format_quantity(total_value(transfer)),
        "carrier": transfer.carrier.code if transfer.carrier else None,
        "vehicle": transfer.vehicle, "tracking_no": transfer.tracking_no,
        "expected_arrival": _iso(transfer.expected_arrival), "shipped_at": _iso(transfer.shipped_at),
        "received_at": _iso(transfer.received_at), "created_by": transfer.created_by,
        "transit_location": transfer.transit_location.code if transfer.transit_location else None,
        "in_transit": format_quantity(in_transit_quantity(ctx, transfer)),
        "lines": [{"id": line.id, "product": line.product.sku, "product_name": line.product.name,
                   "risk_class": line.product.risk_class,
                   "risk_class_label": option_label(ctx, "Product", "risk_class", line.product.risk_class, lang),
                   "quantity": format_quantity(line.quantity),
                   "lot": line.lot.lot_number if line.lot else None,
                   "serial": line.serial.serial_number if line.serial else None,
                   "reserved": format_quantity(line.reserved_qty or ZERO),
                   "picked": format_quantity(line.picked_qty or ZERO),
                   "shipped": format_quantity(line.shipped_qty or ZERO),
                   "received": format_quantity(line.received_qty or ZERO)} for line in transfer.lines],
        "pick_list": pick_list(ctx, transfer),
        "exceptions": [{"id": e.id, "kind": e.kind, "product": e.product.sku,
                        "kind_label": option_label(ctx, EXCEPTION, "kind", e.kind, lang),
                        "status_label": option_label(ctx, EXCEPTION, "status", e.status, lang),
                        "resolution_label": option_label(ctx, EXCEPTION, "resolution", e.resolution, lang),
                        "lot": e.lot.lot_number if e.lot else None,
                        "serial": e.serial.serial_number if e.serial else None,
                        "quantity": format_quantity(e.quantity), "status": e.status,
                        "resolution": e.resolution, "resolved_by": e.resolved_by,
                        "resolved_at": _iso(e.resolved_at), "note": e.note,
                        "actions": (allowed_actions(ctx, EXCEPTION, e, lang)
                                    if e.status == "open" and EXCEPTION in ctx.workflows else [])}
                       for e in exceptions],
        "history": [{**h, "at": _iso(h["at"]), "signed_at": _iso(h["signed_at"])}
                    for h in history_of(ctx, ENTITY, transfer, lang)],
        "allowed_actions": allowed_actions(ctx, ENTITY, transfer, lang),
    }
