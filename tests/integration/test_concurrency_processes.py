"""Races between two server processes (issue 7): a receipt reversed twice at
once is reversed once; two receipts creating the same new lot at once never
fail with a server error. Each process has its own database connection."""
from __future__ import annotations

import datetime as dt
import multiprocessing

import sqlalchemy as sa

from app.actor import SYSTEM, acting_as
from app.domain.errors import DomainError

FORK = multiprocessing.get_context("fork")


def _worker(app, task, args, barrier, results, index):
    from app import db
    with app.app_context(), acting_as(SYSTEM):
        db.engine.dispose(close=False)  # the parent's pooled connections are not ours
        ctx = app.extensions["medtrace"].context(db.session, SYSTEM)
        barrier.wait(30)
        try:
            with ctx.transaction():
                results[index] = "ok:" + task(ctx, *args)
        except DomainError as exc:
            results[index] = f"refused:{exc.status}:{exc.message}"
        except Exception as exc:  # what must never happen: a server error
            results[index] = f"error:{type(exc).__name__}:{exc}"
        finally:
            db.session.remove()


def in_two_processes(app, task, *args) -> list[str]:
    from app import db
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    manager = FORK.Manager()
    results = manager.list([None, None])
    barrier = FORK.Barrier(2)
    procs = [FORK.Process(target=_worker, args=(app, task, args, barrier, results, i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(90)
    out = list(results)
    manager.shutdown()
    return out


def _reverse(ctx, name):
    from app.inventory.reversal import reverse_document
    return reverse_document(ctx, "Receipt", name).name


def _receive(ctx, lot, expiry):
    from app.inventory.receipts import post_receipt
    return post_receipt(ctx, {"supplier": "SUP-MDT", "warehouse": "HZ01", "lines": [
        {"product": "GLV-0004", "lot_number": lot, "expiry_date": expiry, "quantity": "3"}]}).name


def _post(app, fn):
    from app import db
    with app.app_context(), acting_as(SYSTEM):
        ctx = app.extensions["medtrace"].context(db.session, SYSTEM)
        with ctx.transaction():
            return fn(ctx)


def test_a_receipt_reversed_twice_at_once_is_reversed_once(app, unique):
    from app import db
    from app.stock.ledger import StockLedger
    expiry = dt.date.today() + dt.timedelta(days=600)
    for trial in range(3):
        lot = f"RV{unique}{trial}"
        name = _post(app, lambda ctx: _receive(ctx, lot, expiry))
        results = in_two_processes(app, _reverse, name)
        assert sorted(r.split(":")[0] for r in results) == ["ok", "refused"], results
        assert any(r.startswith("refused:409:") for r in results), results
        with app.app_context():
            models = app.extensions["medtrace"].models
            M, Lot, B = models.table("stock_move"), models["Lot"], models.table("stock_balance")
            lot_id = db.session.execute(sa.select(Lot.id).where(Lot.lot_number == lot)).scalar_one()
            moves = db.session.execute(sa.select(sa.func.count()).where(M.c.lot_id == lot_id)).scalar_one()
            on_hand = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(B.c.quantity), 0)).where(
                B.c.lot_id == lot_id, B.c.is_real)).scalar_one()
            assert (moves, on_hand) == (2, 0)  # the receipt and one mirror
            assert StockLedger(db.session, models).verify() == []
            db.session.remove()


def test_two_receipts_creating_the_same_lot_at_once(app, unique):
    from app import db
    from app.stock.ledger import StockLedger
    expiry = dt.date.today() + dt.timedelta(days=600)
    for trial in range(3):
        lot = f"NL{unique}{trial}"
        results = in_two_processes(app, _receive, lot, expiry)
        kinds = sorted(r.split(":")[0] for r in results)
        assert "error" not in kinds, results
        assert kinds in (["ok", "ok"], ["ok", "refused"]), results
        if kinds == ["ok", "refused"]:
            assert any(r.startswith("refused:409:") and "try again" in r for r in results), results
        with app.app_context():
            models = app.extensions["medtrace"].models
            Lot, B = models["Lot"], models.table("stock_balance")
            lots = db.session.execute(sa.select(Lot.id).where(Lot.lot_number == lot)).scalars().all()
            assert len(lots) == 1
            on_hand = db.session.execute(sa.select(sa.func.sum(B.c.quantity)).where(
                B.c.lot_id == lots[0], B.c.is_real)).scalar_one()
            assert on_hand == 3 * kinds.count("ok")
            assert StockLedger(db.session, models).verify() == []
            db.session.remove()
