"""Jobs with a real Redis (database 15): the outbox keeps work requested while
Redis is unreachable and delivers it once Redis is back; RQ's own cron
scheduler runs the schedules (a missed run once, at start), a burst worker runs
them, and the expiry alert is raised once, not again the next day, delivered
to the inbox and to a local SMTP server."""
from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue, SimpleWorker, cron_job_registry

from alerting import days_later, notifications, receive, smtp_server
from support import REDIS_URL

QUEUE = f"medtrace-cron-test-{os.getpid()}"
DOWN = "redis://127.0.0.1:1/15"  # nothing listens there


@pytest.fixture(scope="module")
def redis_conn():
    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def rq_app(app, monkeypatch, redis_conn):
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.setitem(app.config, "RQ_QUEUE", QUEUE)
    return app


def work(redis_conn) -> bool:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return SimpleWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn).work(burst=True)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def worker_app_with_smtp(app, monkeypatch, port):
    """The app the worker builds for the test database, with SMTP configured as
    a worker's own environment would have it."""
    import jobs
    from app.jobqueue import forwarded_config
    wapp = jobs.worker_app(forwarded_config(app))
    monkeypatch.setitem(wapp.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(wapp.config, "SMTP_PORT", port)
    monkeypatch.setitem(wapp.config, "RQ_QUEUE", QUEUE)
    return wapp


def job_rows(app, **where):
    from app import db
    with app.app_context():
        t = app.extensions["medtrace"].models.table("job_run")
        q = sa.select(t).where(*[t.c[k] == v for k, v in where.items()]).order_by(t.c.id)
        return [dict(r) for r in db.session.execute(q).mappings()]


def submitted_transfer(api, unique) -> str:
    expiry = (dt.date.today() + dt.timedelta(days=900)).isoformat()
    r = api("admin").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"product": "GLV-0004", "lot_number": f"OB{unique}", "expiry_date": expiry, "quantity": "10"}]})
    assert r.status_code == 201, r.json
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "reason": f"outbox {unique}",
        "lines": [{"product": "GLV-0004", "lot": f"OB{unique}", "quantity": "2"}]})
    assert r.status_code == 201, r.json
    name = r.json["name"]
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/actions/submit", json={})
    assert r.status_code == 200 and r.json["state"] == "submitted", r.json
    return name


def test_outbox_keeps_the_approvers_notice_while_redis_is_down(app, api, monkeypatch, redis_conn, unique):
    from app.jobqueue import deliver_pending
    monkeypatch.setitem(app.config, "REDIS_URL", DOWN)
    monkeypatch.setitem(app.config, "RQ_QUEUE", QUEUE)
    monkeypatch.setattr("app.jobqueue.RETRY_BASE_SECONDS", 0)  # the next attempt is due at once
    name = submitted_transfer(api, unique)  # succeeds although Redis does not answer

    [row] = [r for r in job_rows(app, func="jobs.document_jobs.run_task")
             if r["args"]["args"][0] == "notify_approvers" and r["description"] and name_of(app, r) == name]
    assert row["state"] == "pending" and row["attempts"] == 1
    assert "could not enqueue on RQ" in row["error"] and row["next_attempt_at"] is not None
    # the backlog is visible to admins
    r = api("admin").get("/api/v1/jobs/", query_string={"state": "pending"})
    assert r.status_code == 200 and r.json["backlog"]["pending"] >= 1
    assert row["job_id"] in {j["job_id"] for j in r.json["jobs"]}
    assert not _waiting_notice(api, "manager_sh", name)

    # still down: the relay tries again, counts the attempt, keeps it
    stats = deliver_pending(app)
    assert stats["deferred"] == 1 and stats["delivered"] == 0
    assert job_rows(app, job_id=row["job_id"])[0]["attempts"] == 2

    # Redis is back: the relay delivers it, a burst worker runs it, the manager is told
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    stats = deliver_pending(app)
    assert stats["delivered"] >= 1 and stats["backlog"] == 0
    assert job_rows(app, job_id=row["job_id"])[0]["state"] == "queued"
    assert work(redis_conn)
    done = job_rows(app, job_id=row["job_id"])[0]
    assert done["state"] == "finished", done["error"]
    assert "manager_sh" in done["result"]["notify"]
    notice = _waiting_notice(api, "manager_sh", name)
    assert notice and notice["rule"] == "notify_approvers" and notice["link"] == f"/transfers/{name}/"
    assert "waiting for your approval" in notice["messages"]["en"] and "待您审批" in notice["messages"]["zh"]
    assert not _waiting_notice(api, "manager_bj", name)  # another warehouse's manager


def test_enqueue_with_redis_down_keeps_the_run_pending(app, monkeypatch, redis_conn, unique):
    from app.jobqueue import deliver_pending, enqueue, job_status
    monkeypatch.setitem(app.config, "REDIS_URL", DOWN)
    monkeypatch.setitem(app.config, "RQ_QUEUE", QUEUE)
    monkeypatch.setattr("app.jobqueue.RETRY_BASE_SECONDS", 0)
    with app.app_context():
        handle = enqueue(app, "jobs.stock_jobs.expiry_report", days=7, job_id=f"down-{unique}")
        assert handle.state == "pending" and "could not enqueue on RQ" in handle.error
        assert job_status(handle.id)["state"] == "pending"
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    assert deliver_pending(app)["delivered"] >= 1
    assert work(redis_conn)
    with app.app_context():
        row = job_status(handle.id)
    assert row["state"] == "finished" and row["result"]["days"] == 7 and row["attempts"] == 1


def name_of(app, row) -> str | None:
    from app import db
    entity, record_id = row["args"]["args"][1], row["args"]["args"][2]
    with app.app_context():
        model = app.extensions["medtrace"].models[entity]
        return db.session.get(model, record_id).name


def _waiting_notice(api, user, name):
    r = api(user).get("/api/v1/notifications/", query_string={"show": "all", "rule": "notify_approvers",
                                                             "page_size": 200})
    assert r.status_code == 200, r.json
    return next((n for n in r.json["items"] if n["record_name"] == name), None)


def test_inline_mode_still_runs_after_commit_at_once(app, api, monkeypatch, unique):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    name = submitted_transfer(api, unique)
    rows = [r for r in job_rows(app, func="jobs.document_jobs.run_task") if name_of(app, r) == name]
    assert [r["state"] for r in rows] == ["finished"]
    assert _waiting_notice(api, "manager_sh", name)
    # approving moves it on: the notice is resolved by the system
    r = api("manager_sh").post(f"/api/v1/transfers/{name}/actions/approve", json={})
    assert r.status_code == 200, r.json
    notice = _waiting_notice(api, "manager_sh", name)
    assert notice["state"] == "resolved" and notice["resolved_by"] == "system"


def test_rq_cron_scheduler_raises_the_expiry_alert_once(rq_app, api, redis_conn, monkeypatch, unique):
    from jobs.scheduler import build_cron
    lot_id = receive(rq_app, "SH01", f"CRON{unique}", dt.date.today() + dt.timedelta(days=25), quantity="4")
    with smtp_server() as (mail, port):
        worker_app_with_smtp(rq_app, monkeypatch, port)
        scheduler = build_cron(rq_app, redis_conn)
        # never enqueued before: every entry's latest due time was missed, so each runs once, now
        enqueued = {j.name for j in scheduler.enqueue_jobs()}
        assert enqueued == {f"{QUEUE}:{name}" for name in rq_app.extensions["medtrace_schedules"]}
        assert scheduler.enqueue_jobs() == []  # and not again until their next due time
        assert work(redis_conn)

        [alert] = notifications(rq_app, "lot_expiring", record_id=lot_id)
        assert alert["severity"] == "critical" and f"CRON{unique}" in alert["message"]["en"]
        runs = job_rows(rq_app, schedule="alert.lot_expiring")
        assert runs and runs[-1]["state"] == "finished" and runs[-1]["username"] == "system"
        assert runs[-1]["func"] == "jobs.alert_jobs.evaluate_rule"
        assert runs[-1]["progress_total"] >= 1 and runs[-1]["progress_done"] == runs[-1]["progress_total"]
        assert any(f"CRON{unique}" in body for body in mail.to("manager_sh@example.com"))
        inbox = api("manager_sh").get("/api/v1/notifications/", query_string={"rule": "lot_expiring",
                                                                             "page_size": 200}).json
        assert alert["id"] in {n["id"] for n in inbox["items"]}
        mailed = len(mail.messages)

        # a restarted scheduler does not re-run what was enqueued at its due time
        again = build_cron(rq_app, redis_conn)
        assert again.enqueue_jobs() == []
        # the next day's run: nothing new for this lot, nothing mailed about it
        expiring = next(j for j in again.get_jobs() if j.name == f"{QUEUE}:alert.lot_expiring")
        expiring.next_enqueue_time = dt.datetime.now(dt.timezone.utc)
        with days_later(monkeypatch, 1):
            assert [j.name for j in again.enqueue_jobs()] == [expiring.name]
            assert work(redis_conn)
        assert len(notifications(rq_app, "lot_expiring", record_id=lot_id)) == 1
        assert job_rows(rq_app, schedule="alert.lot_expiring")[-1]["state"] == "finished"
        assert not any(f"CRON{unique}" in m.get_body(preferencelist=("plain",)).get_content()
                       for _, m in mail.messages[mailed:])


def test_a_scheduler_down_at_due_time_runs_the_missed_entry_once(rq_app, redis_conn):
    from jobs.scheduler import build_cron
    name = f"{QUEUE}:alert.transfer_overdue"
    key = cron_job_registry.get_registry_key()
    # last enqueued three days ago: today's 07:00 run (or yesterday's) was missed
    redis_conn.zadd(key, {name: (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)).timestamp()})
    for other in rq_app.extensions["medtrace_schedules"]:
        if f"{QUEUE}:{other}" != name:
            redis_conn.zadd(key, {f"{QUEUE}:{other}": dt.datetime.now(dt.timezone.utc).timestamp()})
    scheduler = build_cron(rq_app, redis_conn)
    assert [j.name for j in scheduler.enqueue_jobs()] == [name]
    assert scheduler.enqueue_jobs() == []
    Queue(QUEUE, connection=redis_conn).empty()
