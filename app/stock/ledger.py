"""The ledger service: the only code that changes stock.

``post_moves`` writes a document's moves in the caller's transaction, with
the touched balances locked (row locks on PostgreSQL; SQLite transactions are
BEGIN IMMEDIATE). Per document it issues a fixed handful of statements — load
places, lots and balances, insert all moves, upsert all balances — so the cost
per line stays far below three statements.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.actor import current_actor
from app.domain.clock import utcnow
from app.domain.errors import Conflict, NotFound
from app.domain.ledger import (
    BalanceKey, Held, LedgerError, LotInfo, Move, Place, compute_deltas, from_key, to_key,
)

ZERO = Decimal(0)


class StockLedger:
    """Post moves and read balances. ``models`` is the app's CompiledModels."""

    def __init__(self, session, models):
        self.session = session
        self.models = models
        self.moves = models.table("stock_move")
        self.balances = models.table("stock_balance")
        self.is_pg = session.get_bind().dialect.name == "postgresql"

    # -- reading --------------------------------------------------------------
    def places(self, ids: Iterable[int]) -> dict[int, Place]:
        L = self.models["Location"]
        ids = {i for i in ids if i}
        if not ids:
            return {}
        rows = self.session.execute(
            sa.select(L.id, L.code, L.kind, L.warehouse_id).where(L.id.in_(ids))).all()
        return {r.id: Place(r.id, r.code, r.kind, r.warehouse_id) for r in rows}

    def lots(self, ids: Iterable[int]) -> dict[int, LotInfo]:
        Lot = self.models["Lot"]
        ids = {i for i in ids if i}
        if not ids:
            return {}
        rows = self.session.execute(sa.select(
            Lot.id, Lot.product_id, Lot.lot_number, Lot.status, Lot.expiry_date
        ).where(Lot.id.in_(ids))).all()
        return {r.id: LotInfo(r.id, r.product_id, r.lot_number, r.status, r.expiry_date) for r in rows}

    def locked_balances(self, keys: set[BalanceKey]) -> dict[BalanceKey, Held]:
        """The balances of ``keys`` with their reservations, row-locked on PostgreSQL."""
        if not keys:
            return {}
        b = self.balances.c
        stmt = sa.select(b.product_id, b.lot_id, b.serial_id, b.location_id, b.status, b.quantity,
                         b.reserved).where(sa.tuple_(b.product_id, b.lot_id, b.serial_id, b.location_id,
                                           b.status).in_(sorted(keys)))
        if self.is_pg:
            # lock in a stable order so two postings never deadlock each other
            stmt = stmt.order_by(b.id).with_for_update()
        return {tuple(r[:5]): Held(r.quantity, r.reserved) for r in self.session.execute(stmt)}

    def _serial_stock(self, serial_ids: set[int]) -> dict[int, dict[tuple[int, str], Decimal]]:
        if not serial_ids:
            return {}
        b = self.balances.c
        stmt = sa.select(b.serial_id, b.location_id, b.status, b.quantity).where(
            b.serial_id.in_(serial_ids), b.is_real, b.quantity > 0)
        if self.is_pg:
            stmt = stmt.with_for_update()
        out: dict[int, dict] = defaultdict(dict)
        for r in self.session.execute(stmt):
            out[r.serial_id][(r.location_id, r.status)] = r.quantity
        return out

    # -- posting --------------------------------------------------------------
    def post_moves(self, document_type: str, document_id: int, document_name: str | None,
                   moves: Sequence[Move], *, moved_at: dt.datetime | None = None,
                   reversal_of: Sequence[int] | None = None,
                   names: dict | None = None) -> list[dict]:
        """Check and write ``moves`` for one document; raise LedgerError (nothing
        written) if any invariant would break. The caller commits."""
        if not moves:
            raise LedgerError("a document needs at least one line to post",
                              zh="单据至少需要一行明细才能过账")
        moved_at = moved_at or utcnow()
        keys = {from_key(m) for m in moves} | {to_key(m) for m in moves}
        serial_ids = {m.serial_id for m in moves if m.serial_id}
        serial_stock = self._serial_stock(serial_ids)
        place_ids = {k[3] for k in keys} | {loc for s in serial_stock.values() for loc, _ in s}
        places = self.places(place_ids)
        lots = self.lots(m.lot_id for m in moves)
        balances = self.locked_balances(keys)
        consumed, reservation_ids = self._consumed(moves)
        deltas = compute_deltas(moves, balances, places, lots, serial_stock,
                                today=moved_at.date(), names=names, consumed=consumed)
        username = current_actor().username
        rows = [{
            "document_type": document_type, "document_id": document_id,
            "document_name": document_name, "product_id": m.product_id, "lot_id": m.lot_id,
            "serial_id": m.serial_id, "from_location_id": m.from_location_id,
            "to_location_id": m.to_location_id, "from_status": m.from_status,
            "to_status": m.to_status, "quantity": m.quantity, "moved_at": moved_at,
            "posted_by": username,
            "reversal_of_id": reversal_of[i] if reversal_of else None,
        } for i, m in enumerate(moves)]
        self.session.execute(self.moves.insert(), rows)
        self._apply(deltas, places, consumed)
        if reservation_ids:
            r = self.models.table("stock_reservation")
            self.session.execute(sa.update(r).where(r.c.id.in_(reservation_ids))
                                 .values(state="consumed"))
        return rows

    def _consumed(self, moves: Sequence[Move]) -> tuple[dict[BalanceKey, Decimal], list[int]]:
        """The reservations the moves consume, checked against what each reserved:
        a move consumes its whole reservation, from the reserved balance."""
        wanted = {m.reservation_id for m in moves if m.reservation_id}
        if not wanted:
            return {}, []
        r = self.models.table("stock_reservation")
        stmt = sa.select(r).where(r.c.id.in_(wanted))
        if self.is_pg:
            stmt = stmt.with_for_update()
        found = {row.id: row for row in self.session.execute(stmt)}
        consumed: dict[BalanceKey, Decimal] = defaultdict(Decimal)
        problems = []
        for i, m in enumerate(moves, 1):
            if not m.reservation_id:
                continue
            res = found.get(m.reservation_id)
            key = from_key(m)
            if res is None or res.state != "active":
                problems.append((f"line {i}: reservation {m.reservation_id} is not active",
                                 f"第 {i} 行：预留 {m.reservation_id} 已失效"))
            elif ((res.product_id, res.lot_id, res.serial_id, res.location_id, "available") != key
                  or res.quantity != m.quantity):
                problems.append((f"line {i}: the move does not match reservation {res.id}",
                                 f"第 {i} 行：移动与预留 {res.id} 不符"))
            else:
                consumed[key] += m.quantity
        if problems:
            raise LedgerError("; ".join(en for en, _ in problems),
                              details={"problems": [en for en, _ in problems]},
                              zh="；".join(zh for _, zh in problems))
        return dict(consumed), sorted(wanted)

    def _apply(self, deltas: dict[BalanceKey, Decimal], places: dict[int, Place],
               consumed: dict[BalanceKey, Decimal]) -> None:
        # Decrements first, so a serial leaves its old bin before it enters the new one.
        ordered = sorted(deltas.items(), key=lambda kv: (kv[1] > 0, kv[0]))
        rows = [{"product_id": k[0], "lot_id": k[1], "serial_id": k[2], "location_id": k[3],
                 "status": k[4], "quantity": d, "reserved": -consumed.get(k, ZERO),
                 "warehouse_id": places[k[3]].warehouse_id, "is_real": places[k[3]].is_real}
                for k, d in ordered]
        insert = (postgresql.insert if self.is_pg else sqlite.insert)(self.balances)
        stmt = insert.on_conflict_do_update(
            index_elements=["product_id", "lot_id", "serial_id", "location_id", "status"],
            set_={"quantity": self.balances.c.quantity + insert.excluded.quantity,
                  "reserved": self.balances.c.reserved + insert.excluded.reserved})
        if self.is_pg:
            self.session.execute(stmt, rows)
        else:
            # SQLite applies the rows in order; one executemany keeps it a single statement
            self.session.execute(stmt, rows)

    def reverse_document(self, document_type: str, document_id: int,
                         new_document_type: str | None = None) -> list[dict]:
        """Post mirror moves for every move of a document (a correction never
        edits or deletes moves). Refused when the document was already reversed."""
        m = self.moves.c
        original = self.session.execute(sa.select(self.moves).where(
            m.document_type == document_type, m.document_id == document_id,
            m.reversal_of_id.is_(None)).order_by(m.id)).all()
        if not original:
            raise NotFound(f"{document_type} {document_id} has no posted moves",
                           zh=f"{document_type} {document_id} 没有已过账的库存移动")
        already = self.session.execute(sa.select(sa.func.count()).where(
            m.reversal_of_id.in_([r.id for r in original]))).scalar_one()
        if already:
            raise Conflict(f"{document_type} {original[0].document_name or document_id} "
                           "was already reversed",
                           zh=f"{original[0].document_name or document_id} 已冲销，不能再次冲销")
        mirror = [Move(product_id=r.product_id, lot_id=r.lot_id, serial_id=r.serial_id,
                       from_location_id=r.to_location_id, to_location_id=r.from_location_id,
                       from_status=r.to_status, to_status=r.from_status, quantity=r.quantity)
                  for r in original]
        return self.post_moves(new_document_type or document_type, document_id,
                               original[0].document_name, mirror,
                               reversal_of=[r.id for r in original], names=self._names(mirror))

    def _names(self, moves: Sequence[Move]) -> dict:
        """SKUs and serial numbers for the messages of a refused posting."""
        P, S = self.models["Product"], self.models["Serial"]
        products = {m.product_id for m in moves}
        serials = {m.serial_id for m in moves if m.serial_id}
        return {"product": dict(self.session.execute(sa.select(P.id, P.sku).where(P.id.in_(products))).all()),
                "serial": dict(self.session.execute(sa.select(S.id, S.serial_number).where(
                    S.id.in_(serials))).all()) if serials else {}}

    # -- verification ---------------------------------------------------------
    def verify(self, finished: dict[str, tuple[str, frozenset[str]]] | None = None) -> list[str]:
        """Rebuild balances from the moves and list every difference (there should
        be none); then the reservations: never more than on hand, each balance's
        reserved equal to its open reservations, and none left open on a finished
        document (``finished``: document type -> (state field, final states))."""
        m, b = self.moves.c, self.balances.c
        expected: dict[BalanceKey, Decimal] = defaultdict(Decimal)
        for side, sign in ((("from_location_id", "from_status")), -1), (("to_location_id", "to_status"), 1):
            loc, status = getattr(m, side[0]), getattr(m, side[1])
            q = sa.select(m.product_id, sa.func.coalesce(m.lot_id, 0), sa.func.coalesce(m.serial_id, 0),
                          loc, status, sa.func.sum(m.quantity)).group_by(
                m.product_id, m.lot_id, m.serial_id, loc, status)
            for r in self.session.execute(q):
                expected[tuple(r[:5])] += sign * r[5]
        actual = {tuple(r[:5]): r[5] for r in self.session.execute(
            sa.select(b.product_id, b.lot_id, b.serial_id, b.location_id, b.status, b.quantity))}
        problems = []
        for key in sorted(set(expected) | set(actual)):
            e, a = expected.get(key, ZERO), actual.get(key, ZERO)
            if e != a:
                problems.append(f"product {key[0]} lot {key[1]} serial {key[2]} location {key[3]} "
                                f"status {key[4]}: moves say {e}, balance says {a}")
        per_product: dict[int, Decimal] = defaultdict(Decimal)
        for key, q in actual.items():
            per_product[key[0]] += q
        problems += [f"product {p} does not net to zero over all locations ({q})"
                     for p, q in per_product.items() if q != 0]
        negative = self.session.execute(sa.select(sa.func.count()).where(
            b.is_real, b.quantity < 0)).scalar_one()
        if negative:
            problems.append(f"{negative} balances in real locations are negative")
        return problems + self.verify_reservations(finished or {})

    def verify_reservations(self, finished: dict[str, tuple[str, frozenset[str]]]) -> list[str]:
        b = self.balances.c
        r = self.models.table("stock_reservation")
        problems = [f"balance {row.id} (product {row.product_id} location {row.location_id}) has "
                    f"{row.reserved} reserved but {row.quantity} on hand"
                    for row in self.session.execute(sa.select(b.id, b.product_id, b.location_id,
                                                              b.quantity, b.reserved).where(
                        (b.is_real & (b.reserved > b.quantity)) | (b.reserved < 0)))]
        open_res = (sa.select(r.c.product_id, r.c.lot_id, r.c.serial_id, r.c.location_id,
                              sa.func.sum(r.c.quantity).label("open"))
                    .where(r.c.state == "active")
                    .group_by(r.c.product_id, r.c.lot_id, r.c.serial_id, r.c.location_id).subquery())
        key = [(b.product_id == open_res.c.product_id), (b.lot_id == open_res.c.lot_id),
               (b.serial_id == open_res.c.serial_id), (b.location_id == open_res.c.location_id)]
        mismatched = self.session.execute(
            sa.select(b.id, b.reserved, open_res.c.open)
            .select_from(self.balances.outerjoin(open_res, sa.and_(*key, b.status == "available")))
            .where(sa.func.coalesce(open_res.c.open, 0) != b.reserved)).all()
        problems += [f"balance {row.id}: reserved says {row.reserved}, open reservations "
                     f"say {row.open or 0}" for row in mismatched]
        orphans = self.session.execute(
            sa.select(open_res.c.product_id, open_res.c.location_id, open_res.c.open)
            .select_from(open_res.outerjoin(self.balances, sa.and_(*key, b.status == "available")))
            .where(b.id.is_(None))).all()
        problems += [f"{row.open} reserved of product {row.product_id} in location "
                     f"{row.location_id}, where no available balance exists" for row in orphans]
        for document_type, (state_field, final) in finished.items():
            if document_type not in self.models.models or not final:
                continue
            doc = self.models[document_type]
            left = self.session.execute(
                sa.select(r.c.document_id, getattr(doc, state_field)).join(doc, doc.id == r.c.document_id)
                .where(r.c.document_type == document_type, r.c.state == "active",
                       getattr(doc, state_field).in_(final)).distinct()).all()
            problems += [f"{document_type} {row[0]} is {row[1]} but still holds reservations"
                         for row in left]
        return problems
