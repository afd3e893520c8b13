"""Allocation against the ledger: load the allocatable balances of a warehouse
(on hand minus reserved) and let the pure strategies of ``app.domain.allocation``
choose lots, serials and bins for each line."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.allocation import (
    AllocationRequest, StockCandidate, allocate, resolve_strategy, split_picks,
)
from app.domain.errors import DocumentInvalid, NotFound, Problems, ValidationFailed
from app.domain.quantities import parse_quantity
from app.stock.items import SERIAL_TRACKED, products_by_reference

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
            products.append((i, line, product, parse_quantity(line.get("quantity"), f"line {i}")))
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
