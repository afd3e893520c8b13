"""What the clerk's pages stand on, through the REST API on SQLite and
PostgreSQL: editing a draft transfer, products with what is available at the
source, best-before labels, expired goods, put-away suggestions, reversing a
receipt and the dashboard's expiring lots."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.demo import gtin14
from support import PASSWORD, create_user, gs1

GLOVES = "GLV-0004"


def day(offset: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=offset)


@pytest.fixture
def people(app):
    with app.app_context():
        create_user(app, "clerk_sh2", ["warehouse_clerk"], warehouses=["SH01"])
        create_user(app, "clerk_bj", ["warehouse_clerk"], warehouses=["BJ01"])
    return app


@pytest.fixture
def device(api, unique):
    """A lot-tracked device of this test's own (its stock is only what the test puts there)."""
    def make(**extra):
        body = str(int(unique, 16) % 10**9).zfill(9)
        gtin = gtin14("068" + body)
        sku = f"DEV-{unique}"
        r = api("admin").post("/api/v1/product/", json={
            "sku": sku, "name": f"Test device {unique}", "model": f"MOD-{unique}", "udi_di": gtin,
            "risk_class": "II", "tracking": "lot", "shelf_life_days": 730,
            "unit_price": "12.50", **extra})
        assert r.status_code == 201, r.json
        return sku, gtin
    return make


@pytest.fixture
def warehouse(api, app, unique):
    """A warehouse of this test's own, in a region of its own (other tests count the
    demo regions' warehouses), with a receiving area and two bins, and a clerk granted
    only it; ``accept_expired`` as asked."""
    def make(accept_expired=False):
        code = f"W{unique}"[:16]
        admin = api("admin")
        r = admin.post("/api/v1/region/", json={"code": f"R{unique}"[:16], "name": f"Test region {unique}"})
        assert r.status_code == 201, r.json
        region = r.json["id"]
        r = admin.post("/api/v1/warehouse/", json={"code": code, "name": f"Test {code}",
                                                   "region": region, "accept_expired": accept_expired})
        assert r.status_code == 201, r.json
        wid = r.json["id"]
        for suffix, kind, seq in (("RCV", "receiving", 0), ("A1", "bin", 10), ("A2", "bin", 20)):
            r = admin.post("/api/v1/location/", json={"code": f"{code}-{suffix}", "kind": kind,
                                                      "warehouse": wid, "pick_sequence": seq})
            assert r.status_code == 201, r.json
        with app.app_context():
            create_user(app, f"clerk_{code.lower()}", ["warehouse_clerk"], warehouses=[code])
        return code, f"clerk_{code.lower()}"
    return make


def in_chinese(api, user, method, url, **kw):
    """A call as ``user`` whose client prefers Chinese."""
    caller = api(user)
    headers = {**caller.headers, "Accept-Language": "zh"}
    return getattr(caller.client, method)(url, headers=headers, **kw)


def receive(api, lines, warehouse="SH01", user="admin", **extra):
    return api(user).post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": warehouse, "lines": lines, **extra})


def stock(api, **f):
    q = "&".join(f"{k}={v}" for k, v in f.items())
    return api("admin").get(f"/api/v1/stock/?{q}").json["result"]


# ─── a draft transfer, edited ────────────────────────────────────────────────────────

def new_draft(api, user="clerk_sh2", **extra):
    r = api(user).post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": GLOVES, "quantity": "2"}, {"product": "SYR-0003", "quantity": "10"}],
        **extra})
    assert r.status_code == 201, r.json
    return r.json


def test_create_stores_the_total_and_any_active_destination(api, people):
    t = new_draft(api, reason_code="replenishment", reason="ward restock",
                  requested_date=day(5).isoformat(), priority="urgent")
    assert t["total_value"] == "14.9"  # 2 x 3.20 + 10 x 0.85
    assert (t["to_warehouse"], t["priority"], t["reason_code"], t["requested_date"]) == (
        "HZ01", "urgent", "replenishment", day(5).isoformat())
    row = api("admin").get(f"/api/v1/transfer_order/{t['id']}").json["result"]
    assert Decimal(str(row["total_value"])) == Decimal("14.9")
    # BJ01 is outside clerk_sh2's scope: a destination all the same
    r = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01", "lines": [{"product": GLOVES, "quantity": "1"}]})
    assert r.status_code == 201 and r.json["to_warehouse"] == "BJ01"


def test_edit_a_draft_header_and_lines(api, people):
    t = new_draft(api)
    gloves, syringes = t["lines"]
    r = api("clerk_sh2").put(f"/api/v1/transfers/{t['name']}", json={
        "to_warehouse": "BJ01", "priority": "urgent", "reason_code": "rebalancing", "reason": "more",
        "requested_date": day(9).isoformat(),
        "lines": [{"id": gloves["id"], "product": GLOVES, "quantity": "5"},
                  {"product": "BND-0006", "quantity": "3"}]})
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["to_warehouse"], body["priority"], body["reason_code"], body["reason"]) == (
        "BJ01", "urgent", "rebalancing", "more")
    assert [(l["product"], l["quantity"]) for l in body["lines"]] == [(GLOVES, "5"), ("BND-0006", "3")]
    assert body["lines"][0]["id"] == gloves["id"]  # edited in place
    assert body["total_value"] == "35.5"           # 5 x 3.20 + 3 x 6.50
    row = api("admin").get(f"/api/v1/transfer_order/{t['id']}").json["result"]
    assert Decimal(str(row["total_value"])) == Decimal("35.5")
    assert api("admin").get(f"/api/v1/transfer_line/{syringes['id']}").status_code == 404
    # only what is given changes
    r = api("clerk_sh2").put(f"/api/v1/transfers/{t['name']}", json={"priority": "normal"})
    assert r.status_code == 200 and len(r.json["lines"]) == 2 and r.json["to_warehouse"] == "BJ01"


def test_a_bad_edit_changes_nothing(api, people):
    t = new_draft(api)
    before = api("clerk_sh2").get(f"/api/v1/transfers/{t['name']}").json
    url = f"/api/v1/transfers/{t['name']}"
    r = api("clerk_sh2").put(url, json={"priority": "low", "lines": [{"product": GLOVES, "quantity": "1"}]})
    assert r.status_code == 422 and "priority" in r.json["message"]
    r = in_chinese(api, "clerk_sh2", "put", url, json={"to_warehouse": "HZ01", "reason": "x", "lines": [
        {"product": GLOVES, "quantity": "0"}, {"product": "NOPE", "quantity": "1"},
        {"id": 999999, "product": GLOVES, "quantity": "1"}]})
    assert r.status_code == 422
    assert r.json["message"].startswith("调拨单未保存")
    problems = r.json["messages"]["en"]
    assert "line 1" in problems and "greater than zero" in problems
    assert "line 2" in problems and "NOPE" in problems and "line 3" in problems
    r = api("clerk_sh2").put(url, json={"to_warehouse": "SH01"})
    assert r.status_code == 422 and "must differ" in r.json["message"]
    r = api("clerk_sh2").put(url, json={"lines": []})
    assert r.status_code == 422
    assert api("clerk_sh2").get(url).json == before


def test_only_the_source_edits_and_only_a_draft(api, people):
    t = new_draft(api, to_warehouse="BJ01")
    url = f"/api/v1/transfers/{t['name']}"
    r = api("clerk_bj").put(url, json={"reason": "changed by the destination"})
    assert r.status_code == 403 and "SH01" in r.json["message"]
    r = api("clerk_sh2").post(f"{url}/actions/submit", json={})
    assert r.status_code == 200 and r.json["state"] == "submitted"
    r = api("clerk_sh2").put(url, json={"reason": "too late"})
    assert r.status_code == 409 and "only a draft" in r.json["message"]
    assert api("clerk_sh2").get(url).json["reason"] is None


def test_inactive_destination_is_refused(api, people, warehouse):
    code, _ = warehouse()
    admin = api("admin")
    wid = admin.get(f"/api/v1/warehouse/?q=(filters:!((col:code,opr:eq,value:{code})))").json["ids"][0]
    assert admin.put(f"/api/v1/warehouse/{wid}", json={"active": False}).status_code == 200
    r = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": code, "lines": [{"product": GLOVES, "quantity": "1"}]})
    assert r.status_code == 422 and "not active" in r.json["message"]


# ─── what is available at the source ─────────────────────────────────────────────────

def test_available_stock_by_search(api, people, device, unique):
    sku, gtin = device()
    early, late, old = f"E{unique}", f"L{unique}", f"X{unique}"
    assert receive(api, [{"barcode": gs1(gtin, early, day(200)), "quantity": "4"},
                         {"barcode": gs1(gtin, late, day(600)), "quantity": "6"},
                         {"barcode": gs1(gtin, old, day(30)), "quantity": "5"}],
                   inspection=False).status_code == 201
    # a quarantined lot does not count
    r = api("admin").get(f"/api/v1/lot/?q=(filters:!((col:lot_number,opr:eq,value:{old})))")
    held = api("qa_user").post(f"/api/v1/lot/{r.json['ids'][0]}/signed-change", json={
        "changes": {"status": "quarantine"}, "reason": "inspection", "signature": {"password": PASSWORD}})
    assert held.status_code == 200, held.json
    clerk = api("clerk_sh2")
    for q in (sku.lower(), f"test device {unique}", f"MOD-{unique}", gtin, gtin[1:]):
        r = clerk.get(f"/api/v1/stock/available?warehouse=SH01&q={q}")
        assert r.status_code == 200, r.json
        found = [p for p in r.json["result"] if p["sku"] == sku]
        assert found, q
    item = found[0]
    assert (item["available"], item["earliest_expiry"]) == ("10", day(200).isoformat())
    assert [(l["lot"], l["available"]) for l in item["lots"]] == [(early, "4"), (late, "6")]
    # the same product by id, at a warehouse that has none of it
    r = api("admin").get(f"/api/v1/stock/available?warehouse=HZ01&product={item['id']}")
    assert r.json["result"][0]["available"] == "0" and r.json["result"][0]["lots"] == []
    # outside the clerk's scope: refused
    r = clerk.get(f"/api/v1/stock/available?warehouse=BJ01&q={sku}")
    assert r.status_code == 403
    r = clerk.get("/api/v1/stock/available?warehouse=SH01&q=%25")
    assert r.status_code == 200 and r.json["result"] == []


# ─── best-before labels and expired goods ────────────────────────────────────────────

def best_before(gtin, lot, date):
    return f"01{gtin}15{date:%y%m%d}10{lot}"


def test_best_before_is_the_expiry_by_default(api, people, device, unique):
    sku, gtin = device()
    lot = f"B{unique}"
    r = api("clerk_sh2").post("/api/v1/receipts/scan", json={
        "barcode": f"01{gtin}15{day(300):%y%m%d}16{day(200):%y%m%d}10{lot}", "warehouse": "SH01"})
    assert r.status_code == 200, r.json
    assert (r.json["best_before"], r.json["sell_by"]) == (day(300).isoformat(), day(200).isoformat())
    assert (r.json["expiry_date"], r.json["expiry_source"], r.json["needs_expiry"]) == (
        day(300).isoformat(), "best_before", False)
    r = receive(api, [{"barcode": best_before(gtin, lot, day(300))}], user="clerk_sh2")
    assert r.status_code == 201, r.json
    assert r.json["lines"][0]["expiry_date"] == day(300).isoformat()
    assert stock(api, lot=lot)[0]["expiry_date"] == day(300).isoformat()


def test_best_before_that_is_not_the_expiry_needs_a_typed_date(api, people, device, unique):
    sku, gtin = device(best_before_is_expiry=False)
    lot = f"T{unique}"
    code = best_before(gtin, lot, day(300))
    r = api("clerk_sh2").post("/api/v1/receipts/scan", json={"barcode": code, "warehouse": "SH01"})
    assert (r.json["expiry_date"], r.json["needs_expiry"], r.json["best_before"]) == (
        None, True, day(300).isoformat())
    r = receive(api, [{"barcode": code}], user="clerk_sh2")
    assert r.status_code == 422 and "expiry date is missing" in r.json["message"]
    assert stock(api, lot=lot) == []
    r = receive(api, [{"barcode": code, "expiry_date": "2031-02-30"}], user="clerk_sh2")
    assert r.status_code == 422 and "expiry_date" in r.json["message"]
    r = receive(api, [{"barcode": code, "expiry_date": "2999-01-01"}], user="clerk_sh2")
    assert r.status_code == 422 and "more than 50 years" in r.json["message"]
    r = receive(api, [{"barcode": code, "expiry_date": day(250).isoformat()}], user="clerk_sh2")
    assert r.status_code == 201, r.json
    assert stock(api, lot=lot)[0]["expiry_date"] == day(250).isoformat()
    # the lot is on record now: its expiry serves the next scan
    r = api("clerk_sh2").post("/api/v1/receipts/scan", json={"barcode": code, "warehouse": "SH01"})
    assert (r.json["expiry_date"], r.json["expiry_source"], r.json["needs_expiry"]) == (
        day(250).isoformat(), "lot", False)


def test_a_typed_expiry_must_agree_with_the_label(api, people, device, unique):
    sku, gtin = device()
    r = receive(api, [{"barcode": gs1(gtin, f"D{unique}", day(300)), "expiry_date": day(301).isoformat()}])
    assert r.status_code == 422 and "the label says expiry" in r.json["message"]


def test_expired_goods_are_refused_by_default(api, people, device, unique):
    sku, gtin = device()
    lot = f"X{unique}"
    code = gs1(gtin, lot, day(-2))
    r = in_chinese(api, "clerk_sh2", "post", "/api/v1/receipts/scan",
                   json={"barcode": code, "warehouse": "SH01"})
    assert r.status_code == 422 and "已于" in r.json["message"] and "不接收过期货物" in r.json["message"]
    r = receive(api, [{"barcode": code}], user="clerk_sh2")
    assert r.status_code == 422 and "expired on" in r.json["message"]
    assert "does not accept expired goods" in r.json["message"]
    assert stock(api, lot=lot) == []
    r = api("admin").get(f"/api/v1/lot/?q=(filters:!((col:lot_number,opr:eq,value:{lot})))")
    assert r.json["count"] == 0


def test_a_warehouse_may_take_expired_goods_into_quarantine(api, people, device, warehouse, unique):
    sku, gtin = device()
    code, clerk = warehouse(accept_expired=True)
    lot, good = f"X{unique}", f"G{unique}"
    r = api(clerk).post("/api/v1/receipts/scan", json={"barcode": gs1(gtin, lot, day(-2)), "warehouse": code})
    assert r.status_code == 200 and r.json["expired"] and r.json["expired_action"] == "quarantine"
    r = receive(api, [{"barcode": gs1(gtin, lot, day(-2)), "quantity": "3"},
                      {"barcode": gs1(gtin, good, day(400)), "quantity": "2"}], warehouse=code, user=clerk)
    assert r.status_code == 201, r.json
    rows = {(x["lot"] if "lot" in x else x["lot_number"]): x for x in stock(api, warehouse=code)}
    assert (rows[lot]["status"], rows[lot]["lot_status"]) == ("quarantine", "expired")
    assert (rows[good]["status"], rows[good]["lot_status"]) == ("available", "available")
    # never sellable: not available to a transfer, refused to a hospital
    r = api(clerk).get(f"/api/v1/stock/available?warehouse={code}&q={sku}")
    assert r.json["result"][0]["available"] == "2"
    r = api(clerk).post("/api/v1/shipments/", json={"customer": "HOS-RJ", "warehouse": code,
                                                    "lines": [{"product": sku, "lot": lot, "quantity": "1"}]})
    assert r.status_code == 422


def test_dashboard_does_not_count_expired_lots_as_expiring(app, api, people, device, unique):
    from app import db
    from app.actor import Actor
    from app.dashboard import dashboard_figures
    sku, gtin = device()
    soon, gone = f"S{unique}", f"P{unique}"
    code, clerk = "SH01", "clerk_sh2"
    r = receive(api, [{"barcode": gs1(gtin, soon, day(20))}, {"barcode": gs1(gtin, gone, day(30))}],
                warehouse=code)
    assert r.status_code == 201
    rt = app.extensions["medtrace"]
    with app.app_context():
        W, Lot = rt.models["Warehouse"], rt.models["Lot"]
        wid = db.session.execute(sa.select(W.id).where(W.code == code)).scalar_one()
        actor = Actor(username=clerk, warehouse_ids=frozenset({wid}))
        before = dashboard_figures(db.session, rt.models, actor, rt.workflows)["expiring_lots"]
        lot = db.session.execute(sa.select(Lot).where(Lot.lot_number == gone)).scalar_one()
        lot.expiry_date = day(-1)  # time passes: it expired yesterday
        db.session.flush()
        after = dashboard_figures(db.session, rt.models, actor, rt.workflows)["expiring_lots"]
        db.session.rollback()
    assert after == before - 1


# ─── put-away suggestions ────────────────────────────────────────────────────────────

def test_putaway_suggests_the_dedicated_bin_then_the_bin_holding_the_lot(app, api, people, device,
                                                                        warehouse, unique):
    from app import db
    from app.actor import Actor, acting_as
    from app.stock.queries import receiving_stock
    sku, gtin = device()
    other_sku, other_gtin = "SYR-0003", gtin14("069012345680")
    code, clerk = warehouse()
    lot = f"P{unique}"
    assert receive(api, [{"barcode": gs1(gtin, lot, day(300)), "quantity": "4"},
                         {"barcode": gs1(other_gtin, f"O{unique}", day(300)), "quantity": "2"}],
                   warehouse=code).status_code == 201

    def suggestions():
        rt = app.extensions["medtrace"]
        with app.app_context(), acting_as(Actor(username="admin")):
            rows = receiving_stock(rt.context(db.session), _wid(app, code))
        return {r["sku"]: (r["suggested_bin"], r["suggested_because"], r["movable"]) for r in rows}

    assert suggestions() == {sku: (None, None, "4"), other_sku: (None, None, "2")}
    r = api(clerk).post("/api/v1/moves/", json={"warehouse": code, "lines": [{
        "product": sku, "lot": lot, "from_location": f"{code}-RCV", "to_location": f"{code}-A2",
        "quantity": "1"}]})
    assert r.status_code == 201, r.json
    assert suggestions()[sku] == (f"{code}-A2", "same_lot", "3")
    loc = api("admin").get(f"/api/v1/location/?q=(filters:!((col:code,opr:eq,value:{code}-A1)))").json
    pid = api("admin").get(f"/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:{sku})))").json["ids"][0]
    assert api("admin").put(f"/api/v1/location/{loc['ids'][0]}", json={"putaway_for": pid}).status_code == 200
    assert suggestions()[sku] == (f"{code}-A1", "dedicated", "3")
    assert suggestions()[other_sku] == (None, None, "2")


def _wid(app, code):
    from app import db
    W = app.extensions["medtrace"].models["Warehouse"]
    with app.app_context():
        return db.session.execute(sa.select(W.id).where(W.code == code)).scalar_one()


# ─── reversing a receipt ─────────────────────────────────────────────────────────────

def test_reversing_a_receipt(api, people, device, unique):
    sku, gtin = device()
    r = receive(api, [{"barcode": gs1(gtin, f"R{unique}", day(300)), "quantity": "3"}], user="clerk_sh2")
    name = r.json["name"]
    r = api("clerk_sh2").post(f"/api/v1/receipts/{name}/reverse")
    assert r.status_code == 403  # clerks receive; managers correct
    r = api("manager_sh").post(f"/api/v1/receipts/{name}/reverse")
    assert r.status_code == 200 and r.json["status"] == "reversed"
    assert stock(api, lot=f"R{unique}") == []
    r = in_chinese(api, "manager_sh", "post", f"/api/v1/receipts/{name}/reverse")
    assert r.status_code == 409 and r.json["message"] == f"{name} 已冲销，不能再次冲销"
    r = in_chinese(api, "manager_sh", "post", "/api/v1/receipts/RC-NOPE/reverse")
    assert r.status_code == 404 and "入库单" in r.json["message"]


def test_a_receipt_whose_units_moved_on_cannot_be_reversed(api, people, device, unique):
    sku, gtin = device()
    lot = f"M{unique}"
    receipt = receive(api, [{"barcode": gs1(gtin, lot, day(300)), "quantity": "3"}]).json
    name = receipt["name"]
    r = api("clerk_sh2").post("/api/v1/moves/", json={"warehouse": "SH01", "lines": [{
        "product": sku, "lot": lot, "from_location": "SH01-RCV", "to_location": "SH01-A-01-01",
        "quantity": "2"}]})
    assert r.status_code == 201
    r = api("manager_sh").post(f"/api/v1/receipts/{name}/reverse")
    assert r.status_code == 422 and "move them back first" in r.json["message"]
    assert sorted((x["location"], x["quantity"]) for x in stock(api, lot=lot)) == [
        ("SH01-A-01-01", "2"), ("SH01-RCV", "1")]
    assert api("manager_sh").get(f"/api/v1/receipt/{receipt['id']}").json["result"]["status"] == "posted"
