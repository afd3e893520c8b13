"""What a line names or a scanner reads: products (by id, SKU or UDI-DI),
lots and serials, and the parsed UDI of a scan."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import NotFound, ValidationFailed
from app.domain.udi import UdiData, parse_udi

LOT_TRACKED = ("lot", "lot_serial")
SERIAL_TRACKED = ("serial", "lot_serial")

def names_for(products, lots=(), serials=()) -> dict:
    return {"product": {p.id: p.sku for p in products},
            "serial": {s.id: s.serial_number for s in serials}}


def parse_scan(ctx: ServiceContext, barcode: str, separator: str | None = None) -> UdiData:
    return parse_udi(barcode, separator_chars=separator or ctx.settings.udi_separator_chars)


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


def lot_ref(ctx, product, ref):
    if ref in (None, ""):
        if product.tracking in LOT_TRACKED:
            raise ValidationFailed(f"{product.sku} is lot-tracked: give the lot",
                                   zh=f"{product.sku} 按批次追溯：请填写批号")
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
        raise ValidationFailed(f"lot {lot.lot_number} belongs to another product, not {product.sku}",
                               zh=f"批次 {lot.lot_number} 属于其他产品，不是 {product.sku}")
    return lot


def serial_ref(ctx, product, ref):
    if ref in (None, ""):
        if product.tracking in SERIAL_TRACKED:
            raise ValidationFailed(f"{product.sku} is serial-tracked: give the serial number",
                                   zh=f"{product.sku} 按序列号追溯：请填写序列号")
        return None
    Serial = ctx.models["Serial"]
    serial = ctx.session.execute(sa.select(Serial).where(
        Serial.product_id == product.id, Serial.serial_number == str(ref))).scalar_one_or_none()
    if serial is None:
        raise NotFound(f"unknown serial {ref} of {product.sku}", zh=f"{product.sku} 没有序列号 {ref}")
    return serial


def serial_ids_of_picks(ctx, picks) -> dict:
    """Serial ids for picked candidates, by (product id, serial number)."""
    wanted = {(p.candidate.product_id, p.candidate.serial) for p in picks if p.candidate.serial}
    if not wanted:
        return {}
    S = ctx.models["Serial"]
    rows = ctx.session.execute(sa.select(S.id, S.product_id, S.serial_number).where(
        sa.tuple_(S.product_id, S.serial_number).in_(sorted(wanted)))).all()
    return {(r.product_id, r.serial_number): r.id for r in rows}


def search_products(ctx: ServiceContext, text: str, limit: int = 20) -> list:
    """Active products whose SKU, name or model contains ``text`` (any case), or
    whose UDI-DI starts with it (a GTIN-13 also finds its GTIN-14); exact SKU
    and UDI-DI matches first."""
    P = ctx.models["Product"]
    text = (text or "").strip()
    if not text:
        return []
    like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    dis = {text} | ({"0" + text} if text.isdigit() and len(text) == 13 else set())
    conditions = [sa.func.lower(getattr(P, c)).like(like, escape="\\") for c in ("sku", "name", "model")]
    conditions += [P.udi_di.startswith(d, autoescape=True) for d in dis]
    exact = sa.case((sa.or_(P.sku == text, P.udi_di.in_(dis)), 0), else_=1)
    return list(ctx.session.execute(
        sa.select(P).where(sa.or_(*conditions), P.active.isnot(False))
        .order_by(exact, P.sku).limit(limit)).scalars())
