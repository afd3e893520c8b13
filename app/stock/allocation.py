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

def _candidate_query(ctx: ServiceContext, warehouse_id: int):
    m = ctx.models
    B, L, Lot, S = m.table("stock_balance"), m["Location"], m["Lot"], m["Serial"]
    free = (B.c.quantity - B.c.reserved).label("free")
    stmt = (sa.select(B.c.id, B.c.product_id, B.c.lot_id, B.c.serial_id, B.c.location_id, B.c.status,
                      free, L.code, L.pick_sequence, Lot.lot_number, Lot.expiry_date,
                      Lot.first_received_at, Lot.status.label("lot_status"), S.serial_number)
            .join(L, L.id == B.c.location_id)
            .outerjoin(Lot, Lot.id == B.c.lot_id)
            .outerjoin(S, S.id == B.c.serial_id)
            .where(B.c.warehouse_id == warehouse_id, B.c.is_real, B.c.quantity - B.c.reserved > 0))
    return stmt, B, L, Lot


def _candidates(rows, out: dict[int, list[StockCandidate]]) -> None:
    for r in rows:
        # the lot's own QA status outranks the balance's: a recalled lot is never available
        status = r.status if (r.lot_status or "available") == "available" else r.lot_status
        out[r.product_id].append(StockCandidate(
            product_id=r.product_id, lot_id=r.lot_id or None, lot_number=r.lot_number,
            serial=r.serial_number, location_id=r.location_id, location_code=r.code,
            pick_sequence=r.pick_sequence or 0, expiry_date=r.expiry_date,
            received_at=r.first_received_at, quantity=r.free, status=status))


def stock_candidates(ctx: ServiceContext, warehouse_id: int, product_ids: set[int],
                     lock: bool = False, only_lots: dict[int, set[str] | None] | None = None,
                     ) -> dict[int, list[StockCandidate]]:
    """Allocatable balances (on hand minus reserved) in the warehouse's bins;
    ``only_lots`` narrows a product to the lot numbers its lines name."""
    stmt, B, _, Lot = _candidate_query(ctx, warehouse_id)
    narrowed = {p: lots for p, lots in (only_lots or {}).items() if lots}
    open_products = set(product_ids) - set(narrowed)
    conditions = [B.c.product_id.in_(open_products)] if open_products else []
    conditions += [sa.and_(B.c.product_id == p, Lot.lot_number.in_(lots)) for p, lots in narrowed.items()]
    stmt = stmt.where(sa.or_(*conditions) if conditions else sa.false())
    if lock and ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=B)
    out: dict[int, list[StockCandidate]] = defaultdict(list)
    _candidates(ctx.session.execute(stmt), out)
    return out


def _order(strategy: str, L, Lot, B) -> list:
    """SQL ordering matching the strategy's sort key (app.domain.allocation)."""
    expiry = [Lot.expiry_date.is_(None), Lot.expiry_date]
    received = [Lot.first_received_at.is_(None), Lot.first_received_at]
    bin_path = [sa.func.coalesce(L.pick_sequence, 0), L.code]
    keys = {"fefo": expiry + received + bin_path, "fifo": received + expiry + bin_path,
            "closest_bin": bin_path + expiry + received}[strategy]
    return keys + [Lot.lot_number, B.c.id]


def first_candidates(ctx: ServiceContext, warehouse_id: int, strategy: str, on_or_after: dt.date,
                     needed: dict[int, Decimal]) -> dict[int, list[StockCandidate]]:
    """For each product, only the first available balances in ``strategy``
    order that cover ``needed`` and keep their shelf life past ``on_or_after``:
    SQL filters, orders and stops, instead of loading every lot of the product."""
    stmt, B, L, Lot = _candidate_query(ctx, warehouse_id)
    stmt = stmt.where(B.c.product_id.in_(list(needed)), B.c.status == "available",
                      sa.func.coalesce(Lot.status, "available") == "available",
                      sa.or_(Lot.expiry_date.is_(None), Lot.expiry_date >= on_or_after))
    running = sa.func.sum(B.c.quantity - B.c.reserved).over(
        partition_by=B.c.product_id, order_by=_order(strategy, L, Lot, B)).label("running")
    inner = stmt.add_columns(running).subquery()
    need = sa.case(*((inner.c.product_id == p, q) for p, q in needed.items()), else_=0)
    outer = sa.select(inner).where(inner.c.running - inner.c.free < need)
    out: dict[int, list[StockCandidate]] = defaultdict(list)
    _candidates(ctx.session.execute(outer), out)
    return out


def allocate_lines(ctx: ServiceContext, warehouse, lines: list[dict], *, on_date: dt.date,
                   strategy: str | None = None, min_remaining_days: int | None = None,
                   min_days_floor: int = 0, lock: bool = False):
    """Allocate every line by strategy; returns [(line_index, product, picks)] or
    raises DocumentInvalid listing each line that cannot be filled. A line needs
    the product's minimum remaining shelf life, and at least ``min_days_floor``
    (the destination's policy for transfers), at ``on_date``.

    Products whose lines name no lot share one strategy: their candidates are
    only the first balances that cover the need (``first_candidates``). Should
    that fall short, the product is allocated again from all its balances, so
    the refusal explains every excluded lot. The ledger checks what is free
    again, under lock, when the moves or reservations are written."""
    products, problems = [], Problems()
    known = products_by_reference(ctx, set(), {str(line.get("product")) for line in lines
                                               if line.get("product") not in (None, "")})
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

    # the first balances are enough where every line of a product is allocated one way
    groups: dict[tuple, dict[int, Decimal]] = defaultdict(dict)
    for product_id, items in by_product.items():
        rules = {(str(getattr(r.strategy, "value", r.strategy)), r.min_remaining_days) for _, _, r in items}
        if len(rules) == 1 and all(r.lot_number is None and r.serial is None for _, _, r in items):
            rule, days = next(iter(rules))
            if rule in ("fefo", "fifo", "closest_bin"):
                groups[(rule, on_date + dt.timedelta(days=days))][product_id] = sum(
                    (r.quantity for _, _, r in items), Decimal(0))
    limited = {p for needed in groups.values() for p in needed}
    pool: dict[int, list[StockCandidate]] = defaultdict(list)
    for (rule, on_or_after), needed in groups.items():
        pool.update(first_candidates(ctx, warehouse.id, rule, on_or_after, needed))
    rest = set(by_product) - limited
    if rest:
        named = {p: lots for p, lots in _named_lots(requests).items() if p in rest}
        pool.update(stock_candidates(ctx, warehouse.id, rest, lock=lock, only_lots=named))

    result = []
    for product_id, items in by_product.items():
        attempt = Problems()
        picks = _allocate_product(items, pool.get(product_id, []), attempt)
        if attempt and product_id in limited:  # short: look at every balance, to explain
            attempt = Problems()
            full = stock_candidates(ctx, warehouse.id, {product_id}).get(product_id, [])
            picks = _allocate_product(items, full, attempt)
        problems.extend(attempt)
        result += picks
    problems.raise_if_any(DocumentInvalid)
    return sorted(result, key=lambda r: r[0])


def _named_lots(requests) -> dict[int, set[str] | None]:
    """When every line of a product names its lot, only those lots are candidates."""
    named: dict[int, set[str] | None] = {}
    for _, product, r in requests:
        lots = named.get(product.id, set())
        if lots is not None:
            named[product.id] = (lots | {r.lot_number}) if r.lot_number else None
    return named


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
