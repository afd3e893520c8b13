"""Receiving, put-away/internal moves and shipping: each a document that posts
its moves through the ledger in one transaction, all or nothing."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from app.domain.allocation import (
    AllocationRequest, StockCandidate, allocate, order_pick_list, resolve_strategy, split_picks,
)
from app.domain.errors import NotFound, Problems, ValidationFailed

RECEIPT_REFUSED = ("receipt not posted: ", "入库单未过账：")
from app.domain.ledger import Move, format_quantity
from app.domain.udi import UdiData, UdiError, parse_udi
from app.services.context import ServiceContext
from app.services.ledger import StockLedger

LOT_TRACKED = ("lot", "lot_serial")
SERIAL_TRACKED = ("serial", "lot_serial")


class DocumentInvalid(ValidationFailed):
    """Several lines are wrong: every problem is listed, nothing is posted."""


def quantity_of(value: Any, where: str) -> Decimal:
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{where}: quantity {value!r} is not a number",
                               zh=f"{where}：数量 {value!r} 不是数字") from None
    if not q.is_finite() or q <= 0:
        raise ValidationFailed(f"{where}: quantity must be greater than zero, got {value}",
                               zh=f"{where}：数量必须大于零，实为 {value}")
    if q != q.quantize(Decimal("0.0001")):
        raise ValidationFailed(f"{where}: quantity has more than 4 decimal places",
                               zh=f"{where}：数量最多保留 4 位小数")
    return q


def virtual_location(ctx: ServiceContext, kind: str):
    L = ctx.models["Location"]
    loc = ctx.session.execute(sa.select(L).where(L.kind == kind, L.warehouse_id.is_(None))
                              .order_by(L.id).limit(1)).scalar_one_or_none()
    if loc is None:
        loc = L(code=kind.upper(), name=kind.title(), kind=kind)
        ctx.session.add(loc)
        ctx.session.flush()
    return loc


def bin_in_warehouse(ctx: ServiceContext, ref: Any, warehouse, what: str = "location"):
    loc = ctx.find("Location", ref, key="code", what=what)
    if loc.warehouse_id != warehouse.id or loc.kind not in ("bin", "receiving"):
        raise ValidationFailed(f"{what} {loc.code} is not a bin of warehouse {warehouse.code}",
                               zh=f"库位 {loc.code} 不属于仓库 {warehouse.code}")
    return loc


def receiving_location(ctx: ServiceContext, warehouse):
    L = ctx.models["Location"]
    loc = ctx.session.execute(sa.select(L).where(
        L.warehouse_id == warehouse.id, L.kind == "receiving").order_by(L.id).limit(1)
    ).scalar_one_or_none()
    if loc is None:
        raise ValidationFailed(f"warehouse {warehouse.code} has no receiving location; "
                               "add one or give a bin")
    return loc


def _names(products, lots=(), serials=()) -> dict:
    return {"product": {p.id: p.sku for p in products},
            "serial": {s.id: s.serial_number for s in serials}}


# ----------------------------------------------------------------------- receipt
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


def parse_scan(ctx: ServiceContext, barcode: str, separator: str | None = None) -> UdiData:
    return parse_udi(barcode, separator_chars=separator or ctx.settings.get(
        "udi_separator_chars", "\x1d"))


def products_by_reference(ctx: ServiceContext, dis: set[str], refs: set[str]) -> dict[str, Any]:
    """One query for every product a document names, keyed by UDI-DI, SKU and id."""
    P = ctx.models["Product"]
    ids = {int(r) for r in refs if r.isdigit()}
    conds = [P.udi_di.in_(dis)] if dis else []
    if refs:
        conds += [P.sku.in_(refs)] + ([P.id.in_(ids)] if ids else [])
    if not conds:
        return {}
    found = {}
    for p in ctx.session.execute(sa.select(P).where(sa.or_(*conds))).scalars():
        found[f"di:{p.udi_di}"] = p
        found[p.sku] = found[str(p.id)] = p
    return found


def product_for_udi(ctx: ServiceContext, udi: UdiData, known: dict | None = None):
    product = (known if known is not None else products_by_reference(ctx, {udi.di}, set())
               ).get(f"di:{udi.di}")
    if product is None:
        raise NotFound(f"no product has UDI-DI {udi.di}; add it to the product master first",
                       zh=f"没有 UDI-DI 为 {udi.di} 的产品，请先在产品主数据中添加")
    return product


def post_receipt(ctx: ServiceContext, data: dict) -> Any:
    """Receive goods from a supplier into a warehouse bin and post the moves
    supplier → bin. Scans create or match lots and serials; a scan that
    contradicts what is on record is refused. Returns the Receipt."""
    m = ctx.models
    warehouse = ctx.warehouse_in_scope(data.get("warehouse"))
    supplier = ctx.find("Partner", data.get("supplier"), key="code", what="supplier")
    if supplier.kind != "supplier":
        raise ValidationFailed(f"{supplier.code} is a {supplier.kind}, not a supplier")
    location = (bin_in_warehouse(ctx, data["location"], warehouse) if data.get("location")
                else receiving_location(ctx, warehouse))
    inspection = bool(data.get("inspection"))
    lines_in = [ReceiptLineIn(index=i, **line) for i, line in enumerate(data.get("lines") or [], 1)]
    if not lines_in:
        raise ValidationFailed("a receipt needs at least one line")

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
                        raise ValidationFailed(f"scanned {name} {scanned} differs from entered {given}")
                lot_number, serial = lot_number or udi.lot, serial or udi.serial
                expiry = expiry or udi.expiry
                production = production or udi.production_date
                if qty_value in (None, ""):
                    qty_value = udi.quantity or 1
            else:
                product = known.get(str(line.product))
                if product is None:
                    raise NotFound(f"unknown product {line.product!r}", zh=f"产品 {line.product!r} 不存在")
            qty = quantity_of(qty_value if qty_value not in (None, "") else 1, where)
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
        names=_names([p for p, *_ in moves], serials=[s for _, _, s, _ in moves if s]))
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


# ----------------------------------------------------------------- internal move
def post_internal_move(ctx: ServiceContext, data: dict) -> Any:
    """Put-away or move stock between bins of one warehouse, keeping its status."""
    m = ctx.models
    warehouse = ctx.warehouse_in_scope(data.get("warehouse"))
    lines = data.get("lines") or []
    if not lines:
        raise ValidationFailed("a move needs at least one line")
    doc = m["InternalMove"](warehouse=warehouse, moved_at=ctx.now(), reason=data.get("reason"),
                            status="posted")
    moves, problems, products = [], Problems(), []
    for i, line in enumerate(lines, 1):
        where = f"line {i}"
        try:
            product = ctx.find("Product", line.get("product"), key="sku", what="product")
            src = bin_in_warehouse(ctx, line.get("from_location"), warehouse, "from location")
            dst = bin_in_warehouse(ctx, line.get("to_location"), warehouse, "to location")
            qty = quantity_of(line.get("quantity"), where)
            lot = _lot_ref(ctx, product, line.get("lot"))
            serial = _serial_ref(ctx, product, line.get("serial"))
            status = line.get("status") or "available"
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
            continue
        products.append(product)
        doc.lines.append(m["InternalMoveLine"](product=product, lot=lot, serial=serial,
                                               from_location=src, to_location=dst, quantity=qty))
        moves.append(Move(product_id=product.id, lot_id=lot.id if lot else None,
                          serial_id=serial.id if serial else None, from_location_id=src.id,
                          to_location_id=dst.id, quantity=qty, from_status=status,
                          to_status=status))
    problems.raise_if_any(DocumentInvalid, ("move not posted: ", "移库单未过账："))
    ctx.session.add(doc)
    ctx.session.flush()
    StockLedger(ctx.session, m).post_moves("InternalMove", doc.id, doc.name, moves,
                                           moved_at=doc.moved_at, names=_names(products))
    return doc


def _lot_ref(ctx, product, ref):
    if ref in (None, ""):
        if product.tracking in LOT_TRACKED:
            raise ValidationFailed(f"{product.sku} is lot-tracked: give the lot")
        return None
    Lot = ctx.models["Lot"]
    if isinstance(ref, int):
        lot = ctx.session.get(Lot, ref)
    else:
        lot = ctx.session.execute(sa.select(Lot).where(
            Lot.product_id == product.id, Lot.lot_number == str(ref))).scalar_one_or_none()
    if lot is None:
        raise NotFound(f"unknown lot {ref} of {product.sku}", zh=f"{product.sku} 没有批次 {ref}")
    if lot.product_id != product.id:
        raise ValidationFailed(f"lot {lot.lot_number} belongs to another product, not {product.sku}")
    return lot


def _serial_ref(ctx, product, ref):
    if ref in (None, ""):
        if product.tracking in SERIAL_TRACKED:
            raise ValidationFailed(f"{product.sku} is serial-tracked: give the serial number")
        return None
    Serial = ctx.models["Serial"]
    serial = ctx.session.execute(sa.select(Serial).where(
        Serial.product_id == product.id, Serial.serial_number == str(ref))).scalar_one_or_none()
    if serial is None:
        raise NotFound(f"unknown serial {ref} of {product.sku}")
    return serial


# ---------------------------------------------------------------------- shipment
def stock_candidates(ctx: ServiceContext, warehouse_id: int, product_ids: set[int],
                     lock: bool = False, only_lots: dict[int, set[str] | None] | None = None,
                     ) -> dict[int, list[StockCandidate]]:
    """Allocatable balances (on hand minus reserved) in the warehouse's bins;
    ``only_lots`` narrows a product to the lot numbers its lines name."""
    m = ctx.models
    B, L, Lot, S = m.table("stock_balance"), m["Location"], m["Lot"], m["Serial"]
    stmt = (sa.select(B.c.product_id, B.c.lot_id, B.c.serial_id, B.c.location_id, B.c.status,
                      (B.c.quantity - B.c.reserved).label("free"), L.code, L.pick_sequence,
                      Lot.lot_number, Lot.expiry_date, Lot.first_received_at, Lot.status.label("lot_status"),
                      S.serial_number)
            .join(L, L.id == B.c.location_id)
            .outerjoin(Lot, Lot.id == B.c.lot_id)
            .outerjoin(S, S.id == B.c.serial_id)
            .where(B.c.warehouse_id == warehouse_id, B.c.is_real, B.c.quantity - B.c.reserved > 0))
    narrowed = {p: lots for p, lots in (only_lots or {}).items() if lots}
    open_products = set(product_ids) - set(narrowed)
    conditions = [B.c.product_id.in_(open_products)] if open_products else []
    conditions += [sa.and_(B.c.product_id == p, Lot.lot_number.in_(lots)) for p, lots in narrowed.items()]
    stmt = stmt.where(sa.or_(*conditions) if conditions else sa.false())
    if lock and ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=B)
    out: dict[int, list[StockCandidate]] = defaultdict(list)
    for r in ctx.session.execute(stmt):
        # the lot's own QA status outranks the balance's: a recalled lot is never available
        status = r.status if (r.lot_status or "available") == "available" else r.lot_status
        out[r.product_id].append(StockCandidate(
            product_id=r.product_id, lot_id=r.lot_id or None, lot_number=r.lot_number,
            serial=r.serial_number, location_id=r.location_id, location_code=r.code,
            pick_sequence=r.pick_sequence or 0, expiry_date=r.expiry_date,
            received_at=r.first_received_at, quantity=r.free, status=status))
    return out


def allocate_lines(ctx: ServiceContext, warehouse, lines: list[dict], *, on_date: dt.date,
                   strategy: str | None = None, min_remaining_days: int | None = None,
                   min_days_floor: int = 0, lock: bool = False):
    """Allocate every line by strategy; returns [(line_index, product, picks)] or
    raises DocumentInvalid listing each line that cannot be filled. A line needs
    the product's minimum remaining shelf life, and at least ``min_days_floor``
    (the destination's policy for transfers), at ``on_date``."""
    products, problems = [], Problems()
    known = products_by_reference(ctx, set(), {str(l.get("product")) for l in lines
                                               if l.get("product") not in (None, "")})
    for i, line in enumerate(lines, 1):
        try:
            product = known.get(str(line.get("product")))
            if product is None:
                raise NotFound(f"unknown product {line.get('product')!r}",
                               zh=f"产品 {line.get('product')!r} 不存在")
            products.append((i, line, product, quantity_of(line.get("quantity"), f"line {i}")))
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
    problems.raise_if_any(DocumentInvalid)
    # when every line of a product names its lot, only those lots are candidates
    named_lots: dict[int, set[str] | None] = {}
    for _, line, product, _ in products:
        lots = named_lots.get(product.id, set())
        if lots is not None:
            named_lots[product.id] = (lots | {line["lot"]}) if line.get("lot") else None
    pool = stock_candidates(ctx, warehouse.id, {p.id for _, _, p, _ in products}, lock=lock,
                            only_lots=named_lots)
    requests = []
    for i, line, product, qty in products:
        try:
            chosen = resolve_strategy(
                document=strategy or line.get("strategy") or None,
                product=product.allocation_strategy or None,
                warehouse=warehouse.allocation_strategy or None,
                has_expiry=bool(product.shelf_life_days))
            if line.get("lot") or line.get("serial"):
                chosen = "manual_lot"
            days = min_remaining_days if min_remaining_days is not None else max(
                product.min_remaining_shelf_days or 0, min_days_floor)
            requests.append((i, product, AllocationRequest(
                product_id=product.id, quantity=qty, strategy=chosen, on_date=on_date,
                min_remaining_days=days, lot_number=line.get("lot") or None,
                serial=line.get("serial") or None,
                serial_tracked=product.tracking in SERIAL_TRACKED)))
        except ValidationFailed as exc:
            problems.line(i, exc, label=product.sku)
    problems.raise_if_any(DocumentInvalid)
    by_product: dict[int, list] = defaultdict(list)
    for item in requests:
        by_product[item[1].id].append(item)
    result = []
    for product_id, items in by_product.items():
        result += _allocate_product(items, pool.get(product_id, []), problems)
    problems.raise_if_any(DocumentInvalid)
    return sorted(result, key=lambda r: r[0])


def _allocate_product(items: list, candidates: list[StockCandidate], problems: Problems) -> list:
    """Allocate the lines of one product. Lines without a lot or serial and with
    the same strategy are allocated together (one pass over the candidates) and
    the picks shared out in line order; otherwise line by line, each from what
    the previous ones left."""
    reqs = [r for _, _, r in items]
    if len(items) > 1 and all(r.lot_number is None and r.serial is None for r in reqs) and \
            len({(r.strategy, r.min_remaining_days) for r in reqs}) == 1:
        try:
            total = replace(reqs[0], quantity=sum((r.quantity for r in reqs), Decimal(0)))
            shares = split_picks(allocate(total, candidates), [r.quantity for r in reqs])
            return [(i, product, picks) for (i, product, _), picks in zip(items, shares)]
        except ValidationFailed:
            pass  # allocate line by line below, so the message names the line that fails
    result = []
    for n, (i, product, request) in enumerate(items):
        try:
            picks = allocate(request, candidates)
        except ValidationFailed as exc:
            problems.line(i, exc, label=product.sku)
            continue
        result.append((i, product, picks))
        if n + 1 < len(items):
            # a later line of the same product allocates from what is left
            taken = defaultdict(Decimal)
            for p in picks:
                taken[id(p.candidate)] += p.quantity
            candidates = [
                c if id(c) not in taken else replace(c, quantity=c.quantity - taken[id(c)])
                for c in candidates if c.quantity - taken.get(id(c), 0) > 0]
    return result


def post_shipment(ctx: ServiceContext, data: dict) -> tuple[Any, list]:
    """Ship to a customer or hospital: allocate by strategy (FEFO by default,
    respecting minimum remaining shelf life), post bin → customer moves and
    record the shipped lots and serials. Returns (shipment, pick list)."""
    m = ctx.models
    warehouse = ctx.warehouse_in_scope(data.get("warehouse"))
    customer = ctx.find("Partner", data.get("customer"), key="code", what="customer")
    if customer.kind not in ("customer", "hospital"):
        raise ValidationFailed(f"{customer.code} is a {customer.kind}, not a customer or hospital")
    lines = data.get("lines") or []
    if not lines:
        raise ValidationFailed("a shipment needs at least one line")
    now = ctx.now()
    try:
        allocated = allocate_lines(ctx, warehouse, lines, on_date=now.date(),
                                   strategy=data.get("strategy"), lock=True)
    except DocumentInvalid as exc:
        raise DocumentInvalid("shipment not posted: " + exc.message, details=exc.details,
                              zh="出库单未过账：" + exc.in_language("zh")) from None
    shipment = m["Shipment"](customer=customer, warehouse=warehouse, shipped_at=now,
                             strategy=data.get("strategy"), reference=data.get("reference"),
                             status="posted", note=data.get("note"))
    customer_loc = virtual_location(ctx, "customer")
    all_picks = order_pick_list([p for _, _, picks in allocated for p in picks])
    products = {p.id: p for _, p, _ in allocated}
    serial_ids = serial_ids_of_picks(ctx, all_picks)
    moves = []
    for seq, pick in enumerate(all_picks, 1):
        c = pick.candidate
        shipment.lines.append(m["ShipmentLine"](
            product_id=c.product_id, lot_id=c.lot_id, serial_id=serial_ids.get((c.product_id, c.serial)),
            location_id=c.location_id, quantity=pick.quantity, expiry_date=c.expiry_date,
            pick_sequence=seq))
        moves.append(Move(product_id=c.product_id, lot_id=c.lot_id,
                          serial_id=serial_ids.get((c.product_id, c.serial)),
                          from_location_id=c.location_id, to_location_id=customer_loc.id,
                          quantity=pick.quantity))
    ctx.session.add(shipment)
    ctx.session.flush()
    StockLedger(ctx.session, m).post_moves("Shipment", shipment.id, shipment.name, moves,
                                           moved_at=now, names=_names(products.values()))
    pick_list = [{"sequence": i, "location": p.candidate.location_code,
                  "product_id": p.candidate.product_id, "sku": products[p.candidate.product_id].sku,
                  "lot": p.candidate.lot_number, "serial": p.candidate.serial,
                  "expiry_date": p.candidate.expiry_date.isoformat() if p.candidate.expiry_date else None,
                  "quantity": format_quantity(p.quantity)} for i, p in enumerate(all_picks, 1)]
    return shipment, pick_list


def serial_ids_of_picks(ctx, picks) -> dict:
    """Serial ids for picked candidates, by (product id, serial number)."""
    wanted = {(p.candidate.product_id, p.candidate.serial) for p in picks if p.candidate.serial}
    if not wanted:
        return {}
    S = ctx.models["Serial"]
    rows = ctx.session.execute(sa.select(S.id, S.product_id, S.serial_number).where(
        sa.tuple_(S.product_id, S.serial_number).in_(sorted(wanted)))).all()
    return {(r.product_id, r.serial_number): r.id for r in rows}


def reverse_document(ctx: ServiceContext, entity: str, ref: Any) -> Any:
    """Correct a posted receipt, move or shipment with mirror moves."""
    doc = ctx.find(entity, ref, key="name", what=entity.lower())
    if not ctx.actor.sees_warehouse(doc.warehouse_id):
        raise NotFound(f"unknown {entity.lower()} {ref!r}")
    if doc.status == "reversed":
        from app.domain.errors import Conflict
        raise Conflict(f"{doc.name} was already reversed")
    StockLedger(ctx.session, ctx.models).reverse_document(entity, doc.id)
    doc.status = "reversed"
    return doc
