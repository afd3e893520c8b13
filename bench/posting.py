"""Posting throughput through the service layer, on SQLite and PostgreSQL.

    .venv/bin/python bench/posting.py [--backend sqlite|postgresql] [--docs 100] [--profile]

For each backend, on a fresh database with the demo master data:

* 20-line receipts: ``--docs`` receipts of 20 new lots each (post_receipt,
  one transaction and commit per document) -> sustained moves/s,
* 20-line shipments: ``--docs`` shipments of 20 lines each, one line per lot
  received above (post_shipment, allocation by lot) -> sustained moves/s,
* 20-line FEFO shipments: lines by product only (the services' default FEFO
  allocation over every lot in the warehouse) -> moves/s,
* one 500-line receipt and one 500-line shipment -> posting time,
* SQL statements per posted line, counted with a before_cursor_execute listener.

Targets: >= 500 moves/s for 20-line documents, a 500-line document < 2 s,
<= 3 statements per line. ``--profile`` (or a missed target) prints a cProfile
summary of the slow case. The SQLite database is a temporary file; PostgreSQL
uses database ``medtrace_bench`` (created, then dropped).
"""
from __future__ import annotations

import argparse
import datetime as dt
import time

from common import (StatementCounter, StatementTimer, database, machine, make_app,
                    profile_summary)

TARGET_RATE, TARGET_BIG_S, TARGET_STMTS = 500, 2.0, 3.0
LOT_PRODUCTS = ("CAT-0001", "SYR-0003", "GLV-0004")  # lot-tracked, with a shelf life


class Poster:
    def __init__(self, app, tag: str):
        from app import db
        from app.actor import SYSTEM
        from app.context import ServiceContext
        self.app, self.db, self.tag = app, db, tag
        rt = app.extensions["medtrace"]
        self.ctx = ServiceContext(db.session, rt.models, actor=SYSTEM, settings=rt.settings)
        self.expiry = dt.date.today() + dt.timedelta(days=900)
        self.lots: list[tuple[str, str]] = []   # (sku, lot) received, in order
        self.seq = 0

    def receipt_data(self, lines: int, location: str = "SH01-A-01-01",
                     warehouse: str = "SH01") -> dict:
        rows = []
        for _ in range(lines):
            self.seq += 1
            sku = LOT_PRODUCTS[self.seq % len(LOT_PRODUCTS)]
            lot = f"B{self.tag}{self.seq:06d}"
            self.lots.append((sku, lot))
            rows.append({"product": sku, "lot_number": lot, "expiry_date": self.expiry,
                         "quantity": "50"})
        return {"supplier": "SUP-MDT", "warehouse": warehouse, "location": location,
                "lines": rows}

    def shipment_data(self, lots: list[tuple[str, str]], warehouse: str = "SH01",
                      quantity: str = "5") -> dict:
        return {"customer": "HOS-RJ", "warehouse": warehouse,
                "lines": [{"product": sku, "lot": lot, "quantity": quantity} for sku, lot in lots]}

    def post(self, fn, data: dict) -> int:
        """Post one document in its own transaction; the number of moves."""
        from app.actor import SYSTEM, acting_as
        with acting_as(SYSTEM), self.ctx.transaction():
            result = fn(self.ctx, data)
            doc = result[0] if isinstance(result, tuple) else result
            moves = len(doc.lines)  # before the commit expires the document
        return moves


def run_series(poster: Poster, fn, documents: list[dict]) -> dict:
    """Post ``documents`` one after another; moves/s and statements per line."""
    with StatementCounter(poster.db.engine) as counter:
        start, cpu = time.perf_counter(), time.process_time()
        moves, times = 0, []
        for d in documents:
            t = time.perf_counter()
            moves += poster.post(fn, d)
            times.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    lines = sum(len(d["lines"]) for d in documents)
    return {"docs": len(documents), "moves": moves, "seconds": elapsed, "times": times, "cpu": cpu,
            "rate": moves / elapsed, "per_doc_ms": 1000 * elapsed / len(documents),
            "stmts_per_line": counter.count / lines, "statements": counter.count,
            "execs_per_line": counter.executions / lines}


def bench_backend(backend: str, docs: int, profile: bool) -> dict:
    from app.inventory.receipts import post_receipt
    from app.inventory.shipments import post_shipment
    results: dict = {"backend": backend}
    with database(backend) as url:
        app = make_app(url)
        with app.app_context():
            poster = Poster(app, tag=backend[:2].upper())
            # warm-up: first lookups, mapper configuration, statement caches
            poster.post(post_receipt, poster.receipt_data(20))
            warm = poster.lots[:]
            poster.post(post_shipment, poster.shipment_data(warm[:20]))

            receipts = [poster.receipt_data(20) for _ in range(docs)]
            results["receipt20"] = run_series(poster, post_receipt, receipts)
            large = poster.lots[20:]

            # a regional warehouse with ~70 lots per product in stock
            small_lots = []
            for _ in range(10):
                poster.post(post_receipt, poster.receipt_data(20, "GZ01-A-01-01", "GZ01"))
                small_lots += poster.lots[-20:]
            results["pool_small"] = candidate_count(poster, "GZ01")
            shipments = [poster.shipment_data(
                [small_lots[(i * 20 + j) % len(small_lots)] for j in range(20)], "GZ01", "2")
                for i in range(docs)]
            results["shipment20_small"] = run_series(poster, post_shipment, shipments)

            # the central warehouse, with every lot received above in stock
            results["pool_large"] = candidate_count(poster, "SH01")
            shipments = [poster.shipment_data(large[i * 20:(i + 1) * 20]) for i in range(docs)]
            results["shipment20"] = run_series(poster, post_shipment, shipments)

            fefo = [{"customer": "HOS-RJ", "warehouse": "SH01", "lines": [
                {"product": LOT_PRODUCTS[(i + j) % 3], "quantity": "1"} for j in range(20)]}
                for i in range(max(docs // 4, 5))]
            results["fefo20"] = run_series(poster, post_shipment, fefo)

            big = poster.receipt_data(500, location="SH01-A-01-02")
            results["receipt500"] = run_series(poster, post_receipt, [big])
            results["shipment500"] = run_series(
                poster, post_shipment, [poster.shipment_data(poster.lots[-500:])])

            with poster.db.engine.connect() as conn:
                import sqlalchemy as sa
                results["stock_move_rows"] = conn.execute(
                    sa.text("SELECT count(*) FROM stock_move")).scalar_one()
            missed = (results["receipt20"]["rate"] < TARGET_RATE
                      or results["shipment20_small"]["rate"] < TARGET_RATE
                      or results["shipment20"]["rate"] < TARGET_RATE
                      or results["receipt500"]["seconds"] > TARGET_BIG_S)
            if profile or missed:
                for key, make in (
                        ("sql_receipt20", lambda: (post_receipt, [poster.receipt_data(20)
                                                                  for _ in range(20)])),
                        ("sql_shipment20_large", lambda: (post_shipment, [
                            poster.shipment_data(large[-800 + i * 20:-780 + i * 20], quantity="1")
                            for i in range(20)]))):
                    fn, documents = make()
                    with StatementTimer(poster.db.engine) as timer:
                        for d in documents:
                            poster.post(fn, d)
                    results[key] = timer.summary()
                more = [poster.receipt_data(20) for _ in range(20)]
                results["profile_receipt20"] = profile_summary(
                    lambda: [poster.post(post_receipt, d) for d in more])
                ships = [poster.shipment_data(
                    [small_lots[(i * 20 + j) % len(small_lots)] for j in range(20)], "GZ01", "1")
                    for i in range(20)]
                results["profile_shipment20_small"] = profile_summary(
                    lambda: [poster.post(post_shipment, d) for d in ships])
                lots = large[-400:]
                ships = [poster.shipment_data(lots[i * 20:(i + 1) * 20], quantity="1")
                         for i in range(20)]
                results["profile_shipment20_large"] = profile_summary(
                    lambda: [poster.post(post_shipment, d) for d in ships])
            poster.db.session.remove()
    return results


def candidate_count(poster, warehouse: str) -> dict:
    """Balances in the warehouse's bins, per product: what a shipment's
    allocation loads and scans."""
    import sqlalchemy as sa
    rows = poster.db.session.execute(sa.text(
        "SELECT p.sku, count(*) FROM stock_balance b JOIN warehouse w ON w.id = b.warehouse_id "
        "JOIN product p ON p.id = b.product_id WHERE w.code = :w AND b.is_real AND b.quantity > 0 "
        "GROUP BY p.sku ORDER BY p.sku"), {"w": warehouse}).all()
    poster.db.session.rollback()
    return dict(rows)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def report(r: dict) -> list[str]:
    small = ", ".join(f"{k} {v}" for k, v in r["pool_small"].items())
    large = ", ".join(f"{k} {v}" for k, v in r["pool_large"].items())
    out = [f"== posting through the service layer: {r['backend']} "
           f"({r['stock_move_rows']} moves in stock_move at the end)",
           f"  balances in bins a shipment allocates from: GZ01 {small}; SH01 {large}"]
    series = (("receipt20", "20-line receipts", True),
              ("shipment20_small", "20-line shipments, GZ01 (small pool)", True),
              ("shipment20", "20-line shipments, SH01 (large pool)", True),
              ("fefo20", "20-line FEFO shipments, SH01", False))
    for key, label, has_target in series:
        s = r[key]
        ok = s["rate"] >= TARGET_RATE
        target = f"target >= {TARGET_RATE}: {verdict(ok)}" if has_target else "no target"
        first, last = s["times"][:10], s["times"][-10:]
        out.append(f"  {label:<38} {s['docs']:>4} docs {s['moves']:>6} moves in {s['seconds']:6.2f} s"
                   f" = {s['rate']:5.0f} moves/s, {s['per_doc_ms']:5.1f} ms/doc (first 10: "
                   f"{1000 * sum(first) / len(first):.1f}, last 10: {1000 * sum(last) / len(last):.1f}; "
                   f"client CPU {100 * s['cpu'] / s['seconds']:.0f}%)  [{target}]")
    for key, label in (("receipt500", "one 500-line receipt"), ("shipment500", "one 500-line shipment")):
        s = r[key]
        ok = s["seconds"] < TARGET_BIG_S
        out.append(f"  {label:<38} {s['seconds']:6.3f} s ({s['moves']} moves)"
                   f"  [target < {TARGET_BIG_S:.0f} s: {verdict(ok)}]")
    for key, label in (("receipt20", "20-line receipt"), ("shipment20", "20-line shipment"),
                       ("fefo20", "20-line FEFO shipment"), ("receipt500", "500-line receipt"),
                       ("shipment500", "500-line shipment")):
        s = r[key]
        out.append(f"  SQL statements per line, {label:<22} {s['stmts_per_line']:5.2f} "
                   f"({s['statements']} for {s['docs']} docs; {s['execs_per_line']:.1f} row executions"
                   f" per line)  [target <= {TARGET_STMTS:.0f}: {verdict(s['stmts_per_line'] <= TARGET_STMTS)}]")
    for key, label in (("sql_receipt20", "20-line receipts"),
                       ("sql_shipment20_large", "20-line shipments, SH01")):
        if key in r:
            out.append(f"  time per SQL statement, {label} (20 documents, not profiled):")
            out.append(r[key].rstrip())
    for key in ("profile_receipt20", "profile_shipment20_small", "profile_shipment20_large"):
        if key in r:
            out.append(f"  cProfile, {key[8:]} (20 documents):")
            out.append(r[key].rstrip())
    return out


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = []
    for backend in backends:
        r = bench_backend(backend, args.docs, args.profile)
        print("\n".join(report(r)), flush=True)
        results.append(r)
    return results


if __name__ == "__main__":
    main()
