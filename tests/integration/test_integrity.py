"""Integrity (issue 7): the ledger, reservations, scope, data-dependent
approvals and regulated fields hold on every path: the generic REST API, the
generated screens, the domain API and the services."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.demo import gtin14
from support import PASSWORD, create_user, gs1


def future(days):
    return dt.date.today() + dt.timedelta(days=days)


@pytest.fixture
def product(api, unique):
    """A lot-tracked class II product of this test's own (price 3.20)."""
    body = str(int(unique, 16) % 10**9).zfill(9)
    gtin = gtin14("068" + body)
    sku = f"INT-{unique}"
    r = api("admin").post("/api/v1/product/", json={
        "sku": sku, "name": "Integrity test device", "udi_di": gtin, "risk_class": "II",
        "tracking": "lot", "shelf_life_days": 1000, "unit_price": "3.20"})
    assert r.status_code == 201, r.json
    return sku, gtin


def receive(api, gtin, lot, qty, warehouse="SH01", location=None, user="admin"):
    body = {"supplier": "SUP-MDT", "warehouse": warehouse,
            "lines": [{"barcode": gs1(gtin, lot, future(700)), "quantity": str(qty)}]}
    if location:
        body["location"] = location
    r = api(user).post("/api/v1/receipts/", json=body)
    assert r.status_code == 201, r.json
    return r.json["name"]


def act(api, user, name, action, **body):
    return api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json=body)


def stock_of(api, lot):
    return {(x["location"], x["status"]): (x["quantity"], x["reserved"])
            for x in api("admin").get(f"/api/v1/stock/?lot={lot}").json["result"]}


def verify_ledger(app):
    result = app.test_cli_runner().invoke(args=["medtrace", "verify-ledger"])
    assert result.exit_code == 0, result.output


# ─── 1. stock and reservations ───────────────────────────────────────────────────────

def test_reserved_stock_cannot_be_taken_by_any_other_document(api, app, product, unique):
    sku, gtin = product
    lot = f"RS{unique}"
    receipt = receive(api, gtin, lot, 40, location="SH01-A-01-01")
    name = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": sku, "quantity": "40"}]}).json["name"]
    assert act(api, "clerk_sh", name, "submit").status_code == 200
    assert act(api, "manager_sh", name, "approve").json["state"] == "approved"
    assert stock_of(api, lot)[("SH01-A-01-01", "available")] == ("40", "40")

    # an internal move of the reserved units
    r = api("admin").post("/api/v1/moves/", json={"warehouse": "SH01", "lines": [{
        "product": sku, "lot": lot, "from_location": "SH01-A-01-01", "to_location": "SH01-B-01-01",
        "quantity": "40"}]})
    assert r.status_code == 422 and "reserved" in r.json["message"], r.json
    # a shipment to a hospital
    r = api("admin").post("/api/v1/shipments/", json={
        "customer": "HOS-RJ", "warehouse": "SH01", "lines": [{"product": sku, "lot": lot, "quantity": "1"}]})
    assert r.status_code == 422, r.json
    # reversing the receipt that brought them in
    r = api("admin").post(f"/api/v1/receipts/{receipt}/reverse")
    assert r.status_code == 422 and "reserved" in r.json["message"], r.json
    assert stock_of(api, lot)[("SH01-A-01-01", "available")] == ("40", "40")

    # the transfer still ships all 40
    assert act(api, "clerk_sh", name, "start_picking").status_code == 200
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/pick",
                             json={"barcode": gs1(gtin, lot, future(700)), "quantity": "40"})
    assert r.status_code == 200, r.json
    r = act(api, "clerk_sh", name, "ship")
    assert r.status_code == 200 and r.json["state"] == "shipped", r.json
    assert ("SH01-A-01-01", "available") not in stock_of(api, lot)
    verify_ledger(app)


def test_cancelling_releases_and_verify_ledger_finds_a_forgotten_reservation(api, app, product, unique):
    sku, gtin = product
    lot = f"RC{unique}"
    receive(api, gtin, lot, 10, location="SH01-A-01-02")
    name = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": sku, "quantity": "6"}]}).json["name"]
    act(api, "clerk_sh", name, "submit")
    act(api, "manager_sh", name, "approve")
    assert stock_of(api, lot)[("SH01-A-01-02", "available")] == ("10", "6")
    r = act(api, "manager_sh", name, "cancel", comment="not needed any more")
    assert r.status_code == 200 and r.json["state"] == "cancelled"
    assert stock_of(api, lot)[("SH01-A-01-02", "available")] == ("10", "0")
    verify_ledger(app)

    # a reservation left open on a finished document is reported
    from app import db
    with app.app_context():
        models = app.extensions["medtrace"].models
        T, R = models["TransferOrder"], models.table("stock_reservation")
        tid = db.session.execute(sa.select(T.id).where(T.name == name)).scalar_one()
        db.session.execute(sa.update(R).where(R.c.document_id == tid, R.c.document_type == "TransferOrder")
                           .values(state="active"))
        from app.stock.ledger import StockLedger
        problems = StockLedger(db.session, models).verify(
            {"TransferOrder": ("state", frozenset({"closed", "cancelled", "rejected"}))})
        db.session.rollback()
    assert any("still holds reservations" in p for p in problems), problems
    assert any("open reservations say" in p for p in problems), problems


# ─── 2. approvals that depend on data ────────────────────────────────────────────────

@pytest.mark.parametrize("way", ["api_put", "api_add_line", "screen_edit"])
def test_a_line_edited_after_creation_still_routes_to_finance(api, web, app, product, unique, way):
    sku, gtin = product
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "lines": [{"product": sku, "quantity": "1"}]})
    tid, name, line = r.json["id"], r.json["name"], r.json["lines"][0]["id"]
    assert r.json["total_value"] == "3.2"
    if way == "api_put":
        r = api("clerk_sh").put(f"/api/v1/transfer_line/{line}", json={"quantity": "50000"})
        assert r.status_code == 200, r.json
    elif way == "api_add_line":
        pid = api("admin").get(f"/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:'{sku}')))").json["ids"][0]
        r = api("clerk_sh").post("/api/v1/transfer_line/", json={"parent": tid, "product": pid, "quantity": "40000"})
        assert r.status_code == 201, r.json
    else:
        pid = api("admin").get(f"/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:'{sku}')))").json["ids"][0]
        client = web("clerk_sh")
        r = client.post(f"/transferlineview/edit/{line}", data={"quantity": "50000", "product": str(pid)},
                        follow_redirects=True)
        assert r.status_code == 200 and "This field is required" not in r.get_data(as_text=True)
    detail = api("clerk_sh").get(f"/api/v1/transfers/{name}").json
    assert float(detail["total_value"]) > 100000, detail["total_value"]
    stored = api("clerk_sh").get(f"/api/v1/transfer_order/{tid}").json["result"]["total_value"]
    assert float(stored) > 100000
    assert act(api, "clerk_sh", name, "submit").status_code == 200
    r = act(api, "manager_sh", name, "approve")
    assert r.json["state"] == "finance_review", r.json


def test_deleting_a_line_lowers_the_total(api, product):
    sku, _ = product
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": sku, "quantity": "40000"}, {"product": "GLV-0004", "quantity": "1"}]})
    tid, big = r.json["id"], r.json["lines"][0]["id"]
    assert api("clerk_sh").delete(f"/api/v1/transfer_line/{big}").status_code == 200
    stored = api("clerk_sh").get(f"/api/v1/transfer_order/{tid}").json["result"]["total_value"]
    assert float(stored) == pytest.approx(3.20)


def test_steps_and_exception_decisions_check_the_workflow_roles(api, app, product, unique):
    sku, gtin = product
    lot = f"WR{unique}"
    with app.app_context():
        create_user(app, "logistics_bj", ["logistics"], warehouses=["BJ01"])
        create_user(app, "clerk_bj_int", ["warehouse_clerk"], warehouses=["BJ01"])
    receive(api, gtin, lot, 5)
    name = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01", "lines": [{"product": sku, "quantity": "5"}]}).json["name"]
    act(api, "clerk_sh", name, "submit")
    act(api, "manager_sh", name, "approve")
    act(api, "regional_ec", name, "approve")
    act(api, "clerk_sh", name, "start_picking")
    api("clerk_sh").post(f"/api/v1/transfers/{name}/pick", json={"barcode": gs1(gtin, lot, future(700)), "quantity": "5"})
    assert act(api, "clerk_sh", name, "ship").json["state"] == "shipped"
    # logistics may write transfers but does not receive them: not even a part
    r = api("logistics_bj").post(f"/api/v1/transfers/{name}/receive", json={
        "complete": False, "lines": [{"product": sku, "lot": lot, "quantity": "1"}]})
    assert r.status_code == 403 and "Warehouse clerk" in r.json["message"], r.json
    # a partial receipt by the clerk, then the rest short, one damaged
    r = api("clerk_bj_int").post(f"/api/v1/transfers/{name}/receive", json={
        "lines": [{"product": sku, "lot": lot, "quantity": "3", "damaged": "1"}]})
    assert r.status_code == 200 and r.json["state"] == "received", r.json
    damaged = next(e for e in r.json["exceptions"] if e["kind"] == "damaged")
    assert damaged["actions"] == []  # a clerk is offered no decision
    # a clerk (read on exceptions) cannot write units off, by either endpoint
    r = api("clerk_bj_int").post(f"/api/v1/transfers/{name}/exceptions/{damaged['id']}/resolve",
                                 json={"resolution": "write_off"})
    assert r.status_code == 403, r.json
    r = api("clerk_bj_int").post(f"/api/v1/transfer_exception/{damaged['id']}/actions/write_off", json={})
    assert r.status_code == 403, r.json
    r = api("manager_bj").post(f"/api/v1/transfer_exception/{damaged['id']}/actions/write_off",
                               json={"comment": "crushed"})
    assert r.status_code == 200 and r.json["state"] == "resolved", r.json


# ─── 3. warehouse scope and regulated master data ────────────────────────────────────

def ids(api, resource, code):
    return api("admin").get(f"/api/v1/{resource}/?q=(filters:!((col:code,opr:eq,value:'{code}')))").json["ids"][0]


def test_scope_holds_on_the_new_value_of_a_link(api):
    bj = ids(api, "warehouse", "BJ01")
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "lines": [{"product": "GLV-0004", "quantity": "1"}]})
    tid = r.json["id"]
    r = api("clerk_sh").put(f"/api/v1/transfer_order/{tid}", json={"from_warehouse": bj, "to_warehouse": ids(api, "warehouse", "HZ01")})
    assert r.status_code == 403, r.json
    assert api("clerk_sh").get(f"/api/v1/transfers/{tid}").json["from_warehouse"] == "SH01"
    loc = ids(api, "location", "SH01-A-01-01")
    r = api("manager_sh").put(f"/api/v1/location/{loc}", json={"warehouse": bj})
    assert r.status_code == 403, r.json
    assert api("admin").get(f"/api/v1/location/{loc}").json["result"]["warehouse"]["id"] != bj


def test_regulated_fields_change_only_by_a_signed_change(api, app, product, unique):
    sku, gtin = product
    lot = f"RG{unique}"
    receive(api, gtin, lot, 3, warehouse="CD01")
    lot_id = api("admin").get(f"/api/v1/lot/?q=(filters:!((col:lot_number,opr:eq,value:'{lot}')))").json["ids"][0]
    # a Beijing manager: neither the status nor the expiry, and not a lot held only in Chengdu
    r = api("manager_bj").put(f"/api/v1/lot/{lot_id}", json={"status": "recalled"})
    assert r.status_code == 403 and "regulated" in r.json["message"], r.json
    r = api("manager_bj").put(f"/api/v1/lot/{lot_id}", json={"expiry_date": "2099-01-01"})
    assert r.status_code == 403, r.json
    # QA: a reason and the signature are required
    url = f"/api/v1/lot/{lot_id}/signed-change"
    r = api("qa_user").post(url, json={"changes": {"status": "on_hold"}, "reason": "complaint"})
    assert r.status_code == 422 and "signature" in r.json["message"], r.json
    r = api("qa_user").post(url, json={"changes": {"status": "on_hold"}, "reason": "complaint",
                                       "signature": {"password": "not-the-password-9"}})
    assert r.status_code == 403, r.json
    r = api("qa_user").post(url, json={"changes": {"status": "on_hold"}, "reason": "complaint",
                                       "signature": {"password": PASSWORD, "meaning": "approval"}})
    assert r.status_code == 200, r.json
    assert r.json["result"][-1]["signed_by"] == "qa_user" and r.json["result"][-1]["old_value"] == "available"
    assert api("admin").get(f"/api/v1/lot/{lot_id}").json["result"]["status"] == "on_hold"
    r = api("manager_bj").post(url, json={"changes": {"status": "available"}, "reason": "x",
                                          "signature": {"password": PASSWORD}})
    assert r.status_code == 403, r.json
    from app import db
    with app.app_context():
        A = app.extensions["medtrace"].models.table("audit_log")
        rows = db.session.execute(sa.select(A.c.username, A.c.old_value, A.c.new_value).where(
            A.c.entity == "Lot", A.c.record_id == lot_id, A.c.field == "status")).all()
    assert ("qa_user", "available", "on_hold") in [tuple(r) for r in rows]


def test_risk_class_and_region_are_regulated(api, product):
    sku, _ = product
    pid = api("admin").get(f"/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:'{sku}')))").json["ids"][0]
    with_purchasing = api("admin")
    r = with_purchasing.put(f"/api/v1/product/{pid}", json={"risk_class": "I"})
    assert r.status_code == 403 and "regulated" in r.json["message"], r.json
    wh = ids(api, "warehouse", "CD01")
    region = api("admin").get(f"/api/v1/warehouse/{wh}").json["result"]["region"]["id"]
    other = next(i for i in api("admin").get("/api/v1/region/").json["ids"] if i != region)
    r = api("admin").put(f"/api/v1/warehouse/{wh}", json={"region": other})
    assert r.status_code == 403, r.json
    r = api("admin").post(f"/api/v1/warehouse/{wh}/signed-change", json={
        "changes": {"region": other}, "reason": "reorganisation"})
    assert r.status_code == 200, r.json
    assert api("admin").get(f"/api/v1/warehouse/{wh}").json["result"]["region"]["id"] == other
    r = api("admin").post(f"/api/v1/warehouse/{wh}/signed-change", json={
        "changes": {"region": region}, "reason": "back"})
    assert r.status_code == 200
