"""Requesting a transfer (调拨申请): a draft with its lines, priced from the
product master, and the values the approval chain's conditions read."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents.engine import find_document, owner_of
from app.domain.errors import DocumentInvalid, NotFound, Problems, ValidationFailed
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


def create_transfer(ctx: ServiceContext, data: dict):
    """Create a draft transfer with its lines. The source warehouse must be in
    the actor's scope; the destination may be any warehouse."""
    m = ctx.models
    src = ctx.warehouse_in_scope(data.get("from_warehouse"), "source warehouse")
    dst = ctx.find("Warehouse", data.get("to_warehouse"), key="code", what="destination warehouse")
    if src.id == dst.id:
        raise TransferInvalid("source and destination must differ", zh="调出与调入仓库不能相同")
    lines = data.get("lines") or []
    if not lines:
        raise TransferInvalid("a transfer needs at least one line", zh="调拨单至少需要一行明细")
    transfer = m[ENTITY](from_warehouse=src, to_warehouse=dst, priority=data.get("priority") or "normal",
                         requested_date=data.get("requested_date"), reason=data.get("reason"),
                         reason_code=data.get("reason_code"), strategy=data.get("strategy"))
    problems = Problems()
    for i, line in enumerate(lines, 1):
        try:
            transfer.lines.append(new_line(ctx, line, f"line {i}"))
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
    problems.raise_if_any(DocumentInvalid, ("transfer not created: ", "调拨单未创建："))
    ctx.session.add(transfer)
    ctx.session.flush()
    return transfer


def new_line(ctx: ServiceContext, line: dict, where: str):
    """A transfer line from what was entered: product by id, SKU or UDI-DI, an
    optional lot or serial of that product, the quantity; priced from the product."""
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
    return m["TransferLine"](product=product, quantity=qty, lot=lot, serial=serial,
                             unit_price=product.unit_price or ZERO, reserved_qty=ZERO,
                             picked_qty=ZERO, shipped_qty=ZERO, received_qty=ZERO)


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
