"""A warehouse clerk's day in headless Chromium, each flow as the person who
does it (never admin): a transfer entered on screen and submitted, put-away,
best-before and expired labels at receiving, a transfer received by scan,
a shipment to a hospital, and a manager reversing a wrong receipt. Bad input
on each page gives a clear message in the user's language and changes nothing."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.demo import gtin14
from support import PASSWORD, create_user

pytestmark = pytest.mark.browser

GS = "\x1d"


def day(offset: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=offset)


def gs1(gtin, lot=None, expiry=None, serial=None, best_before=None, sell_by=None):
    """A GS1 element string as a scanner sends it (GS after variable-length fields)."""
    text = f"01{gtin}"
    if expiry:
        text += f"17{expiry:%y%m%d}"
    if best_before:
        text += f"15{best_before:%y%m%d}"
    if sell_by:
        text += f"16{sell_by:%y%m%d}"
    if lot:
        text += f"10{lot}" + (GS if serial else "")
    if serial:
        text += f"21{serial}"
    return text


def hri(gtin, lot, expiry):
    """The same label as printed text (GS1 human-readable interpretation)."""
    return f"(01){gtin}(17){expiry:%y%m%d}(10){lot}"


def scan(page, field, code):
    """Type a code into a scan field and press Enter, as a keyboard-wedge scanner does."""
    page.locator(field).focus()
    page.keyboard.type(code)
    page.keyboard.press("Enter")


@pytest.fixture
def api(live_server):
    """api('clerk_sh').post(...): JSON calls into the live app as that user (JWT)."""
    tokens: dict[str, str] = {}

    def as_user(username):
        client = live_server.test_client()
        if username not in tokens:
            r = client.post("/api/v1/security/login", json={
                "username": username, "password": PASSWORD, "provider": "db"})
            assert r.status_code == 200, r.json
            tokens[username] = r.json["access_token"]
        headers = {"Authorization": f"Bearer {tokens[username]}"}

        class Caller:
            def __getattr__(self, method):
                return lambda url, **kw: getattr(client, method)(url, headers=headers, **kw)
        return Caller()
    return as_user


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:8].upper()


@pytest.fixture
def device(api, tag):
    """A lot-tracked class II device of this test's own: its stock is what the test puts there."""
    def make(**extra):
        gtin = gtin14("067" + str(int(tag, 16) % 10**9).zfill(9))
        sku = f"DEV-{tag}"
        r = api("admin").post("/api/v1/product/", json={
            "sku": sku, "name": f"Dressing kit {tag} 敷料包", "model": f"DK-{tag}", "udi_di": gtin,
            "risk_class": "II", "tracking": "lot", "shelf_life_days": 730, "unit_price": "10.00", **extra})
        assert r.status_code == 201, r.json
        return sku, gtin
    return make


def receive(api, gtin, lot, qty, expiry_days=400, warehouse="SH01", user="admin"):
    r = api(user).post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": warehouse,
        "lines": [{"barcode": gs1(gtin, lot, day(expiry_days)), "quantity": str(qty)}]})
    assert r.status_code == 201, r.json
    return r.json["name"]


def db_rows(live_server, build):
    """Run ``build(models)`` (a select) against the live app's database."""
    from app import db
    with live_server.app_context():
        rows = db.session.execute(build(live_server.extensions["medtrace"].models)).all()
        db.session.remove()
    return rows


def balances(live_server, lot):
    def q(m):
        B, L, Lot = m.table("stock_balance"), m["Location"], m["Lot"]
        return (sa.select(L.code, B.c.status, B.c.quantity).join(L, L.id == B.c.location_id)
                .join(Lot, Lot.id == B.c.lot_id).where(Lot.lot_number == lot, B.c.quantity > 0, B.c.is_real)
                .order_by(L.code))
    return [(code, status, str(q.normalize())) for code, status, q in db_rows(live_server, q)]


# ─── 1. a transfer entered on screen ─────────────────────────────────────────────────

def test_clerk_enters_a_two_line_transfer_and_submits_it(page, login, api, live_server, device, tag):
    sku, gtin = device()
    lot = f"TE{tag}"
    receive(api, gtin, lot, 8)
    login("clerk_sh")
    page.goto("/transfers/board/")
    page.click("#new-transfer")
    page.wait_for_url("**/transfers/new/")
    # the destination is any active warehouse, beyond the clerk's own scope
    destinations = page.locator("#mt-to option:not([disabled])").all_inner_texts()
    assert any(d.startswith("BJ01") for d in destinations) and not any(d.startswith("SH01") for d in destinations)

    # nothing to save yet: the page says what is missing
    page.click("#mt-submit")
    expect(page.locator("#mt-message")).to_contain_text("Choose the warehouse the goods go to")
    page.select_option("#mt-to", "BJ01")
    page.select_option("#mt-priority", "urgent")
    page.fill("#mt-needed", day(7).isoformat())
    page.select_option("#mt-reason", "replenishment")
    page.fill("#mt-note", f"ward restock {tag}")

    # line 1 by search: the product with what is available at SH01 and its earliest expiry
    page.fill("#mt-search", f"dk-{tag}")
    found = page.locator(f"#mt-results-body tr[data-sku='{sku}']")
    found.wait_for()
    assert found.locator(".mt-available").inner_text() == "8" and day(400).isoformat() in found.inner_text()
    found.locator(".mt-add").click()
    line1 = page.locator(f"#mt-lines-body tr[data-sku='{sku}']").first
    line1.wait_for()
    line1.locator(".mt-qty").fill("3")
    # line 2 by scan: gloves, scanned twice (GS1 element string, then the printed text): one line of 2
    gloves = gtin14("069012345681")
    receive(api, gloves, f"GL{tag}", 5, 500)
    scan(page, "#mt-scan", gs1(gloves, f"GL{tag}", day(500)))
    scan(page, "#mt-scan", hri(gloves, f"GL{tag}", day(500)))
    line2 = page.locator("#mt-lines-body tr[data-sku='GLV-0004']")
    page.wait_for_function("document.querySelector(\"#mt-lines-body tr[data-sku='GLV-0004'] .mt-qty\")"
                           " && document.querySelector(\"#mt-lines-body tr[data-sku='GLV-0004'] .mt-qty\").value === '2'")
    assert line2.locator(".mt-lot").input_value() == f"GL{tag}"
    assert page.locator("#mt-lines-body tr").count() == 2

    # a quantity the server refuses: the message, and nothing is created
    line1.locator(".mt-qty").fill("1.00001")
    page.click("#mt-save")
    expect(page.locator("#mt-message")).to_contain_text("more than 4 decimal places")
    assert not db_rows(live_server, lambda m: sa.select(m["TransferOrder"].id).where(
        m["TransferOrder"].reason == f"ward restock {tag}"))
    line1.locator(".mt-qty").fill("0")
    page.click("#mt-save")
    expect(page.locator("#mt-message")).to_contain_text("Line 1: the quantity must be a number greater than zero")
    line1.locator(".mt-qty").fill("3")
    page.screenshot(path="/tmp/medtrace-transfer-entry.png", full_page=True)

    # save as a draft: the transfer's page, in draft, with an Edit button
    page.click("#mt-save")
    page.wait_for_url(re.compile(r"/transfers/TR-[\d-]+/$"))
    name = page.locator("#transfer-detail").get_attribute("data-transfer")
    expect(page.locator("#mt-message")).to_contain_text(f"Draft {name} saved")
    assert page.locator("#transfer-detail").get_attribute("data-state") == "draft"

    # edit it: one more unit of the first line, then submit
    page.click("#edit-draft")
    page.wait_for_url(f"**/transfers/{name}/edit/")
    qty = page.locator(f"#mt-lines-body tr[data-sku='{sku}'] .mt-qty")
    assert qty.input_value() == "3"
    qty.fill("4")
    page.click("#mt-submit")
    page.wait_for_url(f"**/transfers/{name}/")
    expect(page.locator("#mt-message")).to_contain_text(f"{name} submitted for approval")
    assert page.locator("#transfer-detail").get_attribute("data-state") == "submitted"
    page.screenshot(path="/tmp/medtrace-transfer-submitted.png", full_page=True)

    (row,) = db_rows(live_server, lambda m: sa.select(
        m["TransferOrder"].id, m["TransferOrder"].state, m["TransferOrder"].priority,
        m["TransferOrder"].reason_code, m["TransferOrder"].requested_date, m["TransferOrder"].total_value,
        m["TransferOrder"].created_by).where(m["TransferOrder"].name == name))
    assert row[1:] == ("submitted", "urgent", "replenishment", day(7), row.total_value, "clerk_sh")
    assert str(row.total_value.normalize()) == "46.4"  # 4 x 10.00 + 2 x 3.20
    lines = db_rows(live_server, lambda m: sa.select(
        m["Product"].sku, m["TransferLine"].quantity, m["Lot"].lot_number)
        .join(m["Product"], m["Product"].id == m["TransferLine"].product_id)
        .outerjoin(m["Lot"], m["Lot"].id == m["TransferLine"].lot_id)
        .where(m["TransferLine"].parent_id == row.id).order_by(m["TransferLine"].id))
    assert [(s, str(q.normalize()), lt) for s, q, lt in lines] == [(sku, "4", None), ("GLV-0004", "2", f"GL{tag}")]


def test_transfer_entry_speaks_chinese(page, login):
    login("clerk_sh")
    page.goto("/lang/zh")
    page.goto("/transfers/new/")
    assert "新建调拨单" in page.inner_text("#mt-entry")
    page.click("#mt-save")
    expect(page.locator("#mt-message")).to_contain_text("请选择调入仓库")
    page.select_option("#mt-to", "HZ01")
    page.click("#mt-save")
    expect(page.locator("#mt-message")).to_contain_text("请至少添加一行明细")
    scan(page, "#mt-scan", "0107032069804987")  # a wrong check digit
    expect(page.locator("#mt-message")).to_contain_text("扫码被拒绝")
    expect(page.locator("#mt-message")).to_contain_text("校验位错误")
    page.goto("/lang/en")


# ─── 2. put-away ─────────────────────────────────────────────────────────────────────

def test_clerk_puts_away_received_stock(page, login, api, live_server, device, tag):
    sku, gtin = device()
    lot = f"PA{tag}"
    receive(api, gtin, lot, 6, user="clerk_sh")
    # SH01-B-01-03 is set up as the put-away bin of this product
    admin = api("admin")
    bin_id = admin.get("/api/v1/location/?q=(filters:!((col:code,opr:eq,value:SH01-B-01-03)))").json["ids"][0]
    pid = admin.get(f"/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:{sku})))").json["ids"][0]
    assert admin.put(f"/api/v1/location/{bin_id}", json={"putaway_for": pid}).status_code == 200
    try:
        login("clerk_sh")
        page.goto("/")
        page.click("text=Inventory")
        page.click("a:has-text('Put away')")
        page.wait_for_url("**/putaway/**")
        assert page.locator(f"#mt-items tr[data-lot='{lot}']").count() == 1
        scan(page, "#mt-item-scan", gs1(gtin, lot, day(400)))
        expect(page.locator("#mt-selected-item")).to_contain_text(lot)
        expect(page.locator("#mt-suggested-bin")).to_have_text("SH01-B-01-03")
        assert page.input_value("#mt-qty") == "6"
        # a bin of another warehouse: refused on the page, nothing moves
        scan(page, "#mt-bin", "BJ01-A-01-01")
        expect(page.locator("#mt-message")).to_contain_text("BJ01-A-01-01 is not a bin of SH01")
        # more than waits there: refused
        page.fill("#mt-qty", "7")
        page.fill("#mt-bin", "SH01-B-01-03")
        page.click("#mt-post")
        expect(page.locator("#mt-message")).to_contain_text("at most 6")
        assert balances(live_server, lot) == [("SH01-RCV", "available", "6")]
        page.fill("#mt-qty", "4")
        page.fill("#mt-bin", "")
        page.click("#mt-use-suggested")
        page.locator("#mt-bin").press("Enter")
        expect(page.locator("#mt-message")).to_contain_text(re.compile(r"Put away: 4 × lot .* → SH01-B-01-03 \(MV-"))
        assert balances(live_server, lot) == [("SH01-B-01-03", "available", "4"), ("SH01-RCV", "available", "2")]
        assert page.locator(f"#mt-items tr[data-lot='{lot}']").inner_text().count("2") >= 1
        page.screenshot(path="/tmp/medtrace-putaway.png", full_page=True)
    finally:
        admin.put(f"/api/v1/location/{bin_id}", json={"putaway_for": None})


# ─── 3. best-before labels, typed dates, expired goods ───────────────────────────────

def test_clerk_receives_best_before_labels_and_is_refused_expired_goods(page, login, api, live_server,
                                                                        device, tag):
    sku, gtin = device()
    login("clerk_sh")
    page.goto("/receive/")
    page.select_option("#mt-supplier", "SUP-MDT")
    page.select_option("#mt-warehouse", "SH01")

    # a label with only a best-before (and a sell-by) date: the best-before date is the expiry
    lot = f"BB{tag}"
    scan(page, "#mt-scan", gs1(gtin, lot, best_before=day(300), sell_by=day(200)))
    row = page.locator(f"#mt-lines-body tr[data-lot='{lot}']")
    row.wait_for()
    assert row.locator(".mt-expiry-date").inner_text() == day(300).isoformat()
    assert "from the best-before date" in row.inner_text()
    assert f"Sell by {day(200).isoformat()}" in row.inner_text()

    # expired: refused at the scan, with the reason, and no line is added
    scan(page, "#mt-scan", gs1(gtin, f"EX{tag}", day(-3)))
    error = page.locator("#mt-error")
    expect(error).to_contain_text("does not accept expired goods")
    assert page.locator("#mt-lines-body tr").count() == 1

    # a product whose best-before date is not its expiry: the clerk types the expiry
    other_gtin = gtin14("069012345681")  # GLV-0004
    admin = api("admin")
    gid = admin.get("/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:GLV-0004)))").json["ids"][0]
    assert admin.put(f"/api/v1/product/{gid}", json={"best_before_is_expiry": False}).status_code == 200
    try:
        typed = f"TY{tag}"
        scan(page, "#mt-scan", gs1(other_gtin, typed, best_before=day(250)))
        typed_row = page.locator(f"#mt-lines-body tr[data-lot='{typed}']")
        typed_row.wait_for()
        assert f"Best before {day(250).isoformat()}" in typed_row.inner_text()
        page.click("#mt-post")
        expect(error).to_contain_text("Line 2: type the expiry date printed on the label")
        assert balances(live_server, lot) == []
        typed_row.locator(".mt-expiry-input").fill(day(240).isoformat())
        page.screenshot(path="/tmp/medtrace-receive-best-before.png", full_page=True)
        page.click("#mt-post")
        success = page.locator("#mt-success")
        success.wait_for(state="visible")
        receipt = success.get_attribute("data-receipt")
        assert receipt.startswith("RC-")
        assert page.get_attribute("#mt-putaway-link", "href") == "/putaway/?warehouse=SH01"
    finally:
        admin.put(f"/api/v1/product/{gid}", json={"best_before_is_expiry": True})
    assert balances(live_server, lot) == [("SH01-RCV", "available", "1")]
    expiry = dict(db_rows(live_server, lambda m: sa.select(m["Lot"].lot_number, m["Lot"].expiry_date)
                          .where(m["Lot"].lot_number.in_([lot, typed]))))
    assert expiry == {lot: day(300), typed: day(240)}
    assert not db_rows(live_server, lambda m: sa.select(m["Lot"].id).where(m["Lot"].lot_number == f"EX{tag}"))

    # the receipt's page, linked from the message
    page.click("#mt-receipt-link")
    page.wait_for_url(f"**/receipts/{receipt}/")
    assert lot in page.inner_text("#mt-receipt-lines") and page.locator("#mt-reverse").count() == 0


def test_receive_page_in_chinese_refuses_expired_goods(page, login, device, tag):
    sku, gtin = device()
    login("clerk_sh")
    page.goto("/lang/zh")
    page.goto("/receive/")
    page.select_option("#mt-supplier", "SUP-MDT")
    page.select_option("#mt-warehouse", "SH01")
    scan(page, "#mt-scan", gs1(gtin, f"EZ{tag}", day(-1)))
    error = page.locator("#mt-error")
    expect(error).to_contain_text("扫码被拒绝")
    expect(error).to_contain_text("不接收过期货物")
    assert page.locator("#mt-lines-body tr").count() == 0
    page.goto("/lang/en")


# ─── 5. receiving a transfer by scan ─────────────────────────────────────────────────

def test_clerk_receives_a_transfer_by_scan(page, login, api, live_server, device, tag):
    with live_server.app_context():
        create_user(live_server, "clerk_hz", ["warehouse_clerk"], warehouses=["HZ01"])
    sku, gtin = device()
    lot = f"RT{tag}"
    receive(api, gtin, lot, 5)
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "lines": [{"product": sku, "quantity": "3"}]})
    assert r.status_code == 201, r.json
    name = r.json["name"]
    for user, action in (("clerk_sh", "submit"), ("manager_sh", "approve"), ("clerk_sh", "start_picking")):
        r = api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json={})
        assert r.status_code == 200, (action, r.json)
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/pick", json={"barcode": gs1(gtin, lot, day(400)),
                                                                    "quantity": "3"})
    assert r.status_code == 200, r.json
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/actions/ship", json={"carrier": "CAR-SF"})
    assert r.status_code == 200 and r.json["state"] == "shipped", r.json

    login("clerk_hz")
    page.goto(f"/transfers/{name}/")
    row = page.locator(f".mt-receive-line[data-lot='{lot}']")
    assert row.locator("input[name=quantity]").input_value() == "0"
    # the same unit in two encodings: one line, two units
    scan(page, "#mt-receive-scan", gs1(gtin, lot, day(400)))
    scan(page, "#mt-receive-scan", hri(gtin, lot, day(400)))
    page.wait_for_function(f"document.querySelector(\".mt-receive-line[data-lot='{lot}'] input[name=quantity]\").value === '2'")
    expect(page.locator("#mt-receive-count")).to_have_text("Counted 2 of 3 units")
    # something that is not on the truck: refused, nothing counted
    scan(page, "#mt-receive-scan", gs1(gtin, f"NO{tag}", day(400)))
    expect(page.locator("#mt-message")).to_contain_text(f"lot NO{tag} of {sku} is not on this transfer's truck")
    assert row.locator("input[name=quantity]").input_value() == "2"
    page.screenshot(path="/tmp/medtrace-receive-transfer.png", full_page=True)
    page.click("#mt-receive-form button[type=submit]")
    expect(page.locator("#transfer-detail")).to_have_attribute("data-state", "received")
    assert balances(live_server, lot) == [("HZ01-RCV", "available", "2"), ("SH01-RCV", "available", "2")]
    # the unit not counted is a shortage to resolve
    assert "Short" in page.inner_text("#detail-exceptions")
    # what arrived waits in HZ01's receiving area: one click to put it away
    page.click("#put-away")
    page.wait_for_url("**/putaway/?warehouse=HZ01")
    assert page.locator(f"#mt-items tr[data-lot='{lot}']").count() == 1


# ─── 6. shipping to a hospital ───────────────────────────────────────────────────────

def test_clerk_ships_to_a_hospital(page, login, api, live_server, device, tag):
    sku, gtin = device()
    early, late = f"SE{tag}", f"SL{tag}"
    receive(api, gtin, early, 2, 200)
    receive(api, gtin, late, 5, 600)
    login("clerk_sh")
    page.goto("/shipments/new/")
    page.select_option("#mt-customer", "HOS-RJ")
    page.fill("#mt-reference", f"PO-{tag}")
    page.fill("#mt-search", sku)
    found = page.locator(f"#mt-results-body tr[data-sku='{sku}']")
    found.wait_for()
    assert found.locator(".mt-available").inner_text() == "7"
    found.locator(".mt-add").click()
    qty = page.locator(f"#mt-lines-body tr[data-sku='{sku}'] .mt-qty")
    # more than there is: the server's refusal, nothing shipped
    qty.fill("9")
    expect(page.locator(f"#mt-lines-body tr[data-sku='{sku}'] .mt-short")).to_have_text("only 7 available")
    page.click("#mt-post")
    expect(page.locator("#mt-message")).to_contain_text("shipment not posted")
    assert balances(live_server, early) == [("SH01-RCV", "available", "2")]
    qty.fill("3")
    page.click("#mt-post")
    page.wait_for_url(re.compile(r"/shipments/SH-[\d-]+/$"))
    expect(page.locator("#mt-message")).to_contain_text("posted to HOS-RJ")
    picks = page.locator("#mt-pick-list tbody tr").all_inner_texts()
    # first expiry first out: both of the early lot, then one of the late one
    assert [early in picks[0], late in picks[1]] == [True, True] and len(picks) == 2
    page.screenshot(path="/tmp/medtrace-shipment.png", full_page=True)
    assert balances(live_server, early) == []
    assert balances(live_server, late) == [("SH01-RCV", "available", "4")]


# ─── 7. reversing a wrong receipt ────────────────────────────────────────────────────

def test_manager_reverses_a_wrong_receipt(page, login, api, live_server, device, tag):
    sku, gtin = device()
    wrong, moved = f"WR{tag}", f"MV{tag}"
    name = receive(api, gtin, wrong, 4, user="clerk_sh")
    other = receive(api, gtin, moved, 4, user="clerk_sh")
    r = api("clerk_sh").post("/api/v1/moves/", json={"warehouse": "SH01", "lines": [{
        "product": sku, "lot": moved, "from_location": "SH01-RCV", "to_location": "SH01-A-01-02",
        "quantity": "1"}]})
    assert r.status_code == 201

    # a clerk sees the receipt, but no reversal
    login("clerk_sh")
    page.goto(f"/receipts/{name}/")
    assert page.locator("#mt-reverse").count() == 0
    page.context.clear_cookies()

    login("manager_sh")
    page.goto("/receipts/")
    page.fill("#mt-find", name)
    page.press("#mt-find", "Enter")
    page.click(f"#mt-receipt-list a:text('{name}')")
    page.wait_for_url(f"**/receipts/{name}/")
    page.once("dialog", lambda d: d.accept())
    page.click("#mt-reverse")
    expect(page.locator("#mt-status")).to_have_text("Reversed")
    expect(page.locator("#mt-message")).to_contain_text(name)
    assert balances(live_server, wrong) == []

    # one whose units were put away since: refused with the reason, nothing changes
    page.goto(f"/receipts/{other}/")
    page.once("dialog", lambda d: d.accept())
    page.click("#mt-reverse")
    expect(page.locator("#mt-message")).to_contain_text("move them back first")
    assert balances(live_server, moved) == [("SH01-A-01-02", "available", "1"), ("SH01-RCV", "available", "3")]
    assert page.locator("#mt-status").inner_text() == "Posted"
    page.screenshot(path="/tmp/medtrace-receipt-reverse.png", full_page=True)


def test_shipping_and_put_away_refuse_in_chinese(page, login, api, live_server, device, tag):
    sku, gtin = device()
    lot = f"ZH{tag}"
    receive(api, gtin, lot, 2)
    login("clerk_sh")
    page.goto("/lang/zh")
    page.goto("/shipments/new/")
    page.click("#mt-post")
    expect(page.locator("#mt-message")).to_contain_text("请选择医院或客户")
    page.select_option("#mt-customer", "HOS-RJ")
    page.fill("#mt-search", sku)
    page.locator(f"#mt-results-body tr[data-sku='{sku}'] .mt-add").click()
    page.locator(f"#mt-lines-body tr[data-sku='{sku}'] .mt-qty").fill("5")
    expect(page.locator(f"#mt-lines-body tr[data-sku='{sku}'] .mt-short")).to_have_text("仅可用 2")
    page.click("#mt-post")
    expect(page.locator("#mt-message")).to_contain_text("出库单未过账")
    assert balances(live_server, lot) == [("SH01-RCV", "available", "2")]

    page.goto("/putaway/")
    page.click("#mt-post")
    expect(page.locator("#mt-message")).to_contain_text("请先扫描或选择要上架的货物")
    page.locator(f"#mt-items tr[data-lot='{lot}'] .mt-pick").click()
    scan(page, "#mt-bin", "NOPE-1")
    expect(page.locator("#mt-message")).to_contain_text("NOPE-1 不是仓库 SH01 的货位")
    assert balances(live_server, lot) == [("SH01-RCV", "available", "2")]
    page.goto("/lang/en")
