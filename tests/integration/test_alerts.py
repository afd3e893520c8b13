"""Alert rules end to end, inline (no Redis): the expiry rule raises once per
lot, warehouse and threshold (not again the next day), delivered to the inbox
of the roles in scope and to a local SMTP server; crossing a threshold raises
the next alert and clears the previous; the other shipped rules; on_change
(recall) in the same transaction; the in-process scheduler."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from alerting import (
    backdate_expiry, days_later, free_port, notifications, receive, smtp_server, warehouse_id,
)
from app.jobqueue import enqueue, run_scheduled


@pytest.fixture
def inline(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    return app


@pytest.fixture
def mail(inline, monkeypatch):
    with smtp_server() as (box, port):
        monkeypatch.setitem(inline.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(inline.config, "SMTP_PORT", port)
        yield box


def inbox_of(api, user, **params):
    r = api(user).get("/api/v1/notifications/", query_string={"show": "all", "page_size": 200, **params})
    assert r.status_code == 200, r.json
    return r.json


def test_expiry_alert_raised_once_delivered_to_inbox_and_smtp(inline, mail, api, monkeypatch, unique):
    today = dt.date.today()
    lot_id = receive(inline, "SH01", f"EXP30{unique}", today + dt.timedelta(days=20), quantity="7")
    sh01 = warehouse_id(inline, "SH01")

    handle = run_scheduled(inline, "alert.lot_expiring")
    assert handle.state == "finished", handle.error
    assert handle.result["raised"] >= 1 and handle.result["email"]["emails"] >= 1
    raised = notifications(inline, "lot_expiring", record_id=lot_id)
    assert len(raised) == 1
    alert = raised[0]
    assert alert["dedup_key"] == f"{lot_id}:{sh01}:30" and alert["severity"] == "critical"
    assert alert["warehouse_id"] == sh01 and alert["state"] == "open"
    assert f"EXP30{unique}" in alert["message"]["en"] and "20 days left" in alert["message"]["en"]
    assert "剩余 20 天" in alert["message"]["zh"] and "SH01 库存 7" in alert["message"]["zh"]

    # the inbox: SH01's manager and QA see it; BJ01's manager and a clerk (no recipient role) do not
    mine = {n["id"]: n for n in inbox_of(api, "manager_sh")["items"]}
    assert alert["id"] in mine and mine[alert["id"]]["link"] == f"/stock/lot/{lot_id}"
    assert alert["id"] in {n["id"] for n in inbox_of(api, "qa_user")["items"]}
    assert alert["id"] not in {n["id"] for n in inbox_of(api, "manager_bj")["items"]}
    assert alert["id"] not in {n["id"] for n in inbox_of(api, "clerk_sh")["items"]}
    # ... and the local SMTP server received it for them, not for BJ01's manager
    assert any(f"EXP30{unique}" in body for body in mail.to("manager_sh@example.com"))
    assert any(f"EXP30{unique}" in body for body in mail.to("qa_user@example.com"))
    assert not any(f"EXP30{unique}" in body for body in mail.to("manager_bj@example.com"))
    sent = len(mail.messages)

    # the next night: the same lot, still within 30 days, is not raised again nor mailed again
    with days_later(monkeypatch, 1):
        again = run_scheduled(inline, "alert.lot_expiring")
    assert again.state == "finished", again.error
    assert len(notifications(inline, "lot_expiring", record_id=lot_id)) == 1
    assert notifications(inline, "lot_expiring", record_id=lot_id)[0]["cleared_at"] is None
    assert not any(f"EXP30{unique}" in b for _, m in mail.messages[sent:]
                   for b in [m.get_body(preferencelist=("plain",)).get_content()])


def test_crossing_a_threshold_raises_the_next_and_clears_the_previous(inline, monkeypatch, unique):
    lot_id = receive(inline, "HZ01", f"EXP95{unique}", dt.date.today() + dt.timedelta(days=95))
    hz01 = warehouse_id(inline, "HZ01")
    assert run_scheduled(inline, "alert.lot_expiring").state == "finished"
    first = notifications(inline, "lot_expiring", record_id=lot_id)
    assert [(n["dedup_key"], n["severity"]) for n in first] == [(f"{lot_id}:{hz01}:180", "info")]
    with days_later(monkeypatch, 10):  # 85 days left: the 90-day threshold
        assert run_scheduled(inline, "alert.lot_expiring").state == "finished"
    after = {n["dedup_key"]: n for n in notifications(inline, "lot_expiring", record_id=lot_id)}
    assert set(after) == {f"{lot_id}:{hz01}:180", f"{lot_id}:{hz01}:90"}
    assert after[f"{lot_id}:{hz01}:90"]["severity"] == "warning" and after[f"{lot_id}:{hz01}:90"]["state"] == "open"
    old = after[f"{lot_id}:{hz01}:180"]
    assert old["cleared_at"] is not None and old["state"] == "resolved" and old["resolved_by"] == "system"


def test_expired_stock_still_available_is_regulatory_and_cannot_be_muted(inline, api, unique):
    lot_id = receive(inline, "SH01", f"PAST{unique}", dt.date.today() + dt.timedelta(days=20), quantity="3")
    backdate_expiry(inline, lot_id, dt.date.today() - dt.timedelta(days=2))
    assert run_scheduled(inline, "alert.expired_stock_available").state == "finished"
    [alert] = notifications(inline, "expired_stock_available", record_id=lot_id)
    assert alert["regulatory"] and alert["severity"] == "critical"
    assert f"PAST{unique}" in alert["message"]["en"] and f"PAST{unique}" in alert["message"]["zh"]
    r = api("manager_sh").post("/api/v1/notifications/rules/expired_stock_available/mute")
    assert r.status_code == 403 and "regulatory" in r.json["message"]
    assert alert["id"] in {n["id"] for n in inbox_of(api, "manager_sh")["items"]}
    # resolving a regulatory alert needs a comment saying how
    r = api("manager_sh").post(f"/api/v1/notifications/{alert['id']}/resolve", json={})
    assert r.status_code == 422
    assert notifications(inline, "expired_stock_available", record_id=lot_id)[0]["state"] == "open"


def test_stock_below_the_policy_minimum(inline, unique):
    from app import db
    from app.actor import SYSTEM, acting_as
    receive(inline, "GZ01", f"LOW{unique}", dt.date.today() + dt.timedelta(days=900), quantity="2",
            product="GLV-0004")
    with inline.app_context(), acting_as(SYSTEM):
        m = inline.extensions["medtrace"].models
        P, W, S = m["Product"], m["Warehouse"], m["StockPolicy"]
        product = db.session.execute(sa.select(P).where(P.sku == "GLV-0004")).scalar_one()
        gz01 = db.session.execute(sa.select(W).where(W.code == "GZ01")).scalar_one()
        policy = db.session.execute(sa.select(S).where(S.product_id == product.id, S.warehouse_id == gz01.id)).scalar()
        if policy is None:
            policy = S(product=product, warehouse=gz01, min_quantity=Decimal("100000"), active=True)
            db.session.add(policy)
        policy.min_quantity = Decimal("100000")
        db.session.commit()
        policy_id = policy.id
    handle = run_scheduled(inline, "alert.stock_below_minimum")
    assert handle.state == "finished", handle.error
    [alert] = notifications(inline, "stock_below_minimum", record_id=policy_id)
    assert alert["entity"] == "StockPolicy" and alert["data"]["warehouse"] == "GZ01"
    assert "below the minimum of 100000" in alert["message"]["en"] and "库存预警" not in alert["message"]["zh"]
    # stock back above the minimum: the alert clears itself
    with inline.app_context(), acting_as(SYSTEM):
        S = inline.extensions["medtrace"].models["StockPolicy"]
        db.session.get(S, policy_id).min_quantity = Decimal("0")
        db.session.commit()
    assert run_scheduled(inline, "alert.stock_below_minimum").state == "finished"
    [cleared] = notifications(inline, "stock_below_minimum", record_id=policy_id)
    assert cleared["cleared_at"] is not None and cleared["state"] == "resolved"


def test_lot_in_quarantine_too_long(inline, monkeypatch, unique):
    lot_id = receive(inline, "BJ01", f"QUA{unique}", dt.date.today() + dt.timedelta(days=900),
                     inspection=True)
    assert run_scheduled(inline, "alert.quarantine_too_long").state == "finished"
    assert notifications(inline, "quarantine_too_long", record_id=lot_id) == []  # not 14 days yet
    with days_later(monkeypatch, 20):
        assert run_scheduled(inline, "alert.quarantine_too_long").state == "finished"
    [alert] = notifications(inline, "quarantine_too_long", record_id=lot_id)
    assert alert["data"]["days_in_quarantine"] >= 19 and alert["data"]["warehouse"] == "BJ01"


def test_recall_raises_in_the_same_transaction_for_every_warehouse_holding_the_lot(inline, api, unique):
    from app import db
    from app.actor import SYSTEM, acting_as
    lot_id = receive(inline, "SH01", f"RCL{unique}", dt.date.today() + dt.timedelta(days=900))
    with inline.app_context(), acting_as(SYSTEM):
        Lot = inline.extensions["medtrace"].models["Lot"]
        lot = db.session.get(Lot, lot_id)
        lot.status = "recalled"
        db.session.flush()
        db.session.rollback()  # rolled back: nothing raised
    assert notifications(inline, "lot_recalled", record_id=lot_id) == []
    with inline.app_context(), acting_as(SYSTEM):
        db.session.get(Lot, lot_id).status = "recalled"
        db.session.commit()
    [alert] = notifications(inline, "lot_recalled", record_id=lot_id)
    assert alert["regulatory"] and alert["warehouse_id"] == warehouse_id(inline, "SH01")
    assert alert["data"]["old_value"] == "available" and alert["data"]["new_value"] == "recalled"
    # a clerk of SH01 is a recipient of recalls
    assert alert["id"] in {n["id"] for n in inbox_of(api, "clerk_sh")["items"]}


def test_in_process_scheduler_runs_missed_entries_once_then_waits(inline, monkeypatch):
    from app import db
    from app.jobqueue import schedule_states
    from jobs.scheduler import InProcessScheduler
    ran = []
    monkeypatch.setattr("app.jobqueue.run_scheduled", lambda app, name, **kw: ran.append(name))
    scheduler = InProcessScheduler(inline)
    now = dt.datetime.utcnow().replace(microsecond=0)
    with inline.app_context():
        s = inline.extensions["medtrace"].models.table("job_schedule")
        db.session.execute(s.delete())
        db.session.commit()
    first = scheduler.tick(now)  # never run: every entry's latest due time was missed
    assert sorted(first) == sorted(inline.extensions["medtrace_schedules"]) == sorted(ran)
    assert scheduler.tick(now + dt.timedelta(seconds=1)) == []  # nothing new is due
    lot_expiring = inline.extensions["medtrace_schedules"]["alert.lot_expiring"]
    due = lot_expiring.next_after(now)
    assert "alert.lot_expiring" in scheduler.tick(due + dt.timedelta(seconds=1))
    with inline.app_context():
        assert schedule_states()["alert.lot_expiring"]["last_due_at"] == due
    # idle: it sleeps until the next due time, not in a polling loop
    assert scheduler.seconds_to_next(now) == pytest.approx(
        min((s.next_after(now) - now).total_seconds() for s in inline.extensions["medtrace_schedules"].values()))


def test_a_run_still_going_is_not_started_twice(inline):
    from app import db
    from app.jobqueue import job_status
    with inline.app_context():
        s = inline.extensions["medtrace"].models.table("job_schedule")
        t = inline.extensions["medtrace"].models.table("job_run")
        now = dt.datetime.utcnow()
        db.session.execute(t.insert().values(job_id="holder-run", func="jobs.alert_jobs.evaluate_rule",
                                             state="started", enqueued_at=now, started_at=now))
        db.session.execute(s.delete().where(s.c.name == "alert.transfer_overdue"))
        db.session.execute(s.insert().values(name="alert.transfer_overdue", running_job_id="holder-run",
                                             running_since=now))
        db.session.commit()
    handle = run_scheduled(inline, "alert.transfer_overdue")
    assert handle.state == "skipped"
    with inline.app_context():
        row = job_status(handle.id)
        assert row["state"] == "skipped" and "holder-run" in row["result"]["skipped"]
        assert row["started_by"] == {"kind": "schedule", "name": "alert.transfer_overdue"}
        # the holder finished: the next run goes ahead
        db.session.execute(t.update().where(t.c.job_id == "holder-run").values(state="finished"))
        db.session.commit()
    assert run_scheduled(inline, "alert.transfer_overdue").state == "finished"


def test_a_digest_the_mail_server_refused_is_sent_by_the_next_run(inline, monkeypatch, unique):
    port = free_port()  # nothing listens there yet
    monkeypatch.setitem(inline.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(inline.config, "SMTP_PORT", port)
    lot_id = receive(inline, "CD01", f"SMTP{unique}", dt.date.today() + dt.timedelta(days=12))
    handle = run_scheduled(inline, "alert.lot_expiring")
    assert handle.state == "finished", handle.error  # the alert stands without e-mail
    assert "refused" in handle.result["email"]["error"]
    assert len(notifications(inline, "lot_expiring", record_id=lot_id)) == 1
    with smtp_server(port) as (mail, _):
        with inline.app_context():
            sweep = enqueue(inline, "jobs.notification_jobs.send_emails")
        assert sweep.state == "finished", sweep.error
        assert any(f"SMTP{unique}" in body for body in mail.to("qa_user@example.com"))
        with inline.app_context():
            again = enqueue(inline, "jobs.notification_jobs.send_emails")
        assert again.state == "finished" and again.result["emails"] == 0  # nothing sent twice
