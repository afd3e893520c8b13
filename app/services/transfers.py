"""Cross-warehouse transfers (调拨): create, take workflow actions, reserve,
pick by scan, ship into transit, receive with discrepancies, resolve them.

State changes only through ``take_action``; every transition is recorded with
who, when, comment and electronic signature. Stock moves go through the
ledger in the same transaction as the transition that causes them.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa

from app.domain.errors import Conflict, Forbidden, NotFound, Problems, ValidationFailed
from app.domain.ledger import Move
from app.domain.quantities import format_quantity
from app.domain.workflow import Actor as WorkflowActor
from app.context import ServiceContext
from app.domain.errors import DocumentInvalid
from app.domain.quantities import parse_quantity as quantity_of
from app.records.guard import WORKFLOW_WRITES
from app.stock.allocation import allocate_lines
from app.stock.items import SERIAL_TRACKED, parse_scan, product_for_udi, serial_ids_of_picks
from app.stock.ledger import StockLedger
from app.stock.locations import bin_in_warehouse, receiving_location, virtual_location

ENTITY = "TransferOrder"
ZERO = Decimal(0)
# Which end of the transfer an action belongs to: the actor needs that warehouse
# in scope (a BJ01 manager cannot approve what leaves SH01).
DESTINATION_ACTIONS = {"receive", "close"}


class TransferInvalid(ValidationFailed):
    pass


def workflow(ctx: ServiceContext):
    wf = ctx.workflows.get(ENTITY)
    if wf is None:
        raise Conflict("no workflow is configured for transfer orders")
    return wf


def workflow_actor(ctx: ServiceContext) -> WorkflowActor:
    roles = set(ctx.actor.roles)
    if "Admin" in roles:
        roles.add("admin")
    # identified by user name: that is what created_by records
    return WorkflowActor(id=ctx.actor.username, username=ctx.actor.username, roles=roles)


def get_transfer(ctx: ServiceContext, ref: Any, lock: bool = False):
    T = ctx.models[ENTITY]
    stmt = sa.select(T).where(T.id == int(ref) if str(ref).isdigit() else T.name == str(ref))
    if lock and ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    transfer = ctx.session.execute(stmt).scalar_one_or_none()
    scope = ctx.actor.warehouse_ids
    if transfer is None or (scope is not None and transfer.from_warehouse_id not in scope
                            and transfer.to_warehouse_id not in scope):
        raise NotFound(f"unknown transfer {ref!r}", zh=f"调拨单 {ref!r} 不存在")
    return transfer


# ------------------------------------------------------------------------ create
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
                         strategy=data.get("strategy"), state=workflow(ctx).initial,
                         carrier=None)
    problems, total = Problems(), ZERO
    for i, line in enumerate(lines, 1):
        try:
            product = ctx.find("Product", line.get("product"), key="sku", what="product")
            qty = quantity_of(line.get("quantity"), f"line {i}")
            lot = serial = None
            if line.get("lot"):
                Lot = m["Lot"]
                lot = ctx.session.execute(sa.select(Lot).where(
                    Lot.product_id == product.id, Lot.lot_number == str(line["lot"]))).scalar_one_or_none()
                if lot is None:
                    raise NotFound(f"unknown lot {line['lot']} of {product.sku}")
            if line.get("serial"):
                S = m["Serial"]
                serial = ctx.session.execute(sa.select(S).where(
                    S.product_id == product.id, S.serial_number == str(line["serial"]))).scalar_one_or_none()
                if serial is None:
                    raise NotFound(f"unknown serial {line['serial']} of {product.sku}")
                if qty != 1:
                    raise ValidationFailed("a serial constraint means quantity 1")
            if product.tracking in SERIAL_TRACKED and qty != qty.to_integral():
                raise ValidationFailed(f"{product.sku} is serial-tracked: whole units only")
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
            continue
        price = product.unit_price or ZERO
        total += price * qty
        transfer.lines.append(m["TransferLine"](product=product, quantity=qty, lot=lot, serial=serial,
                                                unit_price=price, reserved_qty=ZERO, picked_qty=ZERO,
                                                shipped_qty=ZERO, received_qty=ZERO))
    problems.raise_if_any(DocumentInvalid, ("transfer not created: ", "调拨单未创建："))
    transfer.total_value = total
    ctx.session.add(transfer)
    ctx.session.flush()
    return transfer


# ----------------------------------------------------------------- workflow view
def transfer_context(ctx: ServiceContext, transfer) -> dict:
    """What workflow conditions (CEL) see."""
    exceptions = _exceptions(ctx, transfer)
    in_transit = _in_transit_quantity(ctx, transfer)
    return {
        "id": transfer.id, "name": transfer.name, "state": transfer.state,
        "priority": transfer.priority, "from_warehouse": transfer.from_warehouse_id,
        "to_warehouse": transfer.to_warehouse_id,
        "from_region": transfer.from_warehouse.region_id, "to_region": transfer.to_warehouse.region_id,
        "total_value": transfer.total_value or ZERO, "owner": _owner_id(ctx, transfer),
        "open_exceptions": sum(1 for e in exceptions if e.status == "open"),
        "in_transit": in_transit,
        "lines": [{"product": l.product.sku, "risk_class": l.product.risk_class,
                   "implantable": bool(l.product.implantable), "quantity": l.quantity,
                   "value": (l.unit_price or ZERO) * l.quantity} for l in transfer.lines],
    }


def _owner_id(ctx, transfer):
    return None if transfer.created_by in (None, "system") else transfer.created_by


def allowed_actions(ctx: ServiceContext, transfer, lang: str = "en") -> list[dict]:
    wf = workflow(ctx)
    if not _in_scope_for(ctx, transfer, "approve") and not _in_scope_for(ctx, transfer, "receive"):
        return []
    options = wf.available_actions(transfer.state, transfer_context(ctx, transfer), workflow_actor(ctx))
    return [o.as_dict(lang) for o in options if _in_scope_for(ctx, transfer, o.action)]


def _in_scope_for(ctx: ServiceContext, transfer, action: str) -> bool:
    wh = transfer.to_warehouse_id if action in DESTINATION_ACTIONS else transfer.from_warehouse_id
    return ctx.actor.sees_warehouse(wh)


def take_action(ctx: ServiceContext, ref: Any, action: str, *, comment: str | None = None,
                password: str | None = None, details: dict | None = None) -> Any:
    """Take a workflow action on a transfer. 403 when the role or scope does not
    allow it, 409 when the state does not, 422 when a condition or rule fails."""
    transfer = get_transfer(ctx, ref, lock=True)
    if not _in_scope_for(ctx, transfer, action):
        side = "destination" if action in DESTINATION_ACTIONS else "source"
        raise Forbidden(f"{action} belongs to the {side} warehouse, which is outside your data scope", zh=f"该操作属于{'调入' if side == 'destination' else '调出'}仓库，不在您的数据权限范围内")
    if action == "receive":
        raise Conflict("use the receive endpoint to record what arrived; it confirms the receipt", zh="请使用收货接口登记到货，收货完成后自动确认")
    return _transition(ctx, transfer, action, comment=comment, password=password, details=details)


def _transition(ctx, transfer, action, *, comment=None, password=None, details=None):
    wf = workflow(ctx)
    signature_given = False
    context = transfer_context(ctx, transfer)
    # ask the engine first so a wrong role or state is reported before a password check
    t = wf.resolve(transfer.state, action, context, workflow_actor(ctx), comment=comment,
                   signature_given=True)
    if t.signature:
        verify = (ctx.directory.verify_password if ctx.directory else None)
        if not password:
            wf.resolve(transfer.state, action, context, workflow_actor(ctx), comment=comment,
                       signature_given=False)  # raises SignatureRequired with the meaning
        if verify is None or not verify(ctx.actor.username, password):
            raise Forbidden("electronic signature refused: the password is not correct", zh="电子签名被拒绝：密码不正确")
        signature_given = True
    before = transfer.state
    if action == "ship":
        _ship(ctx, transfer, details or {})
    transfer.state = t.to
    ctx.session.info.setdefault(WORKFLOW_WRITES, set()).add(id(transfer))
    now = ctx.now()
    ctx.session.execute(ctx.models.table("workflow_transition").insert().values(
        entity=ENTITY, record_id=transfer.id, action=action, from_state=before, to_state=t.to,
        at=now, username=ctx.actor.username, user_id=ctx.actor.user_id, comment=comment,
        signed_by=ctx.actor.username if signature_given else None,
        signed_at=now if signature_given else None,
        signature_meaning=t.meaning if signature_given else None))
    for task in wf.on_enter(t.to):
        if task.mode == "inline":
            INLINE_TASKS[task.name](ctx, transfer)
        else:
            if ctx.jobs is not None:
                ctx.jobs.after_commit(ctx.session, f"jobs.transfer_jobs.{task.name}", transfer.id)
    ctx.session.flush()
    return transfer


# ------------------------------------------------------------------- reservation
def reserve_stock(ctx: ServiceContext, transfer) -> None:
    """On approval: allocate each line at the source (FEFO by default, with the
    destination's minimum remaining shelf life at the expected arrival) and
    reserve it, so no other document can take the same units."""
    m = ctx.models
    src, dst = transfer.from_warehouse, transfer.to_warehouse
    on_date = transfer.expected_arrival or transfer.requested_date or ctx.now().date()
    lines = list(transfer.lines)
    try:
        allocated = allocate_lines(
            ctx, src, [{"product": str(l.product_id), "quantity": l.quantity,
                        "lot": l.lot.lot_number if l.lot else None,
                        "serial": l.serial.serial_number if l.serial else None} for l in lines],
            on_date=on_date, strategy=transfer.strategy, lock=True,
            min_days_floor=dst.min_remaining_shelf_days or 0)
    except DocumentInvalid as exc:
        raise TransferInvalid("cannot reserve stock: " + exc.message, details=exc.details,
                              zh="无法预留库存：" + exc.in_language("zh")) from None
    rows = [(lines[i - 1], p) for i, _, picks in allocated for p in picks]
    for line in lines:
        line.reserved_qty = line.quantity
    R, B = m.table("stock_reservation"), m.table("stock_balance")
    serial_ids = serial_ids_of_picks(ctx, [p for _, p in rows])
    now = ctx.now()
    for line, p in rows:
        c = p.candidate
        key = (c.product_id, c.lot_id or 0, serial_ids.get((c.product_id, c.serial), 0), c.location_id, "available")
        ctx.session.execute(sa.update(B).where(
            B.c.product_id == key[0], B.c.lot_id == key[1], B.c.serial_id == key[2],
            B.c.location_id == key[3], B.c.status == key[4]).values(reserved=B.c.reserved + p.quantity))
        ctx.session.execute(R.insert().values(
            document_type=ENTITY, document_id=transfer.id, line_id=line.id, balance_id=0,
            product_id=key[0], lot_id=key[1], serial_id=key[2], location_id=key[3],
            quantity=p.quantity, picked=ZERO, state="active", created_at=now))


def release_reservation(ctx: ServiceContext, transfer) -> None:
    """Cancelling or rejecting gives reserved units back to available stock."""
    R, B = ctx.models.table("stock_reservation"), ctx.models.table("stock_balance")
    for r in _reservations(ctx, transfer, states=("active",)):
        ctx.session.execute(sa.update(B).where(
            B.c.product_id == r.product_id, B.c.lot_id == r.lot_id, B.c.serial_id == r.serial_id,
            B.c.location_id == r.location_id, B.c.status == "available"
        ).values(reserved=B.c.reserved - r.quantity))
        ctx.session.execute(sa.update(R).where(R.c.id == r.id).values(state="released"))
    for line in transfer.lines:
        line.reserved_qty = ZERO


INLINE_TASKS: dict[str, Callable] = {"reserve_stock": reserve_stock,
                                     "release_reservation": release_reservation}
# Tasks run as jobs after commit: jobs.transfer_jobs.<name>(transfer_id)
JOB_TASKS = ("notify_approvers", "notify_requester")


def _reservations(ctx, transfer, states=("active",)):
    R = ctx.models.table("stock_reservation")
    return ctx.session.execute(sa.select(R).where(
        R.c.document_type == ENTITY, R.c.document_id == transfer.id, R.c.state.in_(states)
    ).order_by(R.c.id)).all()


# ---------------------------------------------------------------------- picking
def pick_list(ctx: ServiceContext, transfer) -> list[dict]:
    """Reserved units in bin pick-sequence order, with what is picked so far."""
    m = ctx.models
    R, L, Lot, S, P = (m.table("stock_reservation"), m["Location"], m["Lot"], m["Serial"], m["Product"])
    rows = ctx.session.execute(
        sa.select(R.c.id, R.c.quantity, R.c.picked, R.c.state, L.code, L.pick_sequence, P.sku,
                  Lot.lot_number, Lot.expiry_date, S.serial_number)
        .join(L, L.id == R.c.location_id).join(P, P.id == R.c.product_id)
        .outerjoin(Lot, Lot.id == R.c.lot_id).outerjoin(S, S.id == R.c.serial_id)
        .where(R.c.document_type == ENTITY, R.c.document_id == transfer.id,
               R.c.state.in_(("active", "consumed")))
        .order_by(L.pick_sequence, L.code, R.c.id)).all()
    return [{"reservation": r.id, "location": r.code, "sku": r.sku, "lot": r.lot_number,
             "serial": r.serial_number,
             "expiry_date": r.expiry_date.isoformat() if r.expiry_date else None,
             "quantity": format_quantity(r.quantity), "picked": format_quantity(r.picked)}
            for r in rows]


def scanned_item(ctx: ServiceContext, data: dict, where: str):
    """(product, lot number, serial, quantity) from a UDI scan or typed fields."""
    if data.get("barcode"):
        udi = parse_scan(ctx, data["barcode"])
        product = product_for_udi(ctx, udi)
        lot_number, serial = udi.lot, udi.serial
        qty_value = data.get("quantity") or udi.quantity or 1
    else:
        product = ctx.find("Product", data.get("product"), key="sku", what="product")
        lot_number, serial = data.get("lot"), data.get("serial")
        qty_value = data.get("quantity") or 1
    return product, lot_number, serial, quantity_of(qty_value, where)


def pick_by_scan(ctx: ServiceContext, ref: Any, data: dict) -> dict:
    """Confirm picked units by scanning; a scan that matches no open reservation
    of this transfer (another product, lot or serial) is refused with a message."""
    transfer = get_transfer(ctx, ref, lock=True)
    if not _in_scope_for(ctx, transfer, "ship"):
        raise Forbidden("the source warehouse is outside your data scope", zh="调出仓库不在您的数据权限范围内")
    if transfer.state != "picking":
        raise Conflict(f"{transfer.name} is {transfer.state}: start picking first", zh=f"{transfer.name} 当前状态为 {transfer.state}：请先开始拣货")
    m = ctx.models
    product, lot_number, serial, qty = scanned_item(ctx, data, "pick")
    R, L, Lot, S = m.table("stock_reservation"), m["Location"], m["Lot"], m["Serial"]
    q = (sa.select(R, Lot.lot_number, S.serial_number, L.code)
         .join(L, L.id == R.c.location_id).outerjoin(Lot, Lot.id == R.c.lot_id)
         .outerjoin(S, S.id == R.c.serial_id)
         .where(R.c.document_type == ENTITY, R.c.document_id == transfer.id,
                R.c.state == "active", R.c.product_id == product.id, R.c.picked < R.c.quantity))
    candidates = ctx.session.execute(q.order_by(L.pick_sequence, R.c.id)).all()
    if not candidates:
        raise TransferInvalid(f"{product.sku} is not on {transfer.name}'s pick list, or is fully picked", zh=f"{product.sku} 不在 {transfer.name} 的拣货单上，或已拣完")
    matching = [c for c in candidates
                if (not lot_number or c.lot_number == lot_number)
                and (not serial or c.serial_number == serial)
                and (not data.get("location") or c.code == data.get("location"))]
    if not matching:
        expected = ", ".join(sorted({f"lot {c.lot_number}" + (f" serial {c.serial_number}" if c.serial_number else "")
                                     + f" in {c.code}" for c in candidates}))
        got = (f"lot {lot_number}" if lot_number else "") + (f" serial {serial}" if serial else "")
        raise TransferInvalid(f"scan does not match the reservation: got {got.strip() or product.sku}, "
                              f"expected {expected}", zh=f"扫描结果与预留不符：扫描到 {got.strip() or product.sku}，应为 {expected}")
    remaining = qty
    for c in matching:
        take = min(remaining, c.quantity - c.picked)
        if take <= 0:
            continue
        ctx.session.execute(sa.update(R).where(R.c.id == c.id).values(picked=R.c.picked + take))
        remaining -= take
        if remaining == 0:
            break
    if remaining > 0:
        raise TransferInvalid(f"picking {format_quantity(qty)} exceeds what is reserved for that "
                              f"lot/serial by {format_quantity(remaining)}", zh=f"拣货数量超出该批次/序列号的预留数量 {format_quantity(remaining)}")
    for line in transfer.lines:
        if line.product_id == product.id:
            line.picked_qty = (line.picked_qty or ZERO) + qty
            break
    return {"picked": format_quantity(qty), "pick_list": pick_list(ctx, transfer)}


# ---------------------------------------------------------------------- shipping
def _transit_location(ctx, transfer):
    if transfer.transit_location_id:
        return transfer.transit_location
    L = ctx.models["Location"]
    loc = L(code=f"TRANSIT/{transfer.name}", name=f"In transit {transfer.name}", kind="transit")
    ctx.session.add(loc)
    ctx.session.flush()
    transfer.transit_location = loc
    return loc


def _ship(ctx: ServiceContext, transfer, details: dict) -> None:
    """Move every picked reservation from its bin into this transfer's transit
    location and record the transport details."""
    reservations = _reservations(ctx, transfer)
    unpicked = [r for r in reservations if r.picked < r.quantity]
    if not reservations:
        raise TransferInvalid("nothing is reserved for this transfer", zh="本调拨单没有预留库存")
    if unpicked:
        raise TransferInvalid(f"{len(unpicked)} reserved line(s) are not fully picked yet; "
                              "scan them before shipping", zh=f"{len(unpicked)} 行预留尚未拣完，请先扫描拣货再发运")
    m = ctx.models
    if details.get("carrier"):
        carrier = ctx.find("Partner", details["carrier"], key="code", what="carrier")
        if carrier.kind != "carrier":
            raise ValidationFailed(f"{carrier.code} is not a carrier")
        transfer.carrier = carrier
    for key in ("vehicle", "tracking_no"):
        if details.get(key):
            setattr(transfer, key, details[key])
    if details.get("expected_arrival"):
        transfer.expected_arrival = details["expected_arrival"]
    transit = _transit_location(ctx, transfer)
    R, B = m.table("stock_reservation"), m.table("stock_balance")
    moves = []
    for r in reservations:
        ctx.session.execute(sa.update(B).where(
            B.c.product_id == r.product_id, B.c.lot_id == r.lot_id, B.c.serial_id == r.serial_id,
            B.c.location_id == r.location_id, B.c.status == "available"
        ).values(reserved=B.c.reserved - r.quantity))
        ctx.session.execute(sa.update(R).where(R.c.id == r.id).values(state="consumed"))
        moves.append(Move(product_id=r.product_id, lot_id=r.lot_id or None, serial_id=r.serial_id or None,
                          from_location_id=r.location_id, to_location_id=transit.id, quantity=r.quantity))
    now = ctx.now()
    StockLedger(ctx.session, m).post_moves(ENTITY, transfer.id, transfer.name, moves, moved_at=now)
    for line in transfer.lines:
        line.shipped_qty = line.picked_qty or line.reserved_qty
    transfer.shipped_at = now


# --------------------------------------------------------------------- receiving
def _in_transit(ctx, transfer) -> list:
    if not transfer.transit_location_id:
        return []
    B = ctx.models.table("stock_balance")
    return ctx.session.execute(sa.select(B).where(
        B.c.location_id == transfer.transit_location_id, B.c.quantity > 0)).all()


def _in_transit_quantity(ctx, transfer) -> Decimal:
    return sum((r.quantity for r in _in_transit(ctx, transfer)), ZERO)


def _exceptions(ctx, transfer) -> list:
    E = ctx.models["TransferException"]
    return list(ctx.session.execute(sa.select(E).where(E.transfer_id == transfer.id)
                                    .order_by(E.id)).scalars())


def receive_transfer(ctx: ServiceContext, ref: Any, data: dict) -> Any:
    """Record what arrived: each line by scan or by product/lot/serial, with a
    damaged quantity; stock moves from transit into the destination bin
    (damaged units in status 'damaged'). With ``complete`` (default), units
    still in transit become 'short' exceptions and the transfer is received."""
    transfer = get_transfer(ctx, ref, lock=True)
    if not _in_scope_for(ctx, transfer, "receive"):
        raise Forbidden("the destination warehouse is outside your data scope",
                        zh="调入仓库不在您的数据权限范围内")
    if transfer.state != "shipped":
        raise Conflict(f"{transfer.name} is {transfer.state}; only a shipped transfer can be received", zh=f"{transfer.name} 当前状态为 {transfer.state}，只有已发运的调拨单才能收货")
    m = ctx.models
    dst = transfer.to_warehouse
    location = (bin_in_warehouse(ctx, data["location"], dst) if data.get("location")
                else receiving_location(ctx, dst))
    transit = transfer.transit_location
    left = {(r.product_id, r.lot_id, r.serial_id): r.quantity for r in _in_transit(ctx, transfer)}
    Lot, S = m["Lot"], m["Serial"]
    moves, problems, exceptions = [], Problems(), []
    for i, line in enumerate(data.get("lines") or [], 1):
        where = f"line {i}"
        try:
            product, lot_number, serial, qty = scanned_item(ctx, line, where)
            damaged = Decimal(str(line.get("damaged") or 0))
            if damaged < 0 or damaged > qty:
                raise ValidationFailed(f"damaged quantity must be between 0 and {format_quantity(qty)}")
            lot_id = serial_id = 0
            if lot_number:
                lot_id = ctx.session.execute(sa.select(Lot.id).where(
                    Lot.product_id == product.id, Lot.lot_number == lot_number)).scalar() or -1
            if serial:
                serial_id = ctx.session.execute(sa.select(S.id).where(
                    S.product_id == product.id, S.serial_number == serial)).scalar() or -1
            keys = [k for k in left if k[0] == product.id and (not lot_number or k[1] == lot_id)
                    and (not serial or k[2] == serial_id)]
            if not keys:
                what = (f"serial {serial}" if serial else f"lot {lot_number}" if lot_number else product.sku)
                raise ValidationFailed(f"{what} was not shipped on {transfer.name}", zh=f"{what} 不在 {transfer.name} 的发运明细中")
            available = sum(left[k] for k in keys)
            if qty > available:
                raise ValidationFailed(f"receiving {format_quantity(qty)} of {product.sku} but only "
                                       f"{format_quantity(available)} is in transit on {transfer.name}", zh=f"收货数量 {format_quantity(qty)} 超过 {transfer.name} 的在途数量 {format_quantity(available)}")
            remaining, good = qty, qty - damaged
            for k in keys:
                take = min(remaining, left[k])
                if take <= 0:
                    continue
                good_part = min(take, good)
                bad_part = take - good_part
                for part, status in ((good_part, "available"), (bad_part, "damaged")):
                    if part > 0:
                        moves.append(Move(product_id=k[0], lot_id=k[1] or None, serial_id=k[2] or None,
                                          from_location_id=transit.id, to_location_id=location.id,
                                          quantity=part, to_status=status))
                if bad_part > 0:
                    exceptions.append(dict(kind="damaged", product_id=k[0], lot_id=k[1] or None,
                                           serial_id=k[2] or None, quantity=bad_part,
                                           location_id=location.id))
                good -= good_part
                left[k] -= take
                remaining -= take
            for tl in transfer.lines:
                if tl.product_id == product.id:
                    tl.received_qty = (tl.received_qty or ZERO) + qty
                    break
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
    problems.raise_if_any(DocumentInvalid, ("nothing received: ", "未收货："))
    now = ctx.now()
    if moves:
        StockLedger(ctx.session, m).post_moves(ENTITY, transfer.id, transfer.name, moves, moved_at=now)
    complete = data.get("complete", True)
    if complete:
        for k, q in left.items():
            if q > 0:
                exceptions.append(dict(kind="short", product_id=k[0], lot_id=k[1] or None,
                                       serial_id=k[2] or None, quantity=q, location_id=transit.id))
    E = m["TransferException"]
    for e in exceptions:
        ctx.session.add(E(transfer=transfer, warehouse_id=transfer.to_warehouse_id, status="open", **e))
    ctx.session.flush()
    if complete:
        transfer.received_at = now
        _transition(ctx, transfer, "receive", comment=data.get("comment"))
    return transfer


def resolve_exception(ctx: ServiceContext, ref: Any, exception_id: int, data: dict) -> Any:
    """Resolve a receiving exception: write the units off to inventory loss,
    return them to the source warehouse, or accept them (damaged units become
    available; short units are accepted as lost)."""
    transfer = get_transfer(ctx, ref, lock=True)
    if not _in_scope_for(ctx, transfer, "receive"):
        raise Forbidden("the destination warehouse is outside your data scope",
                        zh="调入仓库不在您的数据权限范围内")
    E = ctx.models["TransferException"]
    exc = ctx.session.get(E, exception_id)
    if exc is None or exc.transfer_id != transfer.id:
        raise NotFound(f"unknown exception {exception_id} on {transfer.name}")
    if exc.status != "open":
        raise Conflict(f"exception {exception_id} is already resolved ({exc.resolution})", zh=f"异常 {exception_id} 已处理（{exc.resolution}）")
    resolution = data.get("resolution")
    if resolution not in ("write_off", "return_to_source", "accept"):
        raise ValidationFailed("resolution must be write_off, return_to_source or accept")
    status = "damaged" if exc.kind == "damaged" else "available"
    src = exc.location_id
    if resolution == "write_off" or (resolution == "accept" and exc.kind == "short"):
        dest, to_status = virtual_location(ctx, "loss").id, status
    elif resolution == "return_to_source":
        dest, to_status = receiving_location(ctx, transfer.from_warehouse).id, status
    else:  # accept damaged units as sellable, in place
        dest, to_status = src, "available"
    StockLedger(ctx.session, ctx.models).post_moves(
        "TransferException", exc.id, transfer.name, [Move(
            product_id=exc.product_id, lot_id=exc.lot_id, serial_id=exc.serial_id,
            from_location_id=src, to_location_id=dest, quantity=exc.quantity,
            from_status=status, to_status=to_status)])
    exc.status, exc.resolution = "resolved", resolution
    exc.resolved_by, exc.resolved_at, exc.note = ctx.actor.username, ctx.now(), data.get("note")
    ctx.session.flush()
    return exc


# ------------------------------------------------------------------------- read
def transfer_detail(ctx: ServiceContext, transfer, lang: str = "en") -> dict:
    wf = workflow(ctx)
    T = ctx.models.table("workflow_transition")
    history = ctx.session.execute(sa.select(T).where(
        T.c.entity == ENTITY, T.c.record_id == transfer.id).order_by(T.c.id)).all()
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "id": transfer.id, "name": transfer.name, "state": transfer.state,
        "state_label": wf.state_label(transfer.state, lang),
        "from_warehouse": transfer.from_warehouse.code, "to_warehouse": transfer.to_warehouse.code,
        "priority": transfer.priority, "requested_date": iso(transfer.requested_date),
        "reason": transfer.reason, "total_value": format_quantity(transfer.total_value or ZERO),
        "carrier": transfer.carrier.code if transfer.carrier else None,
        "vehicle": transfer.vehicle, "tracking_no": transfer.tracking_no,
        "expected_arrival": iso(transfer.expected_arrival), "shipped_at": iso(transfer.shipped_at),
        "received_at": iso(transfer.received_at), "created_by": transfer.created_by,
        "transit_location": transfer.transit_location.code if transfer.transit_location else None,
        "in_transit": format_quantity(_in_transit_quantity(ctx, transfer)),
        "lines": [{"id": l.id, "product": l.product.sku, "product_name": l.product.name,
                   "risk_class": l.product.risk_class, "quantity": format_quantity(l.quantity),
                   "lot": l.lot.lot_number if l.lot else None,
                   "serial": l.serial.serial_number if l.serial else None,
                   "reserved": format_quantity(l.reserved_qty or ZERO),
                   "picked": format_quantity(l.picked_qty or ZERO),
                   "shipped": format_quantity(l.shipped_qty or ZERO),
                   "received": format_quantity(l.received_qty or ZERO)} for l in transfer.lines],
        "pick_list": pick_list(ctx, transfer),
        "exceptions": [{"id": e.id, "kind": e.kind, "product": e.product.sku,
                        "lot": e.lot.lot_number if e.lot else None,
                        "serial": e.serial.serial_number if e.serial else None,
                        "quantity": format_quantity(e.quantity), "status": e.status,
                        "resolution": e.resolution} for e in _exceptions(ctx, transfer)],
        "history": [{"action": h.action, "from": h.from_state, "to": h.to_state, "at": iso(h.at),
                     "by": h.username, "comment": h.comment, "signed_by": h.signed_by,
                     "signed_at": iso(h.signed_at), "meaning": h.signature_meaning} for h in history],
        "allowed_actions": allowed_actions(ctx, transfer, lang),
    }


def transfer_recipients(ctx: ServiceContext, transfer_id: int, requester: bool) -> dict:
    """Who must hear about a transfer now: its creator, or every active user whose
    roles may take an action from the current state and who sees the warehouse
    that action belongs to."""
    T = ctx.models[ENTITY]
    transfer = ctx.session.get(T, transfer_id)
    if transfer is None:
        raise NotFound(f"unknown transfer {transfer_id}")
    base = {"transfer": transfer.name, "state": transfer.state}
    if requester:
        return {**base, "notify": [transfer.created_by] if transfer.created_by else []}
    users = ctx.directory.users_with_roles if ctx.directory else None
    wf = workflow(ctx)
    recipients = set()
    for t in wf.transitions_from(transfer.state):
        wh = transfer.to_warehouse_id if t.action in DESTINATION_ACTIONS else transfer.from_warehouse_id
        for username, scope in (users(t.roles) if users else []):
            if username != transfer.created_by and (scope is None or wh in scope):
                recipients.add(username)
    return {**base, "notify": sorted(recipients)}
