"""Receiving, put-away, shipping and stock queries through the REST API and
the service layer, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.demo import gtin14

GS = "\x1d"
CATHETER = gtin14("069012345678")   # CAT-0001, lot-tracked, class III
STENT = gtin14("069012345679")      # STN-0002, lot + serial
PACEMAKER = gtin14("069012345682")  # PMK-0005, serial only


def gs1(gtin, lot=None, expiry=None, serial=None):
    text = f"01{gtin}"
    if expiry:
        text += f"17{expiry:%y%m%d}"
    if lot:
        text += f"10{lot}" + (GS if serial else "")
    if serial:
        text += f"21{serial}"
    return text


def future(days=700):
    return dt.date.today() + dt.timedelta(days=days)


def receive(api, lines, warehouse="SH01", **extra):
    return api("admin").post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": warehouse, "lines": lines, **extra})


def on_hand(api, **filters):
    q = "&".join(f"{k}={v}" for k, v in filters.items())
    return api("admin").get(f"/api/v1/stock/?{q}").json


def test_receive_by_scan_creates_lot_and_posts_to_receiving(api, unique):
    lot = f"L{unique}"
    r = receive(api, [{"barcode": gs1(CATHETER, lot, future()), "quantity": "10"}])
    assert r.status_code == 201, r.json
    assert r.json["name"].startswith("RC-")
    assert r.json["lines"][0] == {"product": "CAT-0001", "lot": lot, "serial": None,
                                  "expiry_date": future().isoformat(), "quantity": "10"}
    stock = on_hand(api, lot=lot)
    assert stock["count"] == 1
    row = stock["result"][0]
    assert (row["location"], row["quantity"], row["status"]) == ("SH01-RCV", "10", "available")


def test_scan_parse_endpoint_finds_product(api):
    r = api("clerk_sh").post("/api/v1/udi/parse", json={"barcode": "]d2" + gs1(CATHETER, "A1", future())})
    assert r.status_code == 200
    assert r.json["gtin"] == CATHETER and r.json["product"]["sku"] == "CAT-0001"
    r = api("clerk_sh").post("/api/v1/udi/parse", json={"barcode": "0107032069804987"})
    assert r.status_code == 422 and "check digit" in r.json["message"]


def test_scan_with_wedge_separator(api, unique):
    text = f"01{STENT}17{future():%y%m%d}10W{unique}|21S{unique}"
    r = api("admin").post("/api/v1/udi/parse", json={"barcode": text, "separator": "|"})
    assert r.status_code == 200, r.json
    assert r.json["lot"] == f"W{unique}" and r.json["serial"] == f"S{unique}"


def test_contradicting_expiry_is_refused_and_nothing_posted(api, unique):
    lot = f"E{unique}"
    assert receive(api, [{"barcode": gs1(CATHETER, lot, future(700))}]).status_code == 201
    r = receive(api, [{"barcode": gs1(CATHETER, lot, future(900))}])
    assert r.status_code == 422
    assert f"expiry {future(700)}" in r.json["message"] and str(future(900)) in r.json["message"]
    assert on_hand(api, lot=lot)["result"][0]["quantity"] == "1"


def test_scan_of_another_product_than_entered_is_refused(api, unique):
    r = receive(api, [{"barcode": gs1(CATHETER, f"X{unique}", future()), "product": "SYR-0003"}])
    assert r.status_code == 422 and "the scan is CAT-0001, not SYR-0003" in r.json["message"]


def test_unknown_di_is_refused(api):
    r = receive(api, [{"barcode": gs1("00614141123452", "Z1", future())}])
    assert r.status_code == 404 or r.status_code == 422
    assert "no product has UDI-DI 00614141123452" in r.json["message"]


def test_serial_already_in_stock_is_refused(api, unique):
    line = {"barcode": gs1(STENT, f"S{unique}", future(), serial=f"SN{unique}")}
    assert receive(api, [line]).status_code == 201
    r = receive(api, [line])
    assert r.status_code == 422 and f"serial SN{unique} of STN-0002 is already in stock" in r.json["message"]
    r = receive(api, [{"barcode": gs1(PACEMAKER, serial=f"P{unique}")},
                      {"barcode": gs1(PACEMAKER, serial=f"P{unique}")}])
    assert r.status_code == 422 and "appears twice" in r.json["message"]


@pytest.mark.parametrize("qty,msg", [("0", "greater than zero"), ("-3", "greater than zero"),
                                     ("abc", "Not a valid number")])
def test_bad_quantities_are_refused(api, unique, qty, msg):
    r = receive(api, [{"product": "SYR-0003", "lot_number": f"Q{unique}",
                       "expiry_date": future().isoformat(), "quantity": qty}])
    assert r.status_code == 422 and msg in r.json["message"]
    assert on_hand(api, lot=f"Q{unique}")["count"] == 0


def test_unknown_product_and_missing_lot(api, unique):
    r = receive(api, [{"product": "NOPE-1", "quantity": "1"}])
    assert r.status_code == 422 and "unknown product 'NOPE-1'" in r.json["message"]
    r = receive(api, [{"product": "SYR-0003", "quantity": "1"}])
    assert "lot-tracked: the lot number is missing" in r.json["message"]


def test_receipt_outside_scope_is_forbidden(api, unique):
    r = api("clerk_sh").post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": "BJ01",
        "lines": [{"product": "GLV-0004", "lot_number": f"G{unique}",
                   "expiry_date": future().isoformat(), "quantity": "5"}]})
    assert r.status_code == 403 and "outside your data scope" in r.json["message"]


def test_inspection_receives_into_quarantine_and_cannot_ship(api, unique):
    lot = f"QC{unique}"
    r = receive(api, [{"product": "GLV-0004", "lot_number": lot, "expiry_date": future().isoformat(),
                       "quantity": "20"}], inspection=True)
    assert r.status_code == 201
    row = on_hand(api, lot=lot)["result"][0]
    assert row["status"] == "quarantine" and row["lot_status"] == "quarantine"
    r = api("admin").post("/api/v1/shipments/", json={
        "customer": "HOS-RJ", "warehouse": "SH01", "lines": [{"product": "GLV-0004", "lot": lot,
                                                              "quantity": "1"}]})
    assert r.status_code == 422 and "quarantine" in r.json["message"]


def test_fefo_shipment_picks_earliest_expiry_in_bin_order(api, app, unique):
    # three lots of a product nobody else uses in this test run
    sku = f"FEFO-{unique}"
    admin = api("admin")
    assert admin.post("/api/v1/product/", json={
        "sku": sku, "name": "FEFO test", "risk_class": "II", "tracking": "lot",
        "shelf_life_days": 1000, "min_remaining_shelf_days": 30}).status_code == 201
    late, early, short = f"LATE{unique}", f"EARLY{unique}", f"SHORT{unique}"
    assert receive(api, [
        {"product": sku, "lot_number": late, "expiry_date": future(900).isoformat(), "quantity": "5"},
        {"product": sku, "lot_number": early, "expiry_date": future(400).isoformat(), "quantity": "4"},
        {"product": sku, "lot_number": short, "expiry_date": future(10).isoformat(), "quantity": "50"},
    ], location="SH01-A-01-02").status_code == 201
    # put part of the early lot away into an earlier bin in the pick path
    r = admin.post("/api/v1/moves/", json={"warehouse": "SH01", "lines": [{
        "product": sku, "lot": early, "from_location": "SH01-A-01-02",
        "to_location": "SH01-A-01-01", "quantity": "1"}]})
    assert r.status_code == 201, r.json
    r = admin.post("/api/v1/shipments/", json={"customer": "HOS-RJ", "warehouse": "SH01",
                                               "lines": [{"product": sku, "quantity": "6"}]})
    assert r.status_code == 201, r.json
    picks = r.json["pick_list"]
    # the short-dated lot has < 30 days left: skipped; EARLY fully, then LATE
    assert [(p["location"], p["lot"], p["quantity"]) for p in picks] == [
        ("SH01-A-01-01", early, "1"), ("SH01-A-01-02", early, "3"),
        ("SH01-A-01-02", late, "2")]
    assert on_hand(api, lot=early)["count"] == 0
    # asking for more than is allocatable says why, and ships nothing
    r = admin.post("/api/v1/shipments/", json={"customer": "HOS-RJ", "warehouse": "SH01",
                                               "lines": [{"product": sku, "quantity": "4"}]})
    assert r.status_code == 422
    assert "requested 4, allocatable 3" in r.json["message"] and "shelf life" in r.json["message"]
    assert on_hand(api, lot=late)["result"][0]["quantity"] == "3"


def test_recalled_and_expired_lots_cannot_ship(api, app, unique):
    from app import db
    lot = f"RC{unique}"
    assert receive(api, [{"product": "SYR-0003", "lot_number": lot,
                          "expiry_date": future().isoformat(), "quantity": "3"}]).status_code == 201
    Lot = app.extensions["medtrace"].models["Lot"]
    with app.app_context():
        db.session.execute(sa.update(Lot).where(Lot.lot_number == lot).values(status="recalled"))
        db.session.commit()
    r = api("admin").post("/api/v1/shipments/", json={
        "customer": "HOS-RJ", "warehouse": "SH01", "lines": [{"product": "SYR-0003", "lot": lot,
                                                              "quantity": "1"}]})
    assert r.status_code == 422 and "recalled" in r.json["message"]


def test_expired_lot_is_refused_by_the_ledger(ctx, unique):
    from app import db
    from app.domain.ledger import LedgerError, Move
    from app.context import ServiceContext
    from app.inventory.receipts import post_receipt
    from app.stock.locations import virtual_location
    from app.stock.ledger import StockLedger
    sc = ServiceContext(db.session, ctx.extensions["medtrace"].models)
    with sc.transaction():
        receipt = post_receipt(sc, {"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [{
            "product": "SYR-0003", "lot_number": f"OLD{unique}",
            "expiry_date": dt.date.today() + dt.timedelta(days=30), "quantity": "2"}]})
        # received in date, expired since (receiving expired units is refused)
        receipt.lines[0].lot.expiry_date = dt.date.today() - dt.timedelta(days=3)
    line = receipt.lines[0]
    customer = virtual_location(sc, "customer")
    with pytest.raises(LedgerError, match="expired on"):
        StockLedger(db.session, sc.models).post_moves("Test", 0, None, [Move(
            product_id=line.product_id, lot_id=line.lot_id, from_location_id=receipt.location_id,
            to_location_id=customer.id, quantity=Decimal(1))])
    db.session.rollback()


def test_lot_of_another_product_is_refused(api, unique):
    lot = f"OTH{unique}"
    assert receive(api, [{"product": "GLV-0004", "lot_number": lot,
                          "expiry_date": future().isoformat(), "quantity": "2"}]).status_code == 201
    r = api("admin").post("/api/v1/moves/", json={"warehouse": "SH01", "lines": [{
        "product": "SYR-0003", "lot": lot, "from_location": "SH01-RCV",
        "to_location": "SH01-A-01-01", "quantity": "1"}]})
    assert r.status_code in (404, 422) and f"unknown lot {lot} of SYR-0003" in r.json["message"]


def test_moving_more_than_on_hand_is_refused(api, unique):
    lot = f"MV{unique}"
    receive(api, [{"product": "GLV-0004", "lot_number": lot, "expiry_date": future().isoformat(),
                   "quantity": "2"}])
    r = api("admin").post("/api/v1/moves/", json={"warehouse": "SH01", "lines": [{
        "product": "GLV-0004", "lot": lot, "from_location": "SH01-RCV",
        "to_location": "SH01-A-01-01", "quantity": "3"}]})
    assert r.status_code == 422 and "not enough stock of GLV-0004" in r.json["message"]
    assert "2 on hand, 3 requested" in r.json["message"]


def test_stock_query_respects_scope(api, unique):
    lot = f"SC{unique}"
    receive(api, [{"product": "GLV-0004", "lot_number": lot, "expiry_date": future().isoformat(),
                   "quantity": "2"}], warehouse="BJ01")
    assert on_hand(api, lot=lot)["count"] == 1
    r = api("clerk_sh").get(f"/api/v1/stock/?lot={lot}")
    assert r.status_code == 200 and r.json["count"] == 0
    r = api("manager_bj").get(f"/api/v1/stock/?lot={lot}&warehouse=BJ01")
    assert r.json["count"] == 1


def test_reversal_restores_stock_and_is_one_time(api, unique):
    lot = f"REV{unique}"
    name = receive(api, [{"product": "GLV-0004", "lot_number": lot,
                          "expiry_date": future().isoformat(), "quantity": "7"}]).json["name"]
    r = api("admin").post(f"/api/v1/receipts/{name}/reverse")
    assert r.status_code == 200, r.json
    assert on_hand(api, lot=lot)["count"] == 0
    assert api("admin").post(f"/api/v1/receipts/{name}/reverse").status_code == 409


def test_lot_moves_query(api, app, unique):
    lot = f"HIS{unique}"
    receive(api, [{"product": "GLV-0004", "lot_number": lot, "expiry_date": future().isoformat(),
                   "quantity": "4"}])
    lot_id = on_hand(api, lot=lot)["result"][0]["lot_id"]
    moves = api("admin").get(f"/api/v1/stock/lots/{lot_id}/moves").json["result"]
    assert [(m["document_type"], m["from_location"], m["to_location"]) for m in moves] == [
        ("Receipt", "SUPPLIER", "SH01-RCV")]


def test_sql_statements_per_posted_line(ctx, unique):
    """At most 3 SQL statements per posted line for a 20-line receipt (counted,
    not timed)."""
    from app import db
    from app.context import ServiceContext
    from app.inventory.receipts import post_receipt
    sc = ServiceContext(db.session, ctx.extensions["medtrace"].models)
    lines = [{"product": "GLV-0004", "lot_number": f"SQL{unique}-{i}",
              "expiry_date": future(), "quantity": "5"} for i in range(20)]
    post_receipt(sc, {"supplier": "SUP-MDT", "warehouse": "SH01", "lines": lines[:1]})
    db.session.commit()  # warm up lookups that happen once per process
    statements = []
    engine = db.engine

    def count(conn, cursor, statement, params, context, executemany):
        statements.append(statement)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with sc.transaction():
            post_receipt(sc, {"supplier": "SUP-MDT", "warehouse": "SH01", "lines": lines[1:]})
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    per_line = len(statements) / 19
    assert per_line <= 3, f"{len(statements)} statements for 19 lines:\n" + "\n".join(statements)


def test_verify_ledger_finds_no_difference(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["medtrace", "verify-ledger"])
    assert result.exit_code == 0, result.output
    assert "no differences" in result.output
