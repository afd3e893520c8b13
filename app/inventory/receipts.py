"""Receipts (入库): goods from a supplier into a warehouse bin, by UDI scan or
by hand. Scans create or match lots and serials; a scan that contradicts what
is on record is refused. Posted whole through the ledger, or not at all."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import DocumentInvalid, NotFound, Problems, ValidationFailed
from app.domain.ledger import Move
from app.domain.quantities import parse_quantity
from app.domain.udi import UdiData, UdiError
from app.stock.items import (
    LOT_TRACKED, SERIAL_TRACKED, names_for, parse_scan, product_for_udi, products_by_reference,
)
from app.stock.ledger import StockLedger
from app.stock.locations import bin_in_warehouse, receiving_location, virtual_location

RECEIPT_REFUSED = ("receipt not posted: ", "入库单未过账：")

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
                expiry = expiry or udi.expiry
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
            if product.shelf_life_days and lot_number and expiry is None:
                raise ValidationFailed(f"{product.sku} has a shelf life: the expiry date is missing",
                                       zh=f"{product.sku} 有有效期：缺少失效日期")
            resolved.append((line, product, lot_number, serial, expiry, production, qty))
        except (ValidationFailed, UdiError, NotFound) as exc:
            problems.line(line.index, exc)
    problems.raise_if_any(DocumentInvalid, RECEIPT_REFUSED)

    lots = _match_lots(ctx, resolved, problems, inspection)
    serials = _match_serials(ctx, resolved, lots, problems)
    problems.raise_if_any(DocumentInvalid, RECEIPT_REFUSED)

    now = ctx.now()
    receipt = m["Receipt"](supplier=supplier, warehouse=warehouse, location=location,
                           inspection=inspection, reference=data.get("reference"),
                           received_at=now, status="posted", note=data.get("note"))
    moves = []
    supplier_loc = virtual_location(ctx, "supplier")
    status = "quarantine" if inspection else "available"
    for line, product, lot_number, serial, expiry, production, qty in resolved:
        lot = lots.get((product.id, lot_number)) if lot_number else None
        ser = serials.get((product.id, serial)) if serial else None
        receipt.lines.append(m["ReceiptLine"](
            product=product, lot=lot, serial=ser, quantity=qty,
            expiry_date=lot.expiry_date if lot else None, barcode=line.barcode))
        moves.append((product, lot, ser, qty))
    for lot in {id(l): l for _, l, _, _ in moves if l is not None}.values():
        if lot.first_received_at is None:  # a lot on record that never was in stock
            lot.first_received_at = now
    ctx.session.add(receipt)
    ctx.session.flush()
    StockLedger(ctx.session, m).post_moves("Receipt", receipt.id, receipt.name, [
        Move(product_id=p.id, lot_id=l.id if l else None, serial_id=s.id if s else None,
             from_location_id=supplier_loc.id, to_location_id=location.id, quantity=q,
             from_status=status, to_status=status)
        for p, l, s, q in moves], moved_at=now,
        names=names_for([p for p, *_ in moves], serials=[s for _, _, s, _ in moves if s]))
    return receipt


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
