"""Jobs without Redis: they run inline, in the caller's process, and every run
is recorded in job_run; after_commit jobs wait for the commit."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.actor import Actor, acting_as, current_actor
from app.jobqueue import after_commit, define_tables, enqueue, job_status, recent_jobs

RAN: list = []


# --- job functions for these tests (named by dotted path, like real jobs) ------
def add(a, b):
    return {"sum": a + b, "actor": current_actor().username}


def remember(token):
    RAN.append(token)
    return token


def boom(message, prefix=None):
    """Writes, then fails: the write must not survive."""
    from app import db
    from flask import current_app
    t = current_app.extensions["medtrace"].models.table("naming_series")
    db.session.execute(t.insert().values(prefix=prefix, current=1))
    db.session.flush()
    raise ValueError(message)


HERE = __name__


def ensure_job_table(app):
    from app import db
    from app.meta.sync import sync_schema
    with app.app_context():
        md = app.extensions["medtrace"].models.metadata
        define_tables(md)
        sync_schema(db.engine, md)


@pytest.fixture
def japp(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    ensure_job_table(app)
    RAN.clear()
    return app


def test_inline_job_records_a_finished_run_with_duration_and_result(japp):
    with japp.app_context():
        handle = enqueue(japp, f"{HERE}.add", 2, b=3, description="add two numbers")
        assert (handle.state, handle.result) == ("finished", {"sum": 5, "actor": "system"})
        row = job_status(handle.id)
    assert row["state"] == "finished" and row["result"] == {"sum": 5, "actor": "system"}
    assert row["func"] == f"{HERE}.add" and row["description"] == "add two numbers"
    assert isinstance(row["duration_ms"], int) and row["duration_ms"] >= 0
    assert row["enqueued_at"] <= row["started_at"] <= row["ended_at"]
    assert row["error"] is None and row["username"] == "system"


def test_inline_job_runs_as_the_enqueuing_actor_and_without_an_app_context(japp):
    with acting_as(Actor(username="qa_user")):
        handle = enqueue(japp, f"{HERE}.add", 1, 1, job_id="inline-actor-" + dt.datetime.now().strftime("%f"))
    assert handle.result["actor"] == "qa_user"
    with japp.app_context():
        assert job_status(handle.id)["username"] == "qa_user"
        assert recent_jobs(5)[0]["job_id"] == handle.id


def test_failed_job_records_the_error_and_rolls_its_work_back(japp, unique):
    from app import db
    with japp.app_context():
        handle = enqueue(japp, f"{HERE}.boom", f"lot {unique} is unknown", prefix=f"T{unique}")
        assert handle.state == "failed"
        assert handle.error.startswith(f"ValueError: lot {unique} is unknown")
        row = job_status(handle.id)
        assert row["state"] == "failed" and row["error"].startswith(f"ValueError: lot {unique}")
        assert row["result"] is None and row["duration_ms"] >= 0
        t = japp.extensions["medtrace"].models.table("naming_series")
        assert db.session.execute(sa.select(t).where(t.c.prefix == f"T{unique}")).first() is None


def test_unknown_function_and_non_json_arguments(japp):
    with japp.app_context():
        handle = enqueue(japp, "jobs.stock_jobs.no_such_job")
        assert handle.state == "failed" and "no job function no_such_job" in handle.error
        with pytest.raises(TypeError, match="must be JSON values"):
            enqueue(japp, f"{HERE}.add", dt.date.today(), 1)
        with pytest.raises(ValueError, match="dotted path"):
            enqueue(japp, add)


def test_enqueue_with_the_runtime_inside_the_app_context(japp):
    with japp.app_context():
        handle = enqueue(japp.extensions["medtrace"], f"{HERE}.add", 4, 5)
    assert handle.result["sum"] == 9


def test_after_commit_runs_only_after_the_commit(japp, unique):
    from app import db
    with japp.app_context():
        db.session.execute(sa.text("SELECT 1"))
        job_id = after_commit(db.session, f"{HERE}.remember", f"c{unique}")
        assert RAN == []
        db.session.commit()
        assert RAN == [f"c{unique}"]
        assert job_status(job_id)["state"] == "finished"
        db.session.commit()  # a later commit does not run it again
        assert RAN == [f"c{unique}"]


def test_after_commit_is_dropped_on_rollback(japp, unique):
    from app import db
    from app.domain.errors import NotFound
    with japp.app_context():
        job_id = after_commit(db.session, f"{HERE}.remember", f"r{unique}")
        db.session.rollback()
        db.session.commit()
        assert RAN == []
        with pytest.raises(NotFound):
            job_status(job_id)
        after_commit(db.session, f"{HERE}.remember", f"closed{unique}")
        db.session.close()
        db.session.commit()
        assert RAN == []


def test_after_commit_follows_savepoints(japp, unique):
    from app import db
    with japp.app_context():
        db.session.execute(sa.text("SELECT 1"))
        with db.session.begin_nested():
            after_commit(db.session, f"{HERE}.remember", f"kept{unique}")
        savepoint = db.session.begin_nested()
        after_commit(db.session, f"{HERE}.remember", f"dropped{unique}")
        savepoint.rollback()
        assert RAN == []
        db.session.commit()
        assert RAN == [f"kept{unique}"]


def test_after_commit_from_a_service_transaction(japp, unique):
    """What workflows do: a task registered inside ctx.transaction() runs once it commits."""
    from app import db
    from app.context import ServiceContext
    with japp.app_context():
        sc = ServiceContext(db.session, japp.extensions["medtrace"].models)
        with sc.transaction():
            after_commit(sc.session, f"{HERE}.remember", f"svc{unique}")
            assert RAN == []
        assert RAN == [f"svc{unique}"]
        with pytest.raises(RuntimeError):
            with sc.transaction():
                after_commit(sc.session, f"{HERE}.remember", f"failed{unique}")
                raise RuntimeError("the service failed")
        assert RAN == [f"svc{unique}"]


def test_expiry_jobs_inline(japp, unique):
    from app import db
    from app.context import ServiceContext
    from app.inventory.receipts import post_receipt
    today = dt.date.today()
    with japp.app_context():
        models = japp.extensions["medtrace"].models
        sc = ServiceContext(db.session, models)
        with sc.transaction():
            receipt = post_receipt(sc, {"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
                {"product": "SYR-0003", "lot_number": f"SOON{unique}",
                 "expiry_date": today + dt.timedelta(days=10), "quantity": "4"},
                {"product": "SYR-0003", "lot_number": f"PAST{unique}",
                 "expiry_date": today + dt.timedelta(days=10), "quantity": "2"}]})
            # received in date, expired since (receiving expired units is refused)
            receipt.lines[1].lot.expiry_date = today - dt.timedelta(days=1)
        report = enqueue(japp, "jobs.stock_jobs.expiry_report", days=30)
        assert report.state == "finished", report.error
        soon = {r["lot"]: r for r in report.result["lots"]}[f"SOON{unique}"]
        assert soon["warehouses"] == {"SH01": "4"} and soon["days_left"] == 10
        expired = enqueue(japp, "jobs.stock_jobs.expire_lots")
        assert f"PAST{unique}" in expired.result["lots"] and f"SOON{unique}" not in expired.result["lots"]
        Lot = models["Lot"]
        assert db.session.execute(sa.select(Lot.status).where(
            Lot.lot_number == f"PAST{unique}")).scalar_one() == "expired"
