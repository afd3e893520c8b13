"""What the transfer entry page reads: where a transfer may leave from (the
user's warehouses) and go to (any active warehouse), the choices of its enum
fields in the user's language, and a draft as the page edits it, with what is
available at the source. Saving goes through ``requests.create_transfer`` /
``update_transfer`` (the REST API), never through here."""
from __future__ import annotations

from typing import Any

from app.context import ServiceContext
from app.documents.engine import allows
from app.domain.clock import today
from app.domain.errors import Conflict, Forbidden
from app.domain.quantities import format_quantity
from app.stock.queries import active_warehouses, available_stock
from app.transfers.requests import ENTITY, get_transfer


def field_choices(ctx: ServiceContext, field: str, lang: str) -> list[dict]:
    """The options of a transfer's enum field, labelled in ``lang``."""
    meta = ctx.models.meta.entities[ENTITY].fields[field]
    return [{"value": o, "label": meta.option_label(o).get(lang) or o} for o in meta.options]


def entry_form(ctx: ServiceContext, lang: str) -> dict:
    return {"sources": active_warehouses(ctx, in_scope=True),
            "destinations": active_warehouses(ctx, in_scope=False),
            "priorities": field_choices(ctx, "priority", lang),
            "reasons": field_choices(ctx, "reason_code", lang),
            "strategies": field_choices(ctx, "strategy", lang)}


def editable_draft(ctx: ServiceContext, ref: Any):
    """The transfer, if the user may change it now: a draft leaving one of their
    warehouses; else the reason why not (Conflict / Forbidden), in both languages."""
    transfer = get_transfer(ctx, ref)
    wf = ctx.workflows[ENTITY]
    if transfer.state != wf.initial:
        raise Conflict(f"{transfer.name} is {wf.state_label(transfer.state, 'en').lower()}: "
                       "only a draft can be changed",
                       zh=f"{transfer.name} 当前为「{wf.state_label(transfer.state, 'zh')}」：只有草稿可以修改")
    if not ctx.actor.sees_warehouse(transfer.from_warehouse_id):
        raise Forbidden(f"{transfer.name} leaves from {transfer.from_warehouse.code}, which is outside "
                        "your data scope: only its source warehouse may change it",
                        zh=f"{transfer.name} 从 {transfer.from_warehouse.code} 调出，不在您的数据权限范围内："
                           "只有调出仓库可以修改")
    if not allows(ctx, ENTITY, "write"):
        raise Forbidden("your roles do not allow changing transfers", zh="您的角色不能修改调拨单")
    return transfer


def may_edit(ctx: ServiceContext, ref: Any) -> bool:
    try:
        editable_draft(ctx, ref)
    except (Conflict, Forbidden):
        return False
    return True


def draft_for_entry(ctx: ServiceContext, ref: Any) -> dict:
    """A draft as the entry page edits it, with what is available at its source."""
    transfer = editable_draft(ctx, ref)
    products = {line.product_id for line in transfer.lines}
    stock = available_stock(ctx, transfer.from_warehouse_id, products, today())
    return {
        "id": transfer.id, "name": transfer.name,
        "from_warehouse": transfer.from_warehouse.code, "to_warehouse": transfer.to_warehouse.code,
        "priority": transfer.priority or "normal",
        "requested_date": transfer.requested_date.isoformat() if transfer.requested_date else "",
        "reason_code": transfer.reason_code or "", "reason": transfer.reason or "",
        "strategy": transfer.strategy or "",
        "lines": [{"id": line.id, "quantity": format_quantity(line.quantity),
                   "lot": line.lot.lot_number if line.lot else "",
                   "serial": line.serial.serial_number if line.serial else "",
                   "product": {"id": line.product.id, "sku": line.product.sku, "name": line.product.name,
                               "model": line.product.model, "udi_di": line.product.udi_di,
                               "tracking": line.product.tracking, **stock[line.product_id]}}
                  for line in transfer.lines],
    }


def destination_of(ctx: ServiceContext, ref: Any) -> str | None:
    """The destination's code when the user works there (to put away what arrived)."""
    transfer = get_transfer(ctx, ref)
    return transfer.to_warehouse.code if ctx.actor.sees_warehouse(transfer.to_warehouse_id) else None
