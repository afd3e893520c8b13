"""The inbox and the job log through the REST API and the pages, as the users
who use them: acknowledge (for me), resolve and comment (for everyone), mute
(never a regulatory rule), warehouse scope; the Jobs page and API for admins
and read-only roles, retry of a failed run, progress of a long job; every
page in English and Chinese."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from alerting import notifications, receive
from app.jobqueue import enqueue, report_progress, run_scheduled

HERE = __name__


def long_job(steps: int):
    """A job reporting progress; returns what the job_run row showed half way."""
    from app import db
    from flask import current_app
    from app.jobqueue import _running
    t = current_app.extensions["medtrace"].models.table("job_run")
    seen = None
    for i in range(1, steps + 1):
        report_progress(i, steps)
        if i == steps // 2:
            with db.engine.connect() as conn:  # what another process (the Jobs page) sees now
                seen = conn.execute(sa.select(t.c.progress_done, t.c.progress_total).where(
                    t.c.job_id == _running.get()["id"])).one()
    return {"seen_half_way": list(seen)}


def fails(message):
    raise ValueError(message)


@pytest.fixture
def inline(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    monkeypatch.setitem(app.config, "SMTP_HOST", "")
    return app


@pytest.fixture
def expiring(inline, unique):
    """An expiry alert at SH01, raised by the rule."""
    lot_id = receive(inline, "SH01", f"INB{unique}", dt.date.today() + dt.timedelta(days=60))
    assert run_scheduled(inline, "alert.lot_expiring").state == "finished"
    [alert] = notifications(inline, "lot_expiring", record_id=lot_id)
    return alert


def in_chinese(api, user, method, url, **kw):
    caller = api(user)
    return getattr(caller.client, method)(url, headers={**caller.headers, "Accept-Language": "zh"}, **kw)


def unread(api, user) -> int:
    r = api(user).get("/api/v1/notifications/unread")
    assert r.status_code == 200, r.json
    return r.json["count"]


def test_acknowledge_is_per_user_resolve_and_comments_are_shared(inline, api, expiring):
    nid = expiring["id"]
    before_mgr, before_qa = unread(api, "manager_sh"), unread(api, "qa_user")
    r = api("manager_sh").post(f"/api/v1/notifications/{nid}/acknowledge", json={})
    assert r.status_code == 200 and r.json["acknowledged"] is True
    assert unread(api, "manager_sh") == before_mgr - 1
    assert unread(api, "qa_user") == before_qa  # QA has not acknowledged it
    r = api("qa_user").post(f"/api/v1/notifications/{nid}/comments", json={"text": "moving it to GZ01"})
    assert r.status_code == 200
    r = api("qa_user").post(f"/api/v1/notifications/{nid}/comments", json={"text": ""})
    assert r.status_code == 422
    r = api("qa_user").post(f"/api/v1/notifications/{nid}/resolve", json={"comment": "rotated by FEFO"})
    assert r.status_code == 200 and r.json["resolved_by"] == "qa_user"
    detail = api("manager_sh").get(f"/api/v1/notifications/{nid}").json
    assert detail["state"] == "resolved" and detail["acknowledged_by"] == ["manager_sh", "qa_user"]
    assert [(e["by"], e["action"], e["comment"]) for e in detail["events"]] == [
        ("manager_sh", "acknowledge", None), ("qa_user", "comment", "moving it to GZ01"),
        ("qa_user", "resolve", "rotated by FEFO")]
    assert unread(api, "qa_user") == before_qa - 1  # resolved: no longer unread for anyone


def test_scope_a_manager_of_another_warehouse_cannot_see_or_act(inline, api, expiring):
    nid = expiring["id"]
    assert api("manager_bj").get(f"/api/v1/notifications/{nid}").status_code == 404
    r = api("manager_bj").post(f"/api/v1/notifications/{nid}/acknowledge", json={})
    assert r.status_code == 404
    assert api("manager_bj").post(f"/api/v1/notifications/{nid}/resolve", json={}).status_code == 404
    assert notifications(inline, "lot_expiring", id=nid)[0]["state"] == "open"
    assert api("manager_sh").get(f"/api/v1/notifications/{nid}").status_code == 200
    assert inline.test_client().get("/api/v1/notifications/unread").status_code == 401


def test_mute_a_rule_for_myself_only(inline, api, expiring):
    nid = expiring["id"]
    r = api("manager_sh").post("/api/v1/notifications/rules/lot_expiring/mute")
    assert r.status_code == 200 and r.json["muted"] is True
    try:
        mine = api("manager_sh").get("/api/v1/notifications/", query_string={"show": "all", "page_size": 200}).json
        assert nid not in {n["id"] for n in mine["items"]}
        rules = {r["rule"]: r for r in api("manager_sh").get("/api/v1/notifications/rules").json["rules"]}
        assert rules["lot_expiring"]["muted"] and not rules["expired_stock_available"]["can_mute"]
        qa = api("qa_user").get("/api/v1/notifications/", query_string={"show": "all", "page_size": 200}).json
        assert nid in {n["id"] for n in qa["items"]}  # QA did not mute it
    finally:
        r = api("manager_sh").delete("/api/v1/notifications/rules/lot_expiring/mute")
        assert r.status_code == 200 and r.json["muted"] is False
    r = api("manager_sh").post("/api/v1/notifications/rules/no_such_rule/mute")
    assert r.status_code == 404
    r = in_chinese(api, "manager_sh", "post", "/api/v1/notifications/rules/lot_recalled/mute")
    assert r.status_code == 403 and "不能屏蔽" in r.json["message"]


def test_bad_input_is_a_4xx_in_the_users_language(inline, api):
    r = in_chinese(api, "manager_sh", "get", "/api/v1/notifications/", query_string={"show": "everything"})
    assert r.status_code == 422 and "show" in r.json["message"] and "之一" in r.json["message"]
    r = api("manager_sh").get("/api/v1/notifications/", query_string={"page_size": "100000000000000000000"})
    assert r.status_code == 422
    assert api("manager_sh").get("/api/v1/notifications/99999999999").status_code == 404
    r = api("manager_sh").post("/api/v1/notifications/1/comments", data="[1", content_type="application/json")
    assert r.status_code in (404, 422)


def test_jobs_api_admin_sees_all_retries_a_failure_clerk_is_refused(inline, api, unique):
    with inline.app_context():
        failed = enqueue(inline, f"{HERE}.fails", f"boom {unique}")
    assert failed.state == "failed"
    r = api("admin").get("/api/v1/jobs/", query_string={"state": "failed", "page_size": 200})
    assert r.status_code == 200 and failed.id in {j["job_id"] for j in r.json["jobs"]}
    one = api("admin").get(f"/api/v1/jobs/{failed.id}").json
    assert one["state"] == "failed" and one["error"].startswith(f"ValueError: boom {unique}")
    assert one["started_by"] == {"kind": "user", "name": "system"} and one["arguments"]["args"] == [f"boom {unique}"]
    assert api("clerk_sh").get("/api/v1/jobs/").status_code == 403
    assert api("clerk_sh").post(f"/api/v1/jobs/{failed.id}/retry").status_code == 403
    assert api("qa_user").get(f"/api/v1/jobs/{failed.id}").status_code == 200  # read-only role
    assert api("qa_user").post(f"/api/v1/jobs/{failed.id}/retry").status_code == 403
    r = api("admin").post(f"/api/v1/jobs/{failed.id}/retry")
    assert r.status_code == 202 and r.json["retry_of"] == failed.id and r.json["state"] == "failed"
    again = api("admin").get(f"/api/v1/jobs/{r.json['job_id']}").json
    assert again["retry_of"] == failed.id and again["requested_by"] == "admin" and again["username"] == "system"
    finished = api("admin").get("/api/v1/jobs/", query_string={"state": "finished"}).json["jobs"]
    assert finished and api("admin").post(f"/api/v1/jobs/{finished[0]['job_id']}/retry").status_code == 409
    assert api("admin").get("/api/v1/jobs/", query_string={"state": "bogus"}).status_code == 422
    assert api("admin").get("/api/v1/jobs/no-such-job").status_code == 404


def test_progress_is_reported_while_the_job_runs(inline, api, monkeypatch):
    monkeypatch.setattr("app.jobqueue.PROGRESS_EVERY", 0)  # write every step (not every 0.5 s)
    with inline.app_context():
        handle = enqueue(inline, f"{HERE}.long_job", 10)
    assert handle.state == "finished", handle.error
    assert handle.result["seen_half_way"] == [5, 10]
    row = api("admin").get(f"/api/v1/jobs/{handle.id}").json
    assert (row["progress_done"], row["progress_total"], row["progress"]) == (10, 10, 100)


def test_schedules_api_and_run_now(inline, api):
    r = in_chinese(api, "admin", "get", "/api/v1/jobs/schedules")
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json["schedules"]}
    assert by_name["alert.lot_expiring"]["cron"] == "0 2 * * *"
    assert by_name["expire_lots"]["description"] == "将已超过有效期的批次标记为过期"
    r = api("admin").post("/api/v1/jobs/schedules/alert.approval_waiting/run")
    assert r.status_code == 202 and r.json["state"] == "finished"
    assert api("admin").post("/api/v1/jobs/schedules/nope/run").status_code == 404
    assert api("qa_user").post("/api/v1/jobs/schedules/alert.approval_waiting/run").status_code == 403


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pages_in_both_languages(inline, web, expiring, lang):
    words = {"en": ("Notifications", "Acknowledge", "Jobs", "Schedules"),
             "zh": ("通知", "确认已阅", "后台任务", "计划任务")}[lang]
    manager = web("manager_sh")
    manager.get(f"/lang/{lang}")
    page = manager.get("/notifications/?show=all").get_data(as_text=True)
    assert words[0] in page and words[1] in page and f'data-notification="{expiring["id"]}"' in page
    assert 'id="mt-bell"' in page
    detail = manager.get(f"/notifications/{expiring['id']}/").get_data(as_text=True)
    assert expiring["message"][lang] in detail
    assert {"en": "<th>Days left</th>", "zh": "<th>剩余天数</th>"}[lang] in detail
    assert {"en": "<th>Lot number</th>", "zh": "<th>批号</th>"}[lang] in detail  # the entity's own label
    home = manager.get("/").get_data(as_text=True)
    assert 'id="alert-panel"' in home and 'id="mt-bell"' in home
    admin = web("admin")
    admin.get(f"/lang/{lang}")
    jobs = admin.get("/jobs/")
    assert jobs.status_code == 200
    text = jobs.get_data(as_text=True)
    assert words[2] in text and words[3] in text and "alert.lot_expiring" in text
    assert web("clerk_sh").get("/jobs/").status_code in (302, 403)
    assert manager.get("/notifications/999999999/").status_code == 404
