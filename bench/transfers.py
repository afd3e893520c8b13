"""Transfers from request to close, driven action by action as people do them,
on SQLite and PostgreSQL.

    .venv/bin/python bench/transfers.py [--backend sqlite|postgresql|both] [--transfers 30]
                                        [--lines 10] [--profile]

Each transfer (SH01 -> HZ01, ``--lines`` lines of a class II lot-tracked device)
goes through: create (clerk), submit (clerk), approve (manager), start picking
(clerk), one pick by scan per line (clerk), ship (clerk), receive complete
(destination clerk), close (destination manager). Every action is one service
call in its own transaction, as its user, with the same checks as the API
(roles, permission, scope, conditions): the document engine and the transfer
services, not the HTTP layer. Notification jobs are queued (not run inline), as
with REDIS_URL set.

Printed: lines per second over the whole lifecycle, milliseconds per transfer,
and SQL statements per line for each action. Targets (issue 9): >= 250 lines/s
on SQLite and >= 150 on PostgreSQL for 10-line transfers.

``--fefo`` also times FEFO shipments from a warehouse holding about 700 lots of
the product (target >= 1000 moves/s).
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
from collections import defaultdict
from decimal import Decimal

from common import StatementCounter, database, machine, make_app, profile_summary

TARGETS = {"sqlite": 250, "postgresql": 150}


class DeferredJobs:
    """What RQ would do with notification jobs: take them, run them elsewhere."""

    def __init__(self):
        self.queued = 0

    def after_commit(self, session, func_path, *args, **kwargs):
        self.queued += 1
        return "deferred"


class Lifecycle:
    def __init__(self, app, lines: int):
        import sqlalchemy as sa

        from app import db
        from app.actor import SYSTEM, Actor
        self.app, self.db, self.lines = app, db, lines
        self.rt = app.extensions["medtrace"]
        self.rt.jobs = DeferredJobs()
        W = self.rt.models["Warehouse"]
        with app.app_context():
            wid = dict(db.session.execute(sa.select(W.code, W.id)).all())
        self.clerk = Actor("bench_clerk", roles=frozenset({"warehouse_clerk"}), warehouse_ids=frozenset({wid["SH01"]}))
        self.manager = Actor("bench_manager", roles=frozenset({"warehouse_manager"}), warehouse_ids=frozenset({wid["SH01"]}))
        self.clerk_hz = Actor("bench_clerk_hz", roles=frozenset({"warehouse_clerk"}), warehouse_ids=frozenset({wid["HZ01"]}))
        self.manager_hz = Actor("bench_manager_hz", roles=frozenset({"warehouse_manager"}), warehouse_ids=frozenset({wid["HZ01"]}))
        self.system = SYSTEM
        self.products = self._stock()
        self.statements: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)

    def _stock(self) -> list[tuple[str, str, str]]:
        """``lines`` bench products with one big lot each in SH01."""
        from app.actor import acting_as
        from app.demo import gtin14
        from app.inventory.receipts import post_receipt
        P = self.rt.models["Product"]
        out = []
        with self.app.app_context(), acting_as(self.system):
            ctx = self.rt.context(self.db.session, self.system)
            with ctx.transaction():
                for i in range(self.lines):
                    gtin = gtin14(f"0661{i:08d}")
                    ctx.session.add(P(sku=f"BENCH-{i:02d}", name=f"Bench device {i}", udi_di=gtin,
                                      risk_class="II", tracking="lot", shelf_life_days=2000,
                                      unit_price=Decimal("1.00")))
                    out.append((f"BENCH-{i:02d}", gtin, f"BL{i:02d}"))
            expiry = dt.date.today() + dt.timedelta(days=1500)
            with ctx.transaction():
                post_receipt(ctx, {"supplier": "SUP-MDT", "warehouse": "SH01", "location": "SH01-A-01-01",
                                   "lines": [{"product": sku, "lot_number": lot, "expiry_date": expiry,
                                              "quantity": "1000000"} for sku, _, lot in out]})
            self.db.session.remove()
        self.expiry = expiry
        return out

    def step(self, name: str, actor, fn):
        from app.actor import acting_as
        with self.app.app_context(), acting_as(actor):
            ctx = self.rt.context(self.db.session, actor)
            with StatementCounter(self.db.engine) as counter:
                t = time.perf_counter()
                with ctx.transaction():
                    result = fn(ctx)
                self.seconds[name] += time.perf_counter() - t
            self.statements[name] += counter.count
            self.db.session.remove()
        return result

    def one(self) -> None:
        from app.documents.engine import take_action
        from app.transfers.picking import pick_by_scan
        from app.transfers.receiving import receive_transfer
        from app.transfers.requests import create_transfer
        from support_gs1 import gs1
        T = "TransferOrder"
        name = self.step("create", self.clerk, lambda ctx: create_transfer(ctx, {
            "from_warehouse": "SH01", "to_warehouse": "HZ01",
            "lines": [{"product": sku, "quantity": "5"} for sku, _, _ in self.products]}).name)
        self.step("submit", self.clerk, lambda ctx: take_action(ctx, T, name, "submit"))
        self.step("approve", self.manager, lambda ctx: take_action(ctx, T, name, "approve"))
        self.step("start_picking", self.clerk, lambda ctx: take_action(ctx, T, name, "start_picking"))
        for sku, gtin, lot in self.products:
            self.step("pick", self.clerk, lambda ctx: pick_by_scan(ctx, name, {
                "barcode": gs1(gtin, lot, self.expiry), "quantity": Decimal(5)}))
        self.step("ship", self.clerk, lambda ctx: take_action(ctx, T, name, "ship",
                                                              details={"carrier": "CAR-SF"}))
        self.step("receive", self.clerk_hz, lambda ctx: receive_transfer(ctx, name, {"lines": [
            {"product": sku, "lot": lot, "quantity": Decimal(5)} for sku, _, lot in self.products]}))
        self.step("close", self.manager_hz, lambda ctx: take_action(ctx, T, name, "close"))


def run(backend: str, transfers: int, lines: int, profile: bool) -> float:
    with database(backend) as url:
        app = make_app(url)
        life = Lifecycle(app, lines)
        life.one()  # warm-up: caches, compiled statements
        life.statements.clear()
        life.seconds.clear()
        t = time.perf_counter()
        for _ in range(transfers):
            life.one()
        wall = time.perf_counter() - t
        rate = transfers * lines / wall
        print(f"\n{backend}: {transfers} transfers of {lines} lines, request to close")
        print(f"  {rate:7.1f} lines/s   {1000 * wall / transfers:6.1f} ms per transfer   "
              f"target >= {TARGETS[backend]} lines/s: {'MET' if rate >= TARGETS[backend] else 'MISSED'}")
        total_lines = transfers * lines
        print("  action          ms/transfer   SQL statements per line")
        for action in ("create", "submit", "approve", "start_picking", "pick", "ship", "receive", "close"):
            print(f"  {action:14} {1000 * life.seconds[action] / transfers:10.1f}   "
                  f"{life.statements[action] / total_lines:8.2f}")
        print(f"  all actions    {1000 * sum(life.seconds.values()) / transfers:10.1f}   "
              f"{sum(life.statements.values()) / total_lines:8.2f}")
        if profile:
            print(profile_summary(lambda: [life.one() for _ in range(5)]))
        from app import db
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return rate


def fefo(backend: str, lots: int, docs: int) -> float:
    """FEFO shipments (lines by product only) from a warehouse with ``lots`` lots."""
    from app.actor import SYSTEM, acting_as
    from app.inventory.receipts import post_receipt
    from app.inventory.shipments import post_shipment
    with database(backend) as url:
        app = make_app(url)
        from app import db
        rt = app.extensions["medtrace"]
        with app.app_context(), acting_as(SYSTEM):
            ctx = rt.context(db.session, SYSTEM)
            base = dt.date.today() + dt.timedelta(days=400)
            for start in range(0, lots, 100):
                with ctx.transaction():
                    post_receipt(ctx, {"supplier": "SUP-MDT", "warehouse": "SH01", "location": "SH01-A-01-01",
                                       "lines": [{"product": "SYR-0003", "lot_number": f"FE{i:05d}",
                                                  "expiry_date": base + dt.timedelta(days=i), "quantity": "40"}
                                                 for i in range(start, min(lots, start + 100))]})
            moves = 0
            t = time.perf_counter()
            for _ in range(docs):
                with ctx.transaction():
                    _, picks = post_shipment(ctx, {"customer": "HOS-RJ", "warehouse": "SH01", "lines": [
                        {"product": "SYR-0003", "quantity": "30"} for _ in range(20)]})
                moves += len(picks)
            wall = time.perf_counter() - t
            db.session.remove()
            db.engine.dispose()
        rate = moves / wall
        print(f"\n{backend}: FEFO shipments, 20 lines by product, from {lots} lots of the product")
        print(f"  {rate:7.0f} moves/s   {1000 * wall / docs:6.1f} ms per shipment   "
              f"target >= 1000 moves/s: {'MET' if rate >= 1000 else 'MISSED'}")
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="both", choices=["sqlite", "postgresql", "both"])
    parser.add_argument("--transfers", type=int, default=30)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--fefo", action="store_true", help="also time FEFO shipments over ~700 lots")
    opts = parser.parse_args()
    print(machine())
    backends = ["sqlite", "postgresql"] if opts.backend == "both" else [opts.backend]
    for backend in backends:
        run(backend, opts.transfers, opts.lines, opts.profile)
        if opts.fefo:
            fefo(backend, 700, 30)


if __name__ == "__main__":
    main()
