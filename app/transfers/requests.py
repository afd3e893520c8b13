"""Requesting a transfer (调拨申请): a draft with its lines, priced from the
product master, and the values the approval chain's conditions read."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents.engine import find_document, owner_of
from app.domain.errors import Conflict, DocumentInvalid, Forbidden, NotFound, Problems, ValidationFailed
from app.domain.expressions import LazyContext
from app.domain.quantities import parse_quantity
from app.stock.items import SERIAL_TRACKED
from app.transfers.transit import in_transit_quantity, open_exception_count

ENTITY = "TransferOrder"
ZERO = Decimal(0)


class TransferInvalid(ValidationFailed):
    pass


def get_transfer(ctx: ServiceContext, ref: Any, lock: bool = False):
    """A transfer by id or number that the user sees (either end in scope)."""
    return find_document(ctx, ENTITY, ref, lock=lock)


# header fields a draft's requester sets (the rest is set by the workflow)
HEADER_FIELDS = ("priority", "requested_date", "reason", "reason_code", "strategy")


def create_transfer(ctx: ServiceContext, data: dict):
    """Create a draft transfer with its lines. The source warehouse must be in
    the actor's scope; the destination may be any active warehouse."""
    m = ctx.models
    src = ctx.warehouse_in_scope(data.get("from_warehouse"), "source warehouse")
    dst = destination(ctx, data.get("to_warehouse"))
    _check_route(src, dst)
    transfer = m[ENTITY](from_warehouse=src, to_warehouse=dst, priority=data.get("priority") or "normal",
                         requested_date=data.get("requested_date"), reason=data.get("reason"),
                         reason_code=data.get("reason_code"), strategy=data.get("strategy"))
    transfer.lines.extend(_lines(ctx, data.get("lines"), {}, ("transfer not saved: ", "调拨单未保存：")))
    transfer.total_value = total_value(transfer)
    ctx.session.add(transfer)
    ctx.session.flush()
    return transfer


def update_transfer(ctx: ServiceContext, ref: Any, data: dict):
    """Change a draft: header fields given in ``data`` are replaced; ``lines``,
    when given, is the whole new list of lines (a line with the ``id`` of an
    existing line edits that line, one without adds a line, lines left out are
    removed). The same rules as ``create_transfer``; nothing is kept when any fails."""
    transfer = get_transfer(ctx, ref, lock=True)
    wf = ctx.workflows.get(ENTITY)
    initial = wf.initial if wf else "draft"
    if transfer.state != initial:
        state = wf.state_label(transfer.state, "en") if wf else transfer.state
        state_zh = wf.state_label(transfer.state, "zh") if wf else transfer.state
        raise Conflict(f"{transfer.name} is {state.lower()}: only a draft can be changed",
                       zh=f"{transfer.name} 当前为「{state_zh}」：只有草稿可以修改")
    if not ctx.actor.sees_warehouse(transfer.from_warehouse_id):
        code = transfer.from_warehouse.code
        raise Forbidden(f"{transfer.name} leaves from {code}, which is outside your data scope: "
                        "only its source warehouse may change it",
                        zh=f"{transfer.name} 从 {code} 调出，不在您的数据权限范围内：只有调出仓库可以修改")
    src = (ctx.warehouse_in_scope(data["from_warehouse"], "source warehouse")
           if data.get("from_warehouse") not in (None, "") else transfer.from_warehouse)
    dst = (destination(ctx, data["to_warehouse"])
           if data.get("to_warehouse") not in (None, "") else transfer.to_warehouse)
    _check_route(src, dst)
    lines = None
    if "lines" in data:
        lines = _lines(ctx, data["lines"], {line.id: line for line in transfer.lines},
                       ("transfer not saved: ", "调拨单未保存："))
    transfer.from_warehouse, transfer.to_warehouse = src, dst
    for key in HEADER_FIELDS:
        if key in data:
            setattr(transfer, key, data[key] if data[key] != "" else None)
    if not transfer.priority:
        transfer.priority = "normal"
    if lines is not None:
        transfer.lines[:] = lines  # lines left out are deleted (delete-orphan)
    transfer.total_value = total_value(transfer)
    ctx.session.flush()
    return transfer


def destination(ctx: ServiceContext, ref: Any):
    """Where a transfer goes: any active warehouse (scope limits only where it leaves from)."""
    dst = ctx.find("Warehouse", ref, key="code", what="destination warehouse")
    if dst.active is False:
        raise TransferInvalid(f"destination warehouse {dst.code} is not active",
                              zh=f"调入仓库 {dst.code} 已停用")
    return dst


def _check_route(src, dst) -> None:
    if src.id == dst.id:
        raise TransferInvalid("source and destination must differ", zh="调出与调入仓库不能相同")


def _lines(ctx: ServiceContext, lines, existing: dict, refused: tuple[str, str]) -> list:
    """The lines as entered, each checked; every problem reported at once. A
    line naming the ``id`` of one of ``existing`` edits that line in place."""
    if not lines:
        raise TransferInvalid("a transfer needs at least one line", zh="调拨单至少需要一行明细")
    out, problems, used = [], Problems(), set()
    for i, line in enumerate(lines, 1):
        try:
            values = line_values(ctx, line, f"line {i}")
            line_id = line.get("id")
            if line_id in (None, ""):
                out.append(ctx.models["TransferLine"](**values, reserved_qty=ZERO, picked_qty=ZERO,
                                                      shipped_qty=ZERO, received_qty=ZERO))
                continue
            current = existing.get(int(line_id)) if str(line_id).isdigit() else None
            if current is None or current.id in used:
                raise NotFound(f"line id {line_id} is not a line of this transfer",
                               zh=f"明细 {line_id} 不属于本调拨单")
            used.add(current.id)
            for attr, value in values.items():
                setattr(current, attr, value)
            out.append(current)
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
    problems.raise_if_any(DocumentInvalid, refused)
    return out


def line_values(ctx: ServiceContext, line: dict, where: str) -> dict:
    """What a line holds, checked: product by id, SKU or UDI-DI, an optional lot
    or serial of that product, the quantity; priced from the product."""
    m = ctx.models
    product = ctx.find("Product", line.get("product"), key="sku", what="product")
    qty = parse_quantity(line.get("quantity"), where)
    lot = serial = None
    if line.get("lot"):
        Lot = m["Lot"]
        lot = ctx.session.execute(sa.select(Lot).where(
            Lot.product_id == product.id, Lot.lot_number == str(line["lot"]))).scalar_one_or_none()
        if lot is None:
            raise NotFound(f"unknown lot {line['lot']} of {product.sku}",
                           zh=f"{product.sku} 没有批次 {line['lot']}")
    if line.get("serial"):
        S = m["Serial"]
        serial = ctx.session.execute(sa.select(S).where(
            S.product_id == product.id, S.serial_number == str(line["serial"]))).scalar_one_or_none()
        if serial is None:
            raise NotFound(f"unknown serial {line['serial']} of {product.sku}",
                           zh=f"{product.sku} 没有序列号 {line['serial']}")
        if qty != 1:
            raise ValidationFailed("a serial constraint means quantity 1", zh="指定序列号时数量必须为 1")
    if product.tracking in SERIAL_TRACKED and qty != qty.to_integral():
        raise ValidationFailed(f"{product.sku} is serial-tracked: whole units only",
                               zh=f"{product.sku} 按序列号管理：只能是整数件")
    return {"product": product, "quantity": qty, "lot": lot, "serial": serial,
            "unit_price": product.unit_price or ZERO}


def derive_transfer(session, transfer) -> None:
    """Lines added any way (this service, the generic API, a screen) are priced
    from the product master; the stored total follows the lines."""
    live = [line for line in transfer.lines if line not in session.deleted]
    for line in live:
        if line.unit_price is None and line.product is not None:
            line.unit_price = line.product.unit_price or ZERO
    transfer.total_value = sum((line_value(line) for line in live), ZERO)


def line_value(line) -> Decimal:
    product = line.product
    price = line.unit_price if line.unit_price is not None else (product.unit_price if product else None)
    return (price or ZERO) * (line.quantity or ZERO)


def total_value(transfer) -> Decimal:
    """The value of the lines as they are now (never a figure stored earlier)."""
    return sum((line_value(line) for line in transfer.lines), ZERO)


def transfer_context(ctx: ServiceContext, transfer) -> LazyContext:
    """What the approval chain's conditions (CEL) see, derived from the transfer
    as it is at this moment; costly values only when a condition names them."""
    return LazyContext({
        "id": transfer.id, "name": transfer.name, "state": transfer.state,
        "priority": transfer.priority, "from_warehouse": transfer.from_warehouse_id,
        "to_warehouse": transfer.to_warehouse_id,
        "from_region": transfer.from_warehouse.region_id, "to_region": transfer.to_warehouse.region_id,
        "total_value": total_value(transfer), "owner": owner_of(transfer),
        "lines": [{"product": line.product.sku, "risk_class": line.product.risk_class,
                   "implantable": bool(line.product.implantable), "quantity": line.quantity,
                   "value": line_value(line)} for line in transfer.lines],
    }, lazy={
        "open_exceptions": lambda: open_exception_count(ctx, transfer),
        "in_transit": lambda: in_transit_quantity(ctx, transfer),
    })
