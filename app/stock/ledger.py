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
    BalanceKey, LedgerError, LotInfo, Move, Place, compute_deltas, from_key, to_key,
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

    def _locked_balances(self, keys: set[BalanceKey]) -> dict[BalanceKey, Decimal]:
        if not keys:
            return {}
        b = self.balances.c
        stmt = sa.select(b.product_id, b.lot_id, b.serial_id, b.location_id, b.status, b.quantity
                         ).where(sa.tuple_(b.product_id, b.lot_id, b.serial_id, b.location_id,
                                           b.status).in_(sorted(keys)))
        if self.is_pg:
            # lock in a stable order so two postings never deadlock each other
            stmt = stmt.order_by(b.id).with_for_update()
        return {tuple(r[:5]): r.quantity for r in self.session.execute(stmt)}

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
            raise LedgerError("a document needs at least one line to post")
        moved_at = moved_at or utcnow()
        keys = {from_key(m) for m in moves} | {to_key(m) for m in moves}
        serial_ids = {m.serial_id for m in moves if m.serial_id}
        serial_stock = self._serial_stock(serial_ids)
        place_ids = {k[3] for k in keys} | {loc for s in serial_stock.values() for loc, _ in s}
        places = self.places(place_ids)
        lots = self.lots(m.lot_id for m in moves)
        balances = self._locked_balances(keys)
        deltas = compute_deltas(moves, balances, places, lots, serial_stock,
                                today=moved_at.date(), names=names)
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
        self._apply(deltas, places)
        return rows

    def _apply(self, deltas: dict[BalanceKey, Decimal], places: dict[int, Place]) -> None:
        # Decrements first, so a serial leaves its old bin before it enters the new one.
        ordered = sorted(deltas.items(), key=lambda kv: (kv[1] > 0, kv[0]))
        rows = [{"product_id": k[0], "lot_id": k[1], "serial_id": k[2], "location_id": k[3],
                 "status": k[4], "quantity": d, "reserved": ZERO,
                 "warehouse_id": places[k[3]].warehouse_id, "is_real": places[k[3]].is_real}
                for k, d in ordered]
        insert = (postgresql.insert if self.is_pg else sqlite.insert)(self.balances)
        stmt = insert.on_conflict_do_update(
            index_elements=["product_id", "lot_id", "serial_id", "location_id", "status"],
            set_={"quantity": self.balances.c.quantity + insert.excluded.quantity})
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
            raise NotFound(f"{document_type} {document_id} has no posted moves")
        already = self.session.execute(sa.select(sa.func.count()).where(
            m.reversal_of_id.in_([r.id for r in original]))).scalar_one()
        if already:
            raise Conflict(f"{document_type} {original[0].document_name or document_id} "
                           "was already reversed")
        mirror = [Move(product_id=r.product_id, lot_id=r.lot_id, serial_id=r.serial_id,
                       from_location_id=r.to_location_id, to_location_id=r.from_location_id,
                       from_status=r.to_status, to_status=r.from_status, quantity=r.quantity)
                  for r in original]
        return self.post_moves(new_document_type or document_type, document_id,
                               original[0].document_name, mirror,
                               reversal_of=[r.id for r in original])

    # -- verification ---------------------------------------------------------
    def verify(self) -> list[str]:
        """Rebuild balances from the moves and list every difference (there should be none)."""
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
        return problems
