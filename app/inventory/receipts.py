"""Receipts (入库): goods from a supplier into a warehouse bin, by UDI scan or
by hand. Scans create or match lots and serials; a scan that contradicts what
is on record is refused. Posted whole through the ledger, or not at all.

Dates: a label's expiry (GS1 AI 17) is the lot's expiry; a label with only a
best-before date (AI 15) gives the expiry too, unless the product says its
best-before date is not the expiry (``Product.best_before_is_expiry``). Where
the label has no usable date, the clerk types the expiry. Expired units are
refused, unless the warehouse accepts them (``Warehouse.accept_expired``):
then they go straight into quarantine and their lot is marked expired, so
they can never be allocated or shipped."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import DocumentInvalid, NotFound, Problems, ValidationFailed
from app.domain.ledger import Move
from app.domain.quantities import format_quantity, parse_quantity
from app.domain.udi import UdiData, UdiError
from app.stock.items import (
    LOT_TRACKED, SERIAL_TRACKED, names_for, parse_scan, product_for_udi, products_by_reference,
)
from app.stock.ledger import StockLedger
from app.stock.locations import bin_in_warehouse, receiving_location, virtual_location

RECEIPT_REFUSED = ("receipt not posted: ", "入库单未过账：")
# a typed expiry further away than this is taken for a typing error
MAX_EXPIRY_YEARS = 50

@dataclass
class ReceiptLineIn:
    """One line as entered: a scan, or product/lot/serial/expiry by hand."""
    index: int
    barcode: str | None = None
    product: Any = None
    lot_number: str | None = None
    serial: str | None = None
    expiry_date: dt.date | None = None
    production_date: dt.date | None = None
    quantity: Any = None


def post_receipt(ctx: ServiceContext, data: dict) -> Any:
    """Receive goods from a supplier into a warehouse bin and post the moves
    supplier → bin. Scans create or match lots and serials; a scan that
    contradicts what is on record is refused. Returns the Receipt."""
    m = ctx.models
    warehouse = ctx.warehouse_in_scope(data.get("warehouse"))
    supplier = ctx.find("Partner", data.get("supplier"), key="code", what="supplier")
    if supplier.kind != "supplier":
        raise ValidationFailed(f"{supplier.code} is a {supplier.kind}, not a supplier",
                               zh=f"{supplier.code} 不是供应商")
    location = (bin_in_warehouse(ctx, data["location"], warehouse) if data.get("location")
                else receiving_location(ctx, warehouse))
    inspection = bool(data.get("inspection"))
    lines_in = [ReceiptLineIn(index=i, **line) for i, line in enumerate(data.get("lines") or [], 1)]
    if not lines_in:
        raise ValidationFailed("a receipt needs at least one line", zh="入库单至少需要一行明细")

    problems = Problems()
    scans: dict[int, UdiData] = {}
    for line in lines_in:
        if line.barcode:
            try:
                scans[line.index] = parse_scan(ctx, line.barcode)
            except UdiError as exc:
                problems.line(line.index, exc)
    known = products_by_reference(ctx, {u.di for u in scans.values()},
                                  {str(l.product) for l in lines_in if l.product not in (None, "")})
    resolved = []  # (line_in, product, lot_number, serial, expiry, production, qty)
    for line in lines_in:
        where = f"line {line.index}"
        if line.barcode and line.index not in scans:
            continue
        try:
            product, lot_number, serial = None, line.lot_number, line.serial
            expiry, production = line.expiry_date, line.production_date
            qty_value = line.quantity
            if line.barcode:
                udi = scans[line.index]
                product = product_for_udi(ctx, udi, known)
                if line.product not in (None, "") and str(line.product) not in (
                        str(product.id), product.sku):
                    raise ValidationFailed(f"the scan is {product.sku}, not {line.product}",
                                           zh=f"扫描的是 {product.sku}，不是 {line.product}")
                for name, scanned, given in (("lot", udi.lot, lot_number), ("serial", udi.serial, serial)):
                    if scanned and given and scanned != given:
                        raise ValidationFailed(
                            f"scanned {name} {scanned} differs from entered {given}",
                            zh=f"扫描的{'批号' if name == 'lot' else '序列号'} {scanned} 与录入的 {given} 不一致")
                lot_number, serial = lot_number or udi.lot, serial or udi.serial
                scanned, _ = label_expiry(product, udi)
                if expiry and scanned and expiry != scanned:
                    raise ValidationFailed(f"the label says expiry {scanned}, but {expiry} was entered",
                                           zh=f"标签上的失效日期为 {scanned}，但输入的是 {expiry}")
                expiry = expiry or scanned
                production = production or udi.production_date
                if qty_value in (None, ""):
                    qty_value = udi.quantity or 1
            else:
                product = known.get(str(line.product))
                if product is None:
                    raise NotFound(f"unknown product {line.product!r}", zh=f"产品 {line.product!r} 不存在")
            qty = parse_quantity(qty_value if qty_value not in (None, "") else 1, where)
            if product.tracking in LOT_TRACKED and not lot_number:
                raise ValidationFailed(f"{product.sku} is lot-tracked: the lot number is missing",
                                       zh=f"{product.sku} 按批次管理：缺少批号")
            if product.tracking in SERIAL_TRACKED:
                if not serial:
                    raise ValidationFailed(f"{product.sku} is serial-tracked: the serial number is missing",
                                           zh=f"{product.sku} 按序列号管理：缺少序列号")
                if qty != 1:
                    raise ValidationFailed(f"{product.sku} is serial-tracked: one serial is one unit",
                                           zh=f"{product.sku} 按序列号管理：一个序列号即一件")
            if product.tracking == "none" and (lot_number or serial):
                lot_number = serial = None  # untracked products keep no lot
            if line.expiry_date:
                check_typed_expiry(line.expiry_date, ctx.now().date())
            resolved.append((line, product, lot_number, serial, expiry, production, qty))
        except (ValidationFailed, UdiError, NotFound) as exc:
            problems.line(line.index, exc)
    problems.raise_if_any(DocumentInvalid, RECEIPT_REFUSED)

    lots = _match_lots(ctx, resolved, problems, inspection)
    serials = _match_serials(ctx, resolved, lots, problems)
    statuses = _statuses(ctx, warehouse, resolved, lots, problems, inspection)
    problems.raise_if_any(DocumentInvalid, RECEIPT_REFUSED)

    now = ctx.now()
    receipt = m["Receipt"](supplier=supplier, warehouse=warehouse, location=location,
                           inspection=inspection, reference=data.get("reference"),
                           received_at=now, status="posted", note=data.get("note"))
    moves = []
    supplier_loc = virtual_location(ctx, "supplier")
    for line, product, lot_number, serial, expiry, production, qty in resolved:
        lot = lots.get((product.id, lot_number)) if lot_number else None
        ser = serials.get((product.id, serial)) if serial else None
        receipt.lines.append(m["ReceiptLine"](
            product=product, lot=lot, serial=ser, quantity=qty,
            expiry_date=lot.expiry_date if lot else expiry, barcode=line.barcode))
        moves.append((product, lot, ser, qty, statuses[line.index]))
    for lot in {id(l): l for _, l, _, _, _ in moves if l is not None}.values():
        if lot.first_received_at is None:  # a lot on record that never was in stock
            lot.first_received_at = now
    ctx.session.add(receipt)
    ctx.session.flush()
    StockLedger(ctx.session, m).post_moves("Receipt", receipt.id, receipt.name, [
        Move(product_id=p.id, lot_id=l.id if l else None, serial_id=s.id if s else None,
             from_location_id=supplier_loc.id, to_location_id=location.id, quantity=q,
             from_status=status, to_status=status)
        for p, l, s, q, status in moves], moved_at=now,
        names=names_for([p for p, *_ in moves], serials=[s for _, _, s, _, _ in moves if s]))
    return receipt


def label_expiry(product, udi: UdiData) -> tuple[dt.date | None, str | None]:
    """The expiry a scanned label states for ``product``, and which date it is:
    ``expiry`` (AI 17), else ``best_before`` (AI 15) unless the product says its
    best-before date is not the expiry. Sell-by and due dates never count."""
    if udi.expiry is not None:
        return udi.expiry, "expiry"
    if udi.best_before is not None and product.best_before_is_expiry is not False:
        return udi.best_before, "best_before"
    return None, None


def check_typed_expiry(expiry: dt.date, today: dt.date) -> None:
    """A typed expiry date that is most likely a typing error is refused."""
    if expiry.year > today.year + MAX_EXPIRY_YEARS:
        raise ValidationFailed(f"expiry date {expiry} is more than {MAX_EXPIRY_YEARS} years away; "
                               "check the date on the label",
                               zh=f"失效日期 {expiry} 距今超过 {MAX_EXPIRY_YEARS} 年，请核对标签上的日期")


def expired_refusal(product, lot_number: str | None, expiry: dt.date, warehouse) -> ValidationFailed:
    what = f"lot {lot_number} of {product.sku}" if lot_number else product.sku
    what_zh = f"{product.sku} 批次 {lot_number}" if lot_number else product.sku
    return ValidationFailed(
        f"{what} expired on {expiry}: warehouse {warehouse.code} does not accept expired goods",
        {"code": "expired", "expiry_date": expiry.isoformat()},
        zh=f"{what_zh} 已于 {expiry} 过期：仓库 {warehouse.code} 不接收过期货物")


def missing_expiry(product) -> ValidationFailed:
    return ValidationFailed(
        f"{product.sku} has a shelf life: the expiry date is missing; type it from the label",
        {"code": "expiry_missing"},
        zh=f"{product.sku} 有有效期：缺少失效日期，请按标签输入")


def _statuses(ctx, warehouse, resolved, lots, problems, inspection: bool) -> dict[int, str]:
    """The stock status each line is received in: quarantine for an incoming
    inspection or (where the warehouse accepts them) expired units, whose lot
    is then marked expired; otherwise available. Expired units a warehouse does
    not accept, and a shelf-life lot with no expiry, are problems."""
    today = ctx.now().date()
    out = {}
    for line, product, lot_number, _, expiry, _, _ in resolved:
        lot = lots.get((product.id, lot_number)) if lot_number else None
        expiry = lot.expiry_date if lot is not None else expiry
        out[line.index] = "quarantine" if inspection else "available"
        if product.shelf_life_days and lot_number and expiry is None:
            problems.line(line.index, missing_expiry(product))
        elif expiry is not None and expiry < today:
            if not warehouse.accept_expired:
                problems.line(line.index, expired_refusal(product, lot_number, expiry, warehouse))
                continue
            out[line.index] = "quarantine"
            if lot is not None:
                lot.status = "expired"
    return out


def receipt_scan(ctx: ServiceContext, barcode: str, warehouse_ref: Any = None) -> dict:
    """What receiving one scan would do, for the receive page to show before
    posting: the label's fields (best-before, sell-by and due dates too), the
    product, the lot on record, the expiry the receipt would record and where
    it comes from (``expiry``, ``best_before`` or ``lot``), whether the clerk
    must type it, and whether the units are expired. A scan that contradicts
    the lot on record, or expired units the warehouse refuses, are refused now
    with the message posting would give."""
    udi = parse_scan(ctx, barcode)
    result = udi.to_dict()
    product = products_by_reference(ctx, {udi.di}, set()).get(f"di:{udi.di}")
    if product is None:
        result["product"] = None
        return result
    warehouse = ctx.warehouse_in_scope(warehouse_ref) if warehouse_ref not in (None, "") else None
    result["product"] = {"id": product.id, "sku": product.sku, "name": product.name,
                         "tracking": product.tracking, "shelf_life_days": product.shelf_life_days,
                         "best_before_is_expiry": product.best_before_is_expiry is not False}
    lot = None
    if udi.lot and product.tracking in LOT_TRACKED:
        Lot = ctx.models["Lot"]
        lot = ctx.session.execute(sa.select(Lot).where(
            Lot.product_id == product.id, Lot.lot_number == udi.lot)).scalar_one_or_none()
    expiry, source = label_expiry(product, udi)
    if lot is not None and lot.expiry_date is not None:
        if expiry is not None and expiry != lot.expiry_date:
            raise ValidationFailed(
                f"lot {lot.lot_number} of {product.sku} is on record with expiry {lot.expiry_date}, "
                f"the scan says {expiry}", {"code": "expiry_differs"},
                zh=f"{product.sku} 批次 {lot.lot_number} 的档案失效日期为 {lot.expiry_date}，扫描结果为 {expiry}")
        expiry, source = lot.expiry_date, source or "lot"
    result["lot_on_record"] = ({"status": lot.status, "expiry_date": _iso(lot.expiry_date)}
                               if lot is not None else None)
    result["expiry_date"], result["expiry_source"] = _iso(expiry), source
    lot_number = udi.lot if product.tracking in LOT_TRACKED else None
    result["needs_expiry"] = bool(product.shelf_life_days and lot_number and expiry is None)
    result["expired"] = bool(expiry and expiry < ctx.now().date())
    result["expired_action"] = None
    if result["expired"] and warehouse is not None:
        if not warehouse.accept_expired:
            raise expired_refusal(product, lot_number, expiry, warehouse)
        result["expired_action"] = "quarantine"
    return result


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _match_lots(ctx, resolved, problems, inspection: bool) -> dict:
    """Find or create each (product, lot); refuse a scan whose dates contradict the
    record. A lot first seen in an inspected receipt starts in quarantine."""
    Lot = ctx.models["Lot"]
    wanted = {(p.id, lot) for _, p, lot, *_ in resolved if lot}
    found = {}
    if wanted:
        rows = ctx.session.execute(sa.select(Lot).where(
            sa.tuple_(Lot.product_id, Lot.lot_number).in_(sorted(wanted)))).scalars()
        found = {(l.product_id, l.lot_number): l for l in rows}
    for line, product, lot_number, _, expiry, production, _ in resolved:
        if not lot_number:
            continue
        key = (product.id, lot_number)
        lot = found.get(key)
        if lot is None:
            lot = Lot(product=product, lot_number=lot_number, expiry_date=expiry,
                      production_date=production,
                      status="quarantine" if inspection else "available",
                      first_received_at=ctx.now())
            found[key] = lot
            ctx.session.add(lot)
            continue
        if expiry and lot.expiry_date and lot.expiry_date != expiry:
            problems.line(line.index, f"lot {lot_number} of {product.sku} is on record with "
                          f"expiry {lot.expiry_date}, the scan says {expiry}",
                          f"{product.sku} 批次 {lot_number} 的档案失效日期为 {lot.expiry_date}，"
                          f"扫描结果为 {expiry}")
        if production and lot.production_date and lot.production_date != production:
            problems.line(line.index, f"lot {lot_number} of {product.sku} is on record with "
                          f"production date {lot.production_date}, the scan says {production}",
                          f"{product.sku} 批次 {lot_number} 的档案生产日期为 {lot.production_date}，"
                          f"扫描结果为 {production}")
        if expiry and lot.expiry_date is None:
            lot.expiry_date = expiry
    return found


def _match_serials(ctx, resolved, lots, problems) -> dict:
    Serial, B = ctx.models["Serial"], ctx.models.table("stock_balance")
    wanted = {(p.id, s) for _, p, _, s, *_ in resolved if s}
    if not wanted:
        return {}
    rows = ctx.session.execute(sa.select(Serial).where(
        sa.tuple_(Serial.product_id, Serial.serial_number).in_(sorted(wanted)))).scalars()
    found = {(s.product_id, s.serial_number): s for s in rows}
    in_stock = set()
    if found:
        in_stock = set(ctx.session.execute(sa.select(B.c.serial_id).where(
            B.c.serial_id.in_([s.id for s in found.values()]), B.c.is_real,
            B.c.quantity > 0)).scalars())
    seen = set()
    for line, product, lot_number, serial, *_ in resolved:
        if not serial:
            continue
        key = (product.id, serial)
        if key in seen:
            problems.line(line.index, f"serial {serial} appears twice in this receipt",
                          f"序列号 {serial} 在本入库单中重复")
            continue
        seen.add(key)
        existing = found.get(key)
        lot = lots.get((product.id, lot_number)) if lot_number else None
        if existing is None:
            found[key] = Serial(product=product, serial_number=serial, lot=lot)
            ctx.session.add(found[key])
        elif existing.id in in_stock:
            problems.line(line.index, f"serial {serial} of {product.sku} is already in stock",
                          f"{product.sku} 序列号 {serial} 已在库")
        elif lot is not None and existing.lot_id not in (None, getattr(lot, "id", None)):
            problems.line(line.index, f"serial {serial} belongs to another lot on record",
                          f"序列号 {serial} 在档案中属于另一个批次")
    return found


# ─── reading ─────────────────────────────────────────────────────────────────────────

def find_receipt(ctx: ServiceContext, ref: Any):
    """A receipt by id or number in the user's scope, else NotFound."""
    R = ctx.models["Receipt"]
    by_id = isinstance(ref, int) or (isinstance(ref, str) and ref.isascii() and ref.isdigit())
    receipt = None
    if not by_id or 0 < int(ref) < 2**31:
        receipt = ctx.session.execute(sa.select(R).where(
            R.id == int(ref) if by_id else R.name == str(ref))).scalar_one_or_none()
    if receipt is None or not ctx.actor.sees_warehouse(receipt.warehouse_id):
        raise NotFound(f"unknown receipt {ref!r}", zh=f"入库单 {ref!r} 不存在")
    return receipt


def receipt_detail(ctx: ServiceContext, ref: Any) -> dict:
    """A receipt with its lines, each with the status it was received in and its
    lot's status now."""
    receipt = find_receipt(ctx, ref)
    M = ctx.models.table("stock_move")
    received = {(r.product_id, r.lot_id, r.serial_id): r.to_status for r in ctx.session.execute(
        sa.select(M.c.product_id, M.c.lot_id, M.c.serial_id, M.c.to_status).where(
            M.c.document_type == "Receipt", M.c.document_id == receipt.id, M.c.reversal_of_id.is_(None)))}
    return {
        "id": receipt.id, "name": receipt.name, "status": receipt.status,
        "warehouse": receipt.warehouse.code, "warehouse_name": receipt.warehouse.name,
        "supplier": receipt.supplier.code, "supplier_name": receipt.supplier.name,
        "location": receipt.location.code, "inspection": bool(receipt.inspection),
        "reference": receipt.reference or "", "note": receipt.note or "",
        "created_by": receipt.created_by or "",
        "received_at": receipt.received_at.strftime("%Y-%m-%d %H:%M") if receipt.received_at else "",
        "lines": [{"sku": l.product.sku, "name": l.product.name,
                   "lot": l.lot.lot_number if l.lot else "", "lot_id": l.lot_id,
                   "serial": l.serial.serial_number if l.serial else "",
                   "expiry_date": _iso(l.expiry_date) or "", "quantity": format_quantity(l.quantity),
                   "received_as": received.get((l.product_id, l.lot_id, l.serial_id), ""),
                   "lot_status": l.lot.status if l.lot else ""} for l in receipt.lines],
    }


def recent_receipts(ctx: ServiceContext, text: str = "", limit: int = 50) -> list[dict]:
    """The latest receipts in the user's scope, newest first; ``text`` finds a
    number, delivery note or supplier code (any part, any case)."""
    R, P, W = ctx.models["Receipt"], ctx.models["Partner"], ctx.models["Warehouse"]
    stmt = (sa.select(R.id, R.name, R.received_at, R.reference, R.status, P.code.label("supplier"),
                      W.code.label("warehouse"))
            .join(P, P.id == R.supplier_id).join(W, W.id == R.warehouse_id)
            .order_by(R.received_at.desc(), R.id.desc()).limit(limit))
    if ctx.actor.warehouse_ids is not None:
        stmt = stmt.where(R.warehouse_id.in_(list(ctx.actor.warehouse_ids)))
    text = (text or "").strip().lower()
    if text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(*(sa.func.lower(c).like(like, escape="\\")
                                   for c in (R.name, R.reference, P.code))))
    return [{"id": r.id, "name": r.name, "reference": r.reference or "", "status": r.status,
             "supplier": r.supplier, "warehouse": r.warehouse,
             "received_at": r.received_at.strftime("%Y-%m-%d %H:%M") if r.received_at else ""}
            for r in ctx.session.execute(stmt)]
