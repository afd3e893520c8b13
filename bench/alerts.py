"""Alert rule evaluation over 100,000 lots: each shipped scheduled rule timed
on SQLite and PostgreSQL, first run (raising every alert that holds) and the
next night's run (nothing new: the steady state).

    .venv/bin/python bench/alerts.py [--lots 100000] [--backend sqlite|postgresql|both]

Bench-only bulk loader (no application path uses it): lots are written with
Core inserts straight into ``lot`` and ``stock_balance`` (one balance per lot in
a bin of one of the five demo warehouses), expiry dates spread from 60 days ago
to two years ahead, 5% of them in quarantine with the move that put them there,
and a stock policy for every product x warehouse. Target: under 10 s per rule.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from decimal import Decimal

import sqlalchemy as sa

from common import database, machine, make_app

TARGET_S = 10.0
RULES = ("lot_expiring", "expired_stock_available", "quarantine_too_long", "stock_below_minimum",
         "transfer_overdue", "approval_waiting")


def load_lots(app, n: int, seed: int = 7) -> dict:
    from app import db
    rng = random.Random(seed)
    m = app.extensions["medtrace"].models
    Lot, B, M = m["Lot"].__table__, m.table("stock_balance"), m.table("stock_move")
    L, W, P, S = m["Location"].__table__, m["Warehouse"].__table__, m["Product"].__table__, m["StockPolicy"].__table__
    today = dt.date.today()
    now = dt.datetime.utcnow()
    with app.app_context():
        bins = db.session.execute(sa.select(L.c.id, L.c.warehouse_id).where(L.c.kind == "bin")).all()
        supplier = db.session.execute(sa.select(L.c.id).where(L.c.kind == "supplier")).scalar_one()
        products = db.session.execute(sa.select(P.c.id).where(P.c.tracking.in_(["lot", "lot_serial"]))).scalars().all()
        warehouses = db.session.execute(sa.select(W.c.id)).scalars().all()
        db.session.commit()
    lots, balances, moves = [], [], []
    for i in range(1, n + 1):
        product = products[i % len(products)]
        expiry = today + dt.timedelta(days=rng.randint(-60, 730))
        lots.append({"id": 1_000_000 + i, "product_id": product, "lot_number": f"B{i:07d}", "expiry_date": expiry,
                     "status": "available", "created_at": now, "created_by": "bench", "updated_at": now,
                     "updated_by": "bench"})
        loc, wh = bins[rng.randrange(len(bins))]
        status = "quarantine" if rng.random() < 0.05 else "available"
        qty = Decimal(rng.randint(1, 200))
        balances.append({"product_id": product, "lot_id": 1_000_000 + i, "serial_id": 0, "location_id": loc,
                         "status": status, "warehouse_id": wh, "is_real": True, "quantity": qty,
                         "reserved": Decimal(0)})
        if status == "quarantine":
            moves.append({"document_type": "BenchLoad", "document_id": i, "document_name": "BULK",
                          "product_id": product, "lot_id": 1_000_000 + i, "from_location_id": supplier,
                          "to_location_id": loc, "from_status": "available", "to_status": "quarantine",
                          "quantity": qty, "moved_at": now - dt.timedelta(days=rng.randint(0, 60)),
                          "posted_by": "bench-loader"})
    t0 = time.perf_counter()
    with app.app_context():
        with db.engine.begin() as conn:
            for table, rows in ((Lot, lots), (B, balances), (M, moves)):
                for start in range(0, len(rows), 10_000):
                    conn.execute(table.insert(), rows[start:start + 10_000])
            have = {(r.product_id, r.warehouse_id) for r in conn.execute(sa.select(S.c.product_id, S.c.warehouse_id))}
            conn.execute(S.insert(), [
                {"name": f"SP-B{p}-{w}", "product_id": p, "warehouse_id": w,
                 "min_quantity": Decimal(rng.choice([10, 5000, 500000])), "active": True,
                 "created_at": now, "created_by": "bench", "updated_at": now, "updated_by": "bench"}
                for p in products for w in warehouses if (p, w) not in have])
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
    return {"lots": n, "balances": len(balances), "quarantine_moves": len(moves),
            "load_s": round(time.perf_counter() - t0, 1)}


def run_rule(app, name: str, today: dt.date) -> tuple[float, dict]:
    from app import db
    from app.actor import SYSTEM, acting_as
    from app.alerts.evaluation import evaluate
    rule = app.extensions["medtrace_alerts"][name]
    with app.app_context(), acting_as(SYSTEM):
        ctx = app.extensions["medtrace"].context(db.session, SYSTEM,
                                                 clock=lambda: dt.datetime.combine(today, dt.time(2)))
        t0 = time.perf_counter()
        result = evaluate(ctx, rule, today=today)
        db.session.commit()
        return time.perf_counter() - t0, result


def bench(backend: str, lots: int) -> list[str]:
    out = [f"== alert evaluation: {backend}, {lots:,} lots"]
    with database(backend) as url:
        app = make_app(url)
        out.append(f"  loaded: {load_lots(app, lots)}")
        today = dt.date.today()
        for name in RULES:
            first, r1 = run_rule(app, name, today)
            second, r2 = run_rule(app, name, today + dt.timedelta(days=1))
            verdict = "MET" if max(first, second) < TARGET_S else "MISSED"
            out.append(f"  {name:<26} first run {first:6.2f} s (raised {r1['raised']:>6}, cleared {r1['cleared']:>5})"
                       f"   next night {second:6.2f} s (raised {r2['raised']:>5}, cleared {r2['cleared']:>5})"
                       f"  [target < {TARGET_S:.0f} s: {verdict}]")
        from app import db
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    opts = parser.parse_args()
    print(machine())
    for backend in (["sqlite", "postgresql"] if opts.backend == "both" else [opts.backend]):
        for line in bench(backend, opts.lots):
            print(line, flush=True)


if __name__ == "__main__":
    main()
