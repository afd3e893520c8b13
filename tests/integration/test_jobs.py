"""Jobs on real Redis (database 15): enqueued by the app, run by an RQ worker in
this process that builds its own app on the same database, recorded in job_run."""
from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from support import REDIS_URL

from app.actor import Actor, acting_as
from app.jobqueue import after_commit, define_tables, enqueue, job_status

QUEUE = f"medtrace-test-{os.getpid()}"


@pytest.fixture(scope="module")
def redis_conn():
    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def rq_app(app, monkeypatch, redis_conn):
    from app import db
    from app.meta.sync import sync_schema
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE", QUEUE)
    with app.app_context():
        md = app.extensions["medtrace"].models.metadata
        define_tables(md)
        sync_schema(db.engine, md)
    return app


def work(redis_conn) -> bool:
    """Run what is queued, in this process, keeping pytest's signal handlers."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return SimpleWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn).work(burst=True)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def receive_past_lot(app, lot_number):
    from app import db
    from app.context import ServiceContext
    from app.inventory.receipts import post_receipt
    with app.app_context():
        sc = ServiceContext(db.session, app.extensions["medtrace"].models)
        with sc.transaction():
            receipt = post_receipt(sc, {"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [{
                "product": "SYR-0003", "lot_number": lot_number,
                "expiry_date": dt.date.today() + dt.timedelta(days=30), "quantity": "2"}]})
            # received in date, expired since (receiving expired units is refused)
            receipt.lines[0].lot.expiry_date = dt.date.today() - dt.timedelta(days=3)


def test_expire_lots_runs_on_an_rq_worker(rq_app, redis_conn, unique):
    from app import db
    lot_number = f"EXP{unique}"
    receive_past_lot(rq_app, lot_number)
    with rq_app.app_context():
        handle = enqueue(rq_app, "jobs.stock_jobs.expire_lots", job_id=f"expire-{unique}")
        assert (handle.id, handle.state) == (f"expire-{unique}", "queued")
        assert job_status(handle.id)["state"] == "queued"
    # the app context is gone: on SQLite the worker must not wait for our lock
    assert work(redis_conn)

    job = Job.fetch(handle.id, connection=redis_conn)
    assert job.get_status() == JobStatus.FINISHED
    assert lot_number in job.return_value()["lots"]
    with rq_app.app_context():
        row = job_status(handle.id)
        assert row["state"] == "finished" and row["username"] == "system"
        assert isinstance(row["duration_ms"], int) and row["duration_ms"] >= 0
        assert lot_number in row["result"]["lots"] and row["result"]["expired"] >= 1
        m = rq_app.extensions["medtrace"].models
        Lot, audit = m["Lot"], m.table("audit_log")
        lot_id, status = db.session.execute(
            sa.select(Lot.id, Lot.status).where(Lot.lot_number == lot_number)).one()
        assert status == "expired"
        trail = db.session.execute(sa.select(audit.c.username, audit.c.old_value, audit.c.new_value).where(
            audit.c.entity == "Lot", audit.c.record_id == lot_id, audit.c.field == "status")).all()
        assert ("system", "available", "expired") in trail


def test_failed_job_is_failed_in_rq_and_in_job_run(rq_app, redis_conn):
    with rq_app.app_context():
        handle = enqueue(rq_app, "jobs.stock_jobs.expire_lots", today="not-a-date")
    work(redis_conn)
    job = Job.fetch(handle.id, connection=redis_conn)
    assert job.get_status() == JobStatus.FAILED and "not-a-date" in job.latest_result().exc_string
    with rq_app.app_context():
        row = job_status(handle.id)
    assert row["state"] == "failed" and row["error"].startswith("ValueError: Invalid isoformat string")


def test_worker_acts_as_the_enqueuing_user(rq_app, redis_conn, unique):
    """clerk_sh sees only SH01: the report run on the worker is limited the same way."""
    from app import db
    receive_past_lot(rq_app, f"SCOPE{unique}")
    W = rq_app.extensions["medtrace"].models["Warehouse"]
    with rq_app.app_context():
        sh01 = db.session.execute(sa.select(W.id).where(W.code == "SH01")).scalar_one()
        with acting_as(Actor(username="clerk_sh", warehouse_ids=frozenset({sh01}))):
            handle = enqueue(rq_app, "jobs.stock_jobs.expiry_report", days=3650)
    work(redis_conn)
    with rq_app.app_context():
        row = job_status(handle.id)
    assert row["state"] == "finished" and row["username"] == "clerk_sh"
    lots = row["result"]["lots"]
    assert any(r["lot"] == f"SCOPE{unique}" for r in lots)
    assert {w for r in lots for w in r["warehouses"]} == {"SH01"}


def test_after_commit_enqueues_on_commit_only(rq_app, redis_conn, unique):
    from app import db
    queue = Queue(QUEUE, connection=redis_conn)
    with rq_app.app_context():
        dropped = after_commit(db.session, "jobs.stock_jobs.expiry_report", days=1)
        db.session.rollback()
        kept = after_commit(db.session, "jobs.stock_jobs.expiry_report", days=1)
        assert kept not in queue.job_ids
        db.session.commit()
        assert kept in queue.job_ids and dropped not in queue.job_ids
    work(redis_conn)
    with rq_app.app_context():
        assert job_status(kept)["state"] == "finished"


def test_enqueue_inside_an_open_transaction_and_a_forking_worker(rq_app, redis_conn, unique):
    """The caller holds a transaction (on SQLite: the write lock) when it enqueues,
    then rolls back; the job still runs, in a forked work horse, and is recorded."""
    from app import db
    from rq import Worker
    with rq_app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        handle = enqueue(rq_app, "jobs.stock_jobs.expiry_report", days=1, job_id=f"open-{unique}")
        db.session.rollback()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert Worker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn).work(burst=True)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert Job.fetch(handle.id, connection=redis_conn).get_status() == JobStatus.FINISHED
    with rq_app.app_context():
        row = job_status(handle.id)
    assert row["state"] == "finished" and row["result"]["days"] == 1
