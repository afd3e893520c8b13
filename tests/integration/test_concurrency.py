"""Concurrent postings: the last units of a lot can be shipped once only, and
naming series stay unique. Runs on PostgreSQL (row locks) and SQLite
(BEGIN IMMEDIATE)."""
from __future__ import annotations

import datetime as dt
import threading

from app.actor import SYSTEM, acting_as
from app.domain.errors import DomainError


def in_thread(app, fn, results, index, barrier):
    from app import db
    from app.context import ServiceContext
    with app.app_context(), acting_as(SYSTEM):
        ctx = ServiceContext(db.session, app.extensions["medtrace"].models,
                             settings=app.extensions["medtrace"].settings)
        barrier.wait()
        try:
            with ctx.transaction():
                results[index] = ("ok", fn(ctx))
        except DomainError as exc:
            results[index] = ("refused", exc.message)
        finally:
            db.session.remove()


def run_concurrently(app, fns):
    results = [None] * len(fns)
    barrier = threading.Barrier(len(fns))
    threads = [threading.Thread(target=in_thread, args=(app, fn, results, i, barrier))
               for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_clerks_shipping_the_last_units(app, unique):
    from app.inventory.receipts import post_receipt
    from app.inventory.shipments import post_shipment
    lot = f"LAST{unique}"
    expiry = dt.date.today() + dt.timedelta(days=800)
    run_concurrently(app, [lambda ctx: post_receipt(ctx, {
        "supplier": "SUP-MDT", "warehouse": "GZ01", "lines": [
            {"product": "GLV-0004", "lot_number": lot, "expiry_date": expiry, "quantity": "5"}]}).name])

    def ship(ctx):
        return post_shipment(ctx, {"customer": "HOS-ZS", "warehouse": "GZ01", "lines": [
            {"product": "GLV-0004", "lot": lot, "quantity": "5"}]})[0].name

    for _ in range(3):  # a few rounds make an interleaving more likely to show up
        results = run_concurrently(app, [ship, ship])
        outcomes = sorted(r[0] for r in results)
        assert outcomes in (["ok", "refused"], ["refused", "refused"]), results
        if outcomes == ["ok", "refused"]:
            break
    from app import db
    from app.stock.ledger import StockLedger
    with app.app_context():
        models = app.extensions["medtrace"].models
        B = models.table("stock_balance")
        import sqlalchemy as sa
        Lot = models["Lot"]
        lot_id = db.session.execute(sa.select(Lot.id).where(Lot.lot_number == lot)).scalar_one()
        on_hand = db.session.execute(sa.select(sa.func.sum(B.c.quantity)).where(
            B.c.lot_id == lot_id, B.c.is_real)).scalar_one()
        assert on_hand == 0
        assert StockLedger(db.session, models).verify() == []


def test_naming_series_unique_under_concurrency(app, unique):
    from app.inventory.receipts import post_receipt
    expiry = dt.date.today() + dt.timedelta(days=800)

    def receive(i):
        return lambda ctx: post_receipt(ctx, {"supplier": "SUP-HRT", "warehouse": "CD01", "lines": [
            {"product": "SYR-0003", "lot_number": f"NS{unique}-{i}", "expiry_date": expiry,
             "quantity": "1"}]}).name
    results = run_concurrently(app, [receive(i) for i in range(6)])
    names = [r[1] for r in results]
    assert all(r[0] == "ok" for r in results), results
    assert len(set(names)) == 6 and all(n.startswith("RC-") for n in names)
