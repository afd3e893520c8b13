"""Stock queries on PostgreSQL with 1,000,000 moves in ``stock_move``.

    .venv/bin/python bench/queries.py [--moves 1000000] [--repeat 25] [--keep]

1. A fresh database ``medtrace_bench`` with the demo master data.
2. Seeded through the real services (post_receipt / post_internal_move /
   post_shipment): a demo history (``generate_history``) and 20-line receipts
   into every warehouse, giving a few thousand lots.
3. BENCH-ONLY BULK LOADER (not an application code path, never used by the
   app): the remaining moves, up to ``--moves`` in total, are generated here
   and written with PostgreSQL COPY straight into ``stock_move``. They are
   consistent by construction: for one of the seeded lots (lot-tracked, not
   serial-tracked), in its own warehouse, a cycle is "receipt" SUPPLIER ->
   receiving, "put-away" receiving -> bin, sometimes bin -> bin, and one or two
   "shipments" bin -> CUSTOMER, never taking more than the cycle put in a place.
   Their document names start with ``BULK-``. Then ``stock_balance`` is
   recomputed from all moves in one ``INSERT ... SELECT ... GROUP BY`` (both
   sides of every move, as ``StockLedger.verify`` rebuilds them), and the
   tables are vacuumed and analysed. ``StockLedger.verify()`` then checks every
   balance against the moves and must report no difference.
4. Timed (median of ``--repeat`` runs after a warm-up): stock on hand for one
   product by lot and location (``app.services.stock.stock_on_hand`` with a
   product filter, unscoped and scoped to one warehouse, and the plain query on
   ``stock_balance``) and all moves of one lot (``app.services.stock.lot_moves``,
   for the lot with the most moves and for a median lot). Target < 50 ms each.
   Each service query's SQL is captured and run once under EXPLAIN ANALYZE.
5. For scale, 20-line receipts and 20-line shipments posted through the
   services on this large ledger (moves/s, no target: see bench/posting.py).

The database is dropped at the end unless ``--keep``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa

from common import database, machine, make_app, median_ms

TARGET_MS = 50.0
COPY_COLUMNS = ("document_type", "document_id", "document_name", "product_id", "lot_id",
                "serial_id", "from_location_id", "to_location_id", "from_status", "to_status",
                "quantity", "moved_at", "posted_by")


# ------------------------------------------------------------------ seeding
def seed_with_services(app, history_moves: int, receipts_per_warehouse: int) -> dict:
    """Real postings: a demo history plus 20-line receipts in every warehouse."""
    from app import db
    from app.actor import SYSTEM, acting_as
    from app.context import ServiceContext
    from app.demo.history import generate_history
    from app.inventory.receipts import post_receipt
    rt = app.extensions["medtrace"]
    t = time.perf_counter()
    history = generate_history(db.session, rt, moves=history_moves, seed=2024)
    ctx = ServiceContext(db.session, rt.models, actor=SYSTEM, settings=rt.settings)
    rng = random.Random(11)
    skus = ("CAT-0001", "SYR-0003", "GLV-0004")
    n = 0
    for wh in ("SH01", "HZ01", "BJ01", "GZ01", "CD01"):
        for _ in range(receipts_per_warehouse):
            lines = []
            for _ in range(20):
                n += 1
                lines.append({"product": skus[n % 3], "lot_number": f"Q{n:06d}",
                              "expiry_date": dt.date.today() + dt.timedelta(days=rng.randint(400, 1500)),
                              "quantity": str(rng.randrange(20, 400, 10))})
            with acting_as(SYSTEM), ctx.transaction():
                post_receipt(ctx, {"supplier": "SUP-MDT", "warehouse": wh, "lines": lines})
    db.session.remove()
    return {"history": history, "receipts": 5 * receipts_per_warehouse,
            "seconds": time.perf_counter() - t}


def counts(conn) -> dict:
    q = {"stock_move": "SELECT count(*) FROM stock_move",
         "stock_balance": "SELECT count(*) FROM stock_balance",
         "stock_balance_positive": "SELECT count(*) FROM stock_balance WHERE quantity > 0",
         "lot": "SELECT count(*) FROM lot"}
    return {k: conn.exec_driver_sql(v).scalar_one() for k, v in q.items()}


# ------------------------------------------------------- bench-only loader
def bulk_moves(conn, total: int, rng: random.Random):
    """Yield COPY rows for consistent move cycles of the seeded lots (see above)."""
    places = conn.exec_driver_sql(
        "SELECT id, kind, warehouse_id FROM location ORDER BY pick_sequence, id").all()
    supplier = next(p.id for p in places if p.kind == "supplier" and p.warehouse_id is None)
    customer = next(p.id for p in places if p.kind == "customer" and p.warehouse_id is None)
    receiving = {p.warehouse_id: p.id for p in places if p.kind == "receiving"}
    bins = defaultdict(list)
    for p in places:
        if p.kind == "bin":
            bins[p.warehouse_id].append(p.id)
    lots = conn.exec_driver_sql("""
        SELECT DISTINCT m.lot_id AS id, m.product_id, dst.warehouse_id
        FROM stock_move m JOIN location dst ON dst.id = m.to_location_id
        JOIN product p ON p.id = m.product_id
        WHERE m.document_type = 'Receipt' AND p.tracking = 'lot' AND dst.warehouse_id IS NOT NULL
        ORDER BY 1, 3""").all()
    # busy and quiet lots: a lot's share of the cycles follows a log-normal weight
    weights = [rng.lognormvariate(0, 0.8) for _ in lots]
    start = dt.datetime.now() - dt.timedelta(days=730)
    step = dt.timedelta(days=729) / total
    written, doc = 0, 10_000_000

    def row(kind, name, lot, src, dst, qty):
        nonlocal written
        written += 1
        return (kind, doc, name, lot.product_id, lot.id, None, src, dst, "available", "available",
                Decimal(qty), start + step * written, "bench-loader")

    while written < total:
        for lot in rng.choices(lots, weights=weights, k=1000):
            if written >= total:
                break
            wh_bins = bins[lot.warehouse_id]
            qty = rng.randrange(10, 210, 10)
            here: dict[int, int] = defaultdict(int)
            doc += 1
            yield row("Receipt", f"BULK-RC-{doc}", lot, supplier, receiving[lot.warehouse_id], qty)
            doc += 1
            first = rng.choice(wh_bins)
            yield row("InternalMove", f"BULK-MV-{doc}", lot, receiving[lot.warehouse_id], first, qty)
            here[first] += qty
            if rng.random() < 0.3:
                second = rng.choice([b for b in wh_bins if b != first])
                part = rng.randint(1, qty)
                doc += 1
                yield row("InternalMove", f"BULK-MV-{doc}", lot, first, second, part)
                here[first] -= part
                here[second] += part
            for _ in range(rng.randint(1, 2)):
                src = max(here, key=lambda b: (here[b], -b))
                take = rng.randint(1, here[src]) if here[src] > 1 else here[src]
                if take <= 0 or written >= total:
                    break
                doc += 1
                yield row("Shipment", f"BULK-SH-{doc}", lot, src, customer, take)
                here[src] -= take


def bulk_load(engine, total: int) -> dict:
    """COPY ``total`` moves into stock_move, then rebuild stock_balance in SQL."""
    rng = random.Random(20240101)
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        with dbapi.cursor() as cur:
            with cur.copy(f"COPY stock_move ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                with engine.connect() as conn:
                    for r in bulk_moves(conn, total, rng):
                        copy.write_row(r)
        dbapi.commit()
        t1 = time.perf_counter()
        with dbapi.cursor() as cur:
            cur.execute("DELETE FROM stock_balance")
            cur.execute("""
                INSERT INTO stock_balance (product_id, lot_id, serial_id, location_id, status,
                                           warehouse_id, is_real, quantity, reserved)
                SELECT k.product_id, k.lot_id, k.serial_id, k.location_id, k.status,
                       l.warehouse_id, l.kind IN ('bin', 'receiving'), sum(k.q), 0
                FROM (SELECT product_id, coalesce(lot_id, 0) AS lot_id,
                             coalesce(serial_id, 0) AS serial_id, to_location_id AS location_id,
                             to_status AS status, quantity AS q FROM stock_move
                      UNION ALL
                      SELECT product_id, coalesce(lot_id, 0), coalesce(serial_id, 0),
                             from_location_id, from_status, -quantity FROM stock_move) k
                JOIN location l ON l.id = k.location_id
                GROUP BY k.product_id, k.lot_id, k.serial_id, k.location_id, k.status,
                         l.warehouse_id, l.kind""")
            balances = cur.rowcount
        dbapi.commit()
        t2 = time.perf_counter()
        dbapi.autocommit = True
        with dbapi.cursor() as cur:
            cur.execute("VACUUM ANALYZE stock_move")
            cur.execute("VACUUM ANALYZE stock_balance")
        dbapi.autocommit = False
        t3 = time.perf_counter()
    finally:
        raw.close()
    return {"copied": total, "copy_s": t1 - t0, "rebuild_s": t2 - t1, "vacuum_s": t3 - t2,
            "balances": balances}


# ------------------------------------------------------------------ queries
class Capture:
    """The statements (and parameters) a service call sends."""

    def __init__(self, engine):
        self.engine, self.items = engine, []

    def _on(self, conn, cursor, statement, params, context, executemany):
        self.items.append((statement, params))

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._on)


def explain(session, statement: str, params) -> list[str]:
    conn = session.connection()
    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params).all()
    session.rollback()
    return [r[0] for r in rows]


def plan_summary(lines: list[str], limit: int = 45) -> list[str]:
    keep = [l for l in lines if not l.strip().startswith(("Buffers:", "Output:", "Planning:"))]
    out = keep[:limit]
    tail = [l for l in keep[limit:] if "Time:" in l]
    return out + (["      ..."] if len(keep) > limit + len(tail) else []) + tail


def run_queries(app, repeat: int) -> dict:
    from app import db
    from app.actor import SYSTEM, Actor
    from app.context import ServiceContext
    from app.stock.queries import lot_moves, stock_on_hand
    rt = app.extensions["medtrace"]
    session = db.session
    ctx = ServiceContext(session, rt.models, actor=SYSTEM, settings=rt.settings)
    sh01 = session.execute(sa.text("SELECT id FROM warehouse WHERE code = 'SH01'")).scalar_one()
    scoped = ServiceContext(session, rt.models, settings=rt.settings, actor=Actor(
        username="bench_clerk", warehouse_ids=frozenset({sh01})))
    product_id = session.execute(sa.text("SELECT id FROM product WHERE sku = 'SYR-0003'")).scalar_one()
    per_lot = session.execute(sa.text(
        "SELECT lot_id, count(*) AS n FROM stock_move WHERE lot_id IS NOT NULL "
        "GROUP BY lot_id ORDER BY n DESC, lot_id")).all()
    busiest, median_lot = per_lot[0], per_lot[len(per_lot) // 2]
    session.rollback()

    def on_hand():
        r = stock_on_hand(ctx, {"product": "SYR-0003"})
        session.rollback()
        return r

    def on_hand_scoped():
        r = stock_on_hand(scoped, {"product": "SYR-0003"})
        session.rollback()
        return r

    plain_sql = sa.text("SELECT lot_id, location_id, status, quantity FROM stock_balance "
                        "WHERE product_id = :p AND is_real AND quantity > 0 ORDER BY lot_id, location_id")

    def on_hand_plain():
        r = session.execute(plain_sql, {"p": product_id}).all()
        session.rollback()
        return r

    def moves_of(lot_id):
        def run():
            r = lot_moves(ctx, lot_id)
            session.rollback()
            return r
        return run

    cases = [
        ("stock on hand, SYR-0003 by lot and location (stock_on_hand)", on_hand),
        ("stock on hand, SYR-0003, scoped to SH01 (stock_on_hand)", on_hand_scoped),
        ("stock on hand, SYR-0003, plain query on stock_balance", on_hand_plain),
        (f"all moves of the busiest lot (lot_moves, {busiest.n} moves)", moves_of(busiest.lot_id)),
        (f"all moves of a median lot (lot_moves, {median_lot.n} moves)", moves_of(median_lot.lot_id)),
    ]
    results = []
    for label, fn in cases:
        rows = fn()
        size = rows["count"] if isinstance(rows, dict) else len(rows)
        med, lo, hi = median_ms(fn, repeat=repeat)
        results.append({"label": label, "rows": size, "median": med, "min": lo, "max": hi})

    plans = {}
    for label, fn in (("stock_on_hand (product filter)", on_hand),
                      ("lot_moves (busiest lot)", moves_of(busiest.lot_id))):
        with Capture(db.engine) as cap:
            fn()
        selects = [(s, p) for s, p in cap.items if s.lstrip().upper().startswith("SELECT")]

        def sql_only(selects=selects):
            conn = session.connection()
            for statement, params in selects:
                conn.exec_driver_sql(statement, params).all()
            session.rollback()
        med, lo, hi = median_ms(sql_only, repeat=repeat)
        results.append({"label": f"  SQL only, rows fetched: {label}",
                        "rows": len(selects), "median": med, "min": lo, "max": hi, "sql": True})
        plans[label] = [plan_summary(explain(session, s, p)) for s, p in selects]
    session.remove()
    return {"queries": results, "plans": plans}


def posting_on_large_ledger(app, docs: int = 20) -> list[str]:
    """Posting throughput on this database (1M moves, tens of thousands of
    balances): how posting cost grows with the ledger's size."""
    from posting import Poster, candidate_count, run_series
    from app.inventory.receipts import post_receipt
    from app.inventory.shipments import post_shipment
    poster = Poster(app, tag="L")
    poster.post(post_receipt, poster.receipt_data(20))  # warm-up
    pool = candidate_count(poster, "SH01")
    receipts = run_series(poster, post_receipt, [poster.receipt_data(20) for _ in range(docs)])
    lots = poster.lots[20:]
    ships = run_series(poster, post_shipment, [poster.shipment_data(lots[i * 20:(i + 1) * 20])
                                               for i in range(docs)])
    poster.db.session.remove()
    out = [f"  posting on this database (SH01 holds {sum(pool.values())} balances of the 3 products):"]
    for label, r in (("20-line receipts", receipts), ("20-line shipments by lot", ships)):
        out.append(f"    {label:<26} {r['docs']} docs: {r['rate']:5.0f} moves/s, "
                   f"{r['per_doc_ms']:.1f} ms/doc (no target here; see bench/posting.py)")
    return out


def verify(app) -> tuple[list[str], float]:
    from app import db
    from app.stock.ledger import StockLedger
    t = time.perf_counter()
    problems = StockLedger(db.session, app.extensions["medtrace"].models).verify()
    db.session.remove()
    return problems, time.perf_counter() - t


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--history-moves", type=int, default=3000)
    parser.add_argument("--receipts-per-warehouse", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep database medtrace_bench")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    out: dict = {}
    with database("postgresql", keep=args.keep) as url:
        app = make_app(url)
        with app.app_context():
            from app import db
            seeded = seed_with_services(app, args.history_moves, args.receipts_per_warehouse)
            with db.engine.connect() as conn:
                before = counts(conn)
            print(f"== stock queries on PostgreSQL\n  seeded through the services in "
                  f"{seeded['seconds']:.1f} s: demo history {seeded['history']}, "
                  f"{seeded['receipts']} 20-line receipts -> {before}", flush=True)
            load = bulk_load(db.engine, max(args.moves - before["stock_move"], 0))
            with db.engine.connect() as conn:
                after = counts(conn)
            print(f"  bench-only bulk load: {load['copied']} moves by COPY in {load['copy_s']:.1f} s, "
                  f"stock_balance rebuilt from all moves ({load['balances']} rows) in "
                  f"{load['rebuild_s']:.1f} s, VACUUM ANALYZE {load['vacuum_s']:.1f} s", flush=True)
            print(f"  rows now: {after}", flush=True)
            problems, secs = verify(app)
            print(f"  StockLedger.verify() over all {after['stock_move']} moves: "
                  f"{'no differences' if not problems else f'{len(problems)} DIFFERENCES'} "
                  f"({secs:.1f} s)", flush=True)
            for p in problems[:10]:
                print(f"    {p}")
            timed = run_queries(app, args.repeat)
            print(f"  timings, median of {args.repeat} runs after 2 warm-up runs "
                  f"(target < {TARGET_MS:.0f} ms):")
            for q in timed["queries"]:
                ok = "MET" if q["median"] < TARGET_MS else "MISSED"
                what = f"{q['rows']:>6} stmts" if q.get("sql") else f"{q['rows']:>6} rows "
                print(f"    {q['label']:<66} {what}  median {q['median']:7.2f} ms "
                      f"(min {q['min']:.2f}, max {q['max']:.2f})"
                      + ("" if q.get("sql") else f"  [{ok}]"))
            for label, plans in timed["plans"].items():
                for i, plan in enumerate(plans, 1):
                    print(f"  EXPLAIN ANALYZE, {label}, statement {i} of {len(plans)}:")
                    for line in plan:
                        print(f"    {line[:150]}")
            for line in posting_on_large_ledger(app):
                print(line, flush=True)
            out = {"seeded": seeded, "load": load, "rows": after, "verify": problems,
                   "verify_s": secs, **timed}
    return out


if __name__ == "__main__":
    main()
