"""Cross-warehouse transfers end to end, through the REST API, on SQLite and
PostgreSQL: approvals (one signed), reservation, picking by scan, shipping into
transit, partial receipt with damage, exception resolution and closure."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa

from app.demo import gtin14
from support import PASSWORD, create_user, gs1



@pytest.fixture
def device(api, unique):
    """A class III lot-tracked device of this test's own, so other tests' stock
    of the demo products cannot change what FEFO picks."""
    body = str(int(unique, 16) % 10**9).zfill(9)
    gtin = gtin14("069" + body)
    sku = f"CAT-{unique}"
    r = api("admin").post("/api/v1/product/", json={
        "sku": sku, "name": "Central venous catheter 中心静脉导管", "udi_di": gtin,
        "risk_class": "III", "tracking": "lot", "shelf_life_days": 1095,
        "min_remaining_shelf_days": 180, "unit_price": "320.00"})
    assert r.status_code == 201, r.json
    return sku, gtin


def future(days):
    return dt.date.today() + dt.timedelta(days=days)


@pytest.fixture
def people(app):
    with app.app_context():
        create_user(app, "clerk_sh2", ["warehouse_clerk"], warehouses=["SH01"])
        create_user(app, "clerk_bj", ["warehouse_clerk"], warehouses=["BJ01"])
        create_user(app, "regional_nc", ["regional_manager"], regions=["EC"])
    return app


def stock(api, **f):
    q = "&".join(f"{k}={v}" for k, v in f.items())
    return api("admin").get(f"/api/v1/stock/?{q}").json["result"]


def receive_lot(api, gtin, lot, qty, expiry_days, warehouse="SH01", location=None):
    body = {"supplier": "SUP-MDT", "warehouse": warehouse,
            "lines": [{"barcode": gs1(gtin, lot, future(expiry_days)), "quantity": str(qty)}]}
    if location:
        body["location"] = location
    r = api("admin").post("/api/v1/receipts/", json=body)
    assert r.status_code == 201, r.json


def act(api, user, name, action, **body):
    return api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json=body)


def test_class_iii_transfer_between_regions(api, app, people, device, unique):
    sku, CATHETER = device
    early, late = f"TE{unique}", f"TL{unique}"
    receive_lot(api, CATHETER, late, 10, 800, location="SH01-A-01-01")
    receive_lot(api, CATHETER, early, 4, 500, location="SH01-B-01-01")
    r = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01", "priority": "urgent",
        "reason": "Stock-out at Beijing", "lines": [{"product": sku, "quantity": "6"}]})
    assert r.status_code == 201, r.json
    name = r.json["name"]
    assert r.json["state"] == "draft" and name.startswith("TR-")
    assert [a["action"] for a in r.json["allowed_actions"]] == ["submit", "cancel"]

    assert act(api, "clerk_sh2", name, "submit").json["state"] == "submitted"
    # the requester may not approve; a manager of another warehouse neither
    assert act(api, "clerk_sh2", name, "approve").status_code == 403
    r = act(api, "manager_bj", name, "approve")
    assert r.status_code == 403 and "source warehouse" in r.json["message"]
    # skipping a state: shipping straight from submitted
    r = act(api, "clerk_sh2", name, "ship")
    assert r.status_code == 409 and "possible actions" in r.json["message"]

    r = act(api, "manager_sh", name, "approve", comment="OK for urgent restock")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "qa_review"  # a class III line needs QA
    r = act(api, "qa_user", name, "approve")
    assert r.status_code == 422 and "signature" in r.json["message"]
    r = act(api, "qa_user", name, "approve", password="wrong")
    assert r.status_code == 403 and "password" in r.json["message"]
    r = act(api, "qa_user", name, "approve", password=PASSWORD, comment="QA released")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "regional_review"  # EC -> NC crosses regions
    r = act(api, "regional_ec", name, "approve")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "approved"

    # reserved FEFO: the early lot first (4), then 2 of the late lot
    picks = r.json["pick_list"]
    assert [(p["location"], p["lot"], p["quantity"]) for p in picks] == [
        ("SH01-A-01-01", late, "2"), ("SH01-B-01-01", early, "4")]  # bin path order
    other = api("admin").post("/api/v1/shipments/", json={
        "customer": "HOS-RJ", "warehouse": "SH01", "lines": [{"product": sku, "lot": early,
                                                              "quantity": "1"}]})
    assert other.status_code == 422  # reserved units cannot be taken by another document

    assert act(api, "clerk_sh2", name, "start_picking").json["state"] == "picking"
    r = api("clerk_sh2").post(f"/api/v1/transfers/{name}/pick",
                              json={"barcode": gs1(CATHETER, f"WRONG{unique}", future(800))})
    assert r.status_code == 422 and "does not match the reservation" in r.json["message"]
    r = act(api, "clerk_sh2", name, "ship")
    assert r.status_code == 422 and "not fully picked" in r.json["message"]
    for lot, qty in ((late, 2), (early, 4)):
        r = api("clerk_sh2").post(f"/api/v1/transfers/{name}/pick", json={
            "barcode": gs1(CATHETER, lot, future(800 if lot == late else 500)), "quantity": str(qty)})
        assert r.status_code == 200, r.json

    r = act(api, "clerk_sh2", name, "ship", carrier="CAR-SF", vehicle="沪A12345",
            tracking_no="SF123", expected_arrival=future(2).isoformat())
    assert r.status_code == 200, r.json
    assert r.json["state"] == "shipped" and r.json["in_transit"] == "6"
    transit = r.json["transit_location"]
    # in transit: visible, in neither warehouse's available stock
    rows = stock(api, lot=early)
    assert [(x["location"], x["quantity"]) for x in rows] == [(transit, "4")]
    assert stock(api, lot=early, warehouse="SH01") == [] and stock(api, lot=early, warehouse="BJ01") == []
    assert api("clerk_bj").get(f"/api/v1/stock/?lot={early}").json["count"] == 1

    # receiving: more than shipped, and a lot that was not shipped, are refused
    r = api("clerk_bj").post(f"/api/v1/transfers/{name}/receive", json={"lines": [
        {"product": sku, "lot": early, "quantity": "5"}]})
    assert r.status_code == 422 and "only 4 is in transit" in r.json["message"]
    r = api("clerk_bj").post(f"/api/v1/transfers/{name}/receive", json={"lines": [
        {"product": sku, "lot": f"NOPE{unique}", "quantity": "1"}]})
    assert r.status_code == 422 and "was not shipped" in r.json["message"]
    # partial receipt: 4 of the early lot, one damaged; the late lot's 2 never arrive
    r = api("clerk_bj").post(f"/api/v1/transfers/{name}/receive", json={"lines": [
        {"barcode": gs1(CATHETER, early, future(500)), "quantity": "4", "damaged": "1"}]})
    assert r.status_code == 200, r.json
    assert r.json["state"] == "received"
    exceptions = {e["kind"]: e for e in r.json["exceptions"]}
    assert exceptions["damaged"]["quantity"] == "1" and exceptions["short"]["quantity"] == "2"
    assert {(x["location"], x["status"], x["quantity"]) for x in stock(api, lot=early)} == {
        ("BJ01-RCV", "available", "3"), ("BJ01-RCV", "damaged", "1")}

    r = act(api, "manager_bj", name, "close")
    assert r.status_code == 422 and "Resolve every receiving exception" in r.json["message"]
    r = api("manager_bj").post(f"/api/v1/transfers/{name}/exceptions/{exceptions['damaged']['id']}/resolve",
                               json={"resolution": "write_off", "note": "crushed box"})
    assert r.status_code == 200, r.json
    r = api("manager_bj").post(f"/api/v1/transfers/{name}/exceptions/{exceptions['short']['id']}/resolve",
                               json={"resolution": "return_to_source"})
    assert r.status_code == 200, r.json
    assert r.json["in_transit"] == "0"
    r = act(api, "manager_bj", name, "close")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "closed"
    assert [x["quantity"] for x in stock(api, lot=late, warehouse="SH01")] and \
        sum(int(x["quantity"]) for x in stock(api, lot=late, warehouse="SH01")) == 10

    history = r.json["history"]
    assert [h["action"] for h in history] == ["submit", "approve", "approve", "approve",
                                              "start_picking", "ship", "receive", "close"]
    signed = [h for h in history if h["signed_by"]]
    assert len(signed) == 1 and signed[0]["signed_by"] == "qa_user" and signed[0]["meaning"] == "approval"

    # the audit trail has the state changes
    from app import db
    with app.app_context():
        A = app.extensions["medtrace"].models.table("audit_log")
        states = db.session.execute(sa.select(A.c.new_value).where(
            A.c.entity == "TransferOrder", A.c.record_id == r.json["id"], A.c.field == "state"
        ).order_by(A.c.id)).scalars().all()
        assert states[-1] == "closed" and "shipped" in states

    # the transfer note PDF
    pdf = api("manager_bj").get(f"/api/v1/transfers/{name}/note.pdf")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF"
    from pypdf import PdfReader
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    for needle in (name, early, late, "qa_user", "approval", "Page 1 of", "SF123"):
        assert needle in text, needle

    result = app.test_cli_runner().invoke(args=["medtrace", "verify-ledger"])
    assert result.exit_code == 0, result.output


def test_bad_transfers_are_refused(api, people, unique):
    clerk = api("clerk_sh2")
    r = clerk.post("/api/v1/transfers/", json={"from_warehouse": "SH01", "to_warehouse": "SH01",
                                               "lines": [{"product": "CAT-0001", "quantity": "1"}]})
    assert r.status_code == 422 and "must differ" in r.json["message"]
    r = clerk.post("/api/v1/transfers/", json={"from_warehouse": "BJ01", "to_warehouse": "SH01",
                                               "lines": [{"product": "CAT-0001", "quantity": "1"}]})
    assert r.status_code == 403 and "outside your data scope" in r.json["message"]
    r = clerk.post("/api/v1/transfers/", json={"from_warehouse": "SH01", "to_warehouse": "BJ01",
                                               "lines": [{"product": "CAT-0001", "quantity": "0"}]})
    assert r.status_code == 422 and "greater than zero" in r.json["message"]


def test_state_field_cannot_be_edited(api, people, unique):
    r = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "lines": [{"product": "GLV-0004", "quantity": "1"}]})
    tid = r.json["id"]
    r = api("admin").put(f"/api/v1/transfer_order/{tid}", json={"state": "approved"})
    assert r.status_code in (400, 409, 422)
    assert api("admin").get(f"/api/v1/transfers/{tid}").json["state"] == "draft"


def test_cancel_releases_reservation(api, people, unique):
    lot = f"CX{unique}"
    r = api("admin").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"product": "GLV-0004", "lot_number": lot, "expiry_date": future(900).isoformat(), "quantity": "5"}]})
    assert r.status_code == 201
    name = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": "GLV-0004", "lot": lot, "quantity": "5"}]}).json["name"]
    act(api, "clerk_sh2", name, "submit")
    assert act(api, "manager_sh", name, "approve").json["state"] == "approved"  # class II, same region
    assert stock(api, lot=lot)[0]["reserved"] == "5"
    r = act(api, "manager_sh", name, "cancel")
    assert r.status_code == 422 and "comment" in r.json["message"]
    r = act(api, "manager_sh", name, "cancel", comment="customer withdrew")
    assert r.json["state"] == "cancelled"
    assert stock(api, lot=lot)[0]["reserved"] == "0"


def test_approving_ones_own_transfer_is_refused(api, people, unique):
    manager = api("manager_sh")
    r = manager.post("/api/v1/transfers/", json={"from_warehouse": "SH01", "to_warehouse": "HZ01",
                                                 "lines": [{"product": "GLV-0004", "quantity": "1"}]})
    name = r.json["name"]
    assert act(api, "manager_sh", name, "submit").json["state"] == "submitted"
    assert "approve" not in [a["action"] for a in manager.get(f"/api/v1/transfers/{name}").json["allowed_actions"]]
    r = act(api, "manager_sh", name, "approve")
    assert r.status_code == 403 and "may not approve" in r.json["message"]
    assert manager.get(f"/api/v1/transfers/{name}").json["state"] == "submitted"


def test_submitting_notifies_approvers_through_a_job(api, app, people, unique):
    """The workflow's `notify_approvers` task runs as a job after commit (inline
    without REDIS_URL) and its job_run records who must approve."""
    import json
    name = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": "GLV-0004", "quantity": "1"}]}).json["name"]
    act(api, "clerk_sh2", name, "submit")
    from app import db
    with app.app_context():
        J = app.extensions["medtrace"].models.table("job_run")
        rows = db.session.execute(sa.select(J).where(
            J.c.func == "jobs.document_jobs.run_task",
            J.c.description.like("%notify_approvers%")).order_by(J.c.id.desc())).all()
        results = [json.loads(r.result) if isinstance(r.result, str) else r.result for r in rows
                   if r.state == "finished"]
        mine = [r for r in results if r and r.get("document") == name]
        assert mine, [(r.state, r.error) for r in rows[:3]]
        assert "manager_sh" in mine[0]["notify"] and "manager_bj" not in mine[0]["notify"]
        assert "clerk_sh2" not in mine[0]["notify"]


def test_destination_users_see_but_cannot_edit_a_draft(api, people, app, unique):
    """The BJ01 clerk sees an SH01 → BJ01 draft (it will arrive there) but may
    not change it or add lines to it through the generated API."""
    r = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01", "lines": [{"product": "GLV-0004", "quantity": "2"}]})
    tid, line_id = r.json["id"], r.json["lines"][0]["id"]
    bj = api("clerk_bj")
    assert bj.get(f"/api/v1/transfer_order/{tid}").status_code == 200
    r = bj.put(f"/api/v1/transfer_order/{tid}", json={"reason": "changed by BJ01"})
    assert r.status_code == 403, r.json
    r = bj.put(f"/api/v1/transfer_line/{line_id}", json={"quantity": "200"})
    assert r.status_code == 403, r.json
    r = bj.post("/api/v1/transfer_line/", json={"parent": tid, "product": 1, "quantity": "1"})
    assert r.status_code in (403, 422), r.json
    detail = api("clerk_sh2").get(f"/api/v1/transfers/{tid}").json
    assert detail["reason"] is None and [l["quantity"] for l in detail["lines"]] == ["2"]
    # the owner of the source may edit its own draft
    assert api("clerk_sh2").put(f"/api/v1/transfer_order/{tid}", json={"reason": "restock"}).status_code == 200


def test_two_lines_of_one_product_reserve_distinct_units(api, people, device, unique):
    sku, gtin = device
    receive_lot(api, gtin, f"R1{unique}", 3, 700)
    name = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": sku, "quantity": "2"}, {"product": sku, "quantity": "2"}]}).json["name"]
    act(api, "clerk_sh2", name, "submit")
    r = act(api, "manager_sh", name, "approve")
    r = act(api, "qa_user", name, "approve", password=PASSWORD) if r.json.get("state") == "qa_review" else r
    assert r.status_code == 422 and "requested 2, allocatable 1" in r.json["message"], r.json
    assert stock(api, lot=f"R1{unique}")[0]["reserved"] == "0"
