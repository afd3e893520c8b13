"""The audit trail as QA and auditors read it, on SQLite and PostgreSQL: labels,
titles and local minutes; filters; scope; CSV/XLSX exports; link changes made
through a relationship; a partial receipt in a transfer's history; and the
site-wide pieces an admin meets (favicon, offline chart, role labels, a quiet
log at sign-in)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging

import pytest
import sqlalchemy as sa

from app.actor import Actor
from app.exports import read_xlsx
from app.i18n import zone_named
from app.records.audit_trail import AuditFilter, AuditReader
from support import create_user

SHANGHAI = zone_named("Asia/Shanghai")


def reader(app, actor: Actor, lang="en") -> AuditReader:
    from app import db
    return AuditReader(app.extensions["medtrace"].context(db.session, actor), lang, SHANGHAI)


def shipped_transfer(api, unique) -> str:
    """SH01 → HZ01, approved, picked, shipped with a carrier."""
    lot = f"AU{unique}"
    r = api("admin").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"product": "GLV-0004", "lot_number": lot, "quantity": "10",
         "expiry_date": (dt.date.today() + dt.timedelta(days=900)).isoformat()}]})
    assert r.status_code == 201, r.json
    name = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "priority": "urgent",
        "lines": [{"product": "GLV-0004", "lot": lot, "quantity": "4"}]}).json["name"]
    for user, action, body in (("clerk_sh", "submit", {}), ("manager_sh", "approve", {}),
                               ("clerk_sh", "start_picking", {})):
        r = api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json=body)
        assert r.status_code == 200, r.json
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/pick",
                             json={"product": "GLV-0004", "lot": lot, "quantity": "4"})
    assert r.status_code == 200, r.json
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/actions/ship", json={"carrier": "CAR-JD"})
    assert r.status_code == 200, r.json
    return name


def test_rows_read_as_labels_titles_and_local_minutes(app, api, unique):
    name = shipped_transfer(api, unique)
    with app.app_context():
        rows = reader(app, Actor("qa_user")).rows(AuditFilter(record=name), 0, 500)
        zh = reader(app, Actor("qa_user"), "zh").rows(AuditFilter(record=name), 0, 500)
    states = [(r["username"], r["old"], r["new"]) for r in rows
              if r["entity"] == "TransferOrder" and r["field"] == "state" and r["action"] == "update"]
    assert states[::-1] == [("clerk_sh", "Draft", "Submitted"), ("manager_sh", "Submitted", "Approved"),
                            ("clerk_sh", "Approved", "Picking"), ("clerk_sh", "Picking", "Shipped (in transit)")]
    by_field = {(r["entity"], r["field_label"], r["action"]): r for r in rows}
    # a link set through its relationship (the carrier, on shipping) is in the trail, as its title
    carrier = by_field[("TransferOrder", "Carrier", "update")]
    assert (carrier["old"], carrier["new"], carrier["username"]) == ("", "CAR-JD", "clerk_sh")
    assert by_field[("TransferOrder", "Source warehouse", "create")]["new"] == "SH01"
    assert by_field[("TransferOrder", "Priority", "create")]["new"] == "Urgent"
    line = by_field[("TransferLine", "Quantity", "create")]
    assert line["record"] == f"{name} · GLV-0004" and line["new"] == "4"
    assert line["ref"].entity == "TransferOrder" and line["entity_label"] == "Transfer line"
    assert by_field[("TransferLine", "Transfer order", "create")]["new"] == name
    for r in rows:
        assert dt.datetime.strptime(r["at_text"], "%Y-%m-%d %H:%M")
        local = r["at"].replace(tzinfo=dt.timezone.utc).astimezone(SHANGHAI)
        assert r["at_text"] == local.strftime("%Y-%m-%d %H:%M")
        assert r["action_label"] in ("Created", "Changed")
    zh_states = {(r["old"], r["new"]) for r in zh if r["field"] == "state" and r["entity"] == "TransferOrder"}
    assert ("草稿", "已提交") in zh_states
    assert {r["field_label"] for r in zh if r["entity"] == "TransferOrder"} >= {"调出仓库", "承运商", "状态"}


def test_filters_by_user_entity_record_and_dates(app, api, unique):
    name = shipped_transfer(api, unique)
    today = dt.datetime.now(SHANGHAI).date()
    with app.app_context():
        qa = reader(app, Actor("qa_user"))
        mine = qa.rows(AuditFilter(record=name, username="manager_sh"), 0, 500)
        assert mine and {r["username"] for r in mine} == {"manager_sh"}
        lines_only = qa.rows(AuditFilter(record=name, entity="TransferLine"), 0, 500)
        assert lines_only and {r["entity"] for r in lines_only} == {"TransferLine"}
        assert qa.count(AuditFilter(record=name, date_from=today, date_to=today)) == \
            qa.count(AuditFilter(record=name))
        assert qa.count(AuditFilter(record=name, date_to=today - dt.timedelta(days=1))) == 0
        assert qa.count(AuditFilter(record=name, date_from=today + dt.timedelta(days=1))) == 0
        # by id with its entity, and a record that does not exist
        T = app.extensions["medtrace"].models["TransferOrder"]
        from app import db
        ident = db.session.execute(sa.select(T.id).where(T.name == name)).scalar_one()
        by_id = qa.rows(AuditFilter(entity="TransferOrder", record=str(ident)), 0, 500)
        assert by_id and {r["record"] for r in by_id} == {name}
        assert qa.count(AuditFilter(record=f"NOPE-{unique}")) == 0


def test_a_user_limited_to_warehouses_sees_their_rows_only(app, api, unique):
    name = shipped_transfer(api, unique)
    r = api("manager_bj").post("/api/v1/transfers/", json={
        "from_warehouse": "BJ01", "to_warehouse": "GZ01", "lines": [{"product": "SYR-0003", "quantity": "1"}]})
    assert r.status_code == 201, r.json
    elsewhere = r.json["name"]
    from app import db
    with app.app_context():
        W = app.extensions["medtrace"].models["Warehouse"]
        sh01 = db.session.execute(sa.select(W.id).where(W.code == "SH01")).scalar_one()
        scoped = reader(app, Actor("someone", warehouse_ids=frozenset({sh01})))
        assert scoped.count(AuditFilter(record=name)) > 0
        assert scoped.count(AuditFilter(record=elsewhere)) == 0
        assert scoped.count(AuditFilter(entity="Product")) > 0  # master data is not scoped
        everyone = reader(app, Actor("qa_user"))
        assert everyone.count(AuditFilter(record=elsewhere)) > 0


def test_page_and_exports_for_qa_and_auditor_not_for_a_clerk(web, api, app, unique):
    r = api("admin").post("/api/v1/partner/", json={"code": f"Q{unique}", "name": "+cmd|' /C calc'!A0",
                                                    "kind": "carrier"})
    assert r.status_code == 201, r.json
    qa = web("qa_user")
    html = qa.get(f"/auditlogview/list/?entity=Partner&record=Q{unique}").data.decode()
    assert "When (Asia/Shanghai, UTC+08:00)" in html and "Carrier" in html
    assert 'id="export-xlsx"' in html
    r = qa.get(f"/auditlogview/export.csv?entity=Partner&record=Q{unique}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0][:3] == ["When (Asia/Shanghai, UTC+08:00)", "Who", "Entity"]
    values = {row[5]: row[7] for row in table[1:]}
    assert values["Name"] == "'+cmd|' /C calc'!A0" and values["Kind"] == "Carrier"
    auditor = web("auditor")
    auditor.get("/lang/zh")
    r = auditor.get(f"/auditlogview/export.xlsx?entity=Partner&record=Q{unique}")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    cells = read_xlsx(r.data)
    assert cells[0][1] == "操作人" and {row[5]: row[7] for row in cells[1:]}["类型"] == "承运商"
    clerk = web("clerk_sh")
    assert clerk.get("/auditlogview/list/").status_code in (302, 403)
    assert clerk.get("/auditlogview/export.xlsx").status_code in (302, 403)
    # the REST API is unchanged: raw rows for scripts, read-only
    rows = api("auditor").get(
        "/api/v1/audit_log/?q=(filters:!((col:entity,opr:eq,value:Partner)),page_size:5)").json
    assert rows["count"] > 0 and "old_value" in rows["result"][0]


def test_a_partial_receipt_is_a_step_in_the_history_with_its_comment(app, api, unique):
    name = shipped_transfer(api, unique)
    with app.app_context():
        create_user(app, "clerk_hz_audit", ["warehouse_clerk"], warehouses=["HZ01"])
    r = api("clerk_hz_audit").post(f"/api/v1/transfers/{name}/receive", json={
        "complete": False, "comment": "half the boxes", "lines": [
            {"product": "GLV-0004", "lot": f"AU{unique}", "quantity": "2"}]})
    assert r.status_code == 200 and r.json["state"] == "shipped", r.json
    step = r.json["history"][-1]
    assert (step["action"], step["from"], step["to"], step["by"], step["comment"]) == (
        "receive_items", "shipped", "shipped", "clerk_hz_audit", "half the boxes")
    assert step["action_label"] == "Receive items"
    r = api("clerk_hz_audit").post(f"/api/v1/transfers/{name}/receive", json={
        "comment": "the rest", "lines": [{"product": "GLV-0004", "lot": f"AU{unique}", "quantity": "2"}]})
    assert r.status_code == 200 and r.json["state"] == "received", r.json
    actions = [(h["action"], h["comment"]) for h in r.json["history"]][-2:]
    assert actions == [("receive_items", "half the boxes"), ("receive", "the rest")]


def test_site_pieces_work_offline_and_in_the_users_language(web, client, caplog):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.data[:4] == b"\x00\x00\x01\x00"
    admin = web("admin")
    html = admin.get("/userstatschartview/chart/").data.decode()
    assert "google" not in html.lower() and 'class="mt-chart"' in html and "Sign-ins" in html
    html = admin.get("/users/add").data.decode()
    assert ">Warehouse clerk<" in html and ">warehouse_clerk<" not in html
    html = admin.get("/users/list/").data.decode()
    assert "Quality assurance" in html and ">True<" not in html
    admin.get("/lang/zh")
    assert "质量管理" in admin.get("/users/list/").data.decode()
    with caplog.at_level(logging.WARNING):
        web("auditor")
    assert "Invalid redirect" not in caplog.text


def test_an_unknown_time_zone_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match="MEDTRACE_TIMEZONE='Mars/Olympus'"):
        zone_named("Mars/Olympus")
    assert zone_named("UTC").key == "UTC"
