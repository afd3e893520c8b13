"""Scan-to-receive in headless Chromium: a clerk scans GS1 codes into the
focused scan field, sees the lines, gets a clear message for a bad scan and a
repeated serial, posts the receipt and finds the stock."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app.demo import gtin14

pytestmark = pytest.mark.browser

CATHETER = gtin14("069012345678")   # CAT-0001, lot-tracked
PACEMAKER = gtin14("069012345682")  # PMK-0005, serial-tracked


def expiry_text(days=730) -> str:
    return f"{dt.date.today() + dt.timedelta(days=days):%y%m%d}"


def scan_field_has_focus(page) -> bool:
    """The scan field has the focus (document.activeElement), waiting briefly for it."""
    try:
        page.wait_for_function("document.activeElement && document.activeElement.id === 'mt-scan'",
                               timeout=3000)
    except PlaywrightTimeout:
        return False
    return True


def scan(page, code):
    """Type a code into whatever has the focus, as a keyboard-wedge scanner does."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_scan_to_receive(page, login, live_server):
    tag = uuid.uuid4().hex[:8].upper()
    lot, serial = f"BR{tag}", f"SN{tag}"
    login("clerk_sh")
    page.goto("/receive/")
    assert page.locator("#mt-warehouse option[value]:not([value=''])").all_inner_texts() == [
        "SH01 · Shanghai Central DC 上海中心仓"]
    page.select_option("#mt-supplier", "SUP-MDT")
    page.select_option("#mt-warehouse", "SH01")
    assert page.locator("#mt-bin option[value='SH01-A-01-01']").count() == 1
    page.fill("#mt-reference", f"DN-{tag}")
    page.click("h2")  # a click elsewhere gives the focus back to the scan field
    assert scan_field_has_focus(page)

    # a good GS1 scan: typed into the focused field, Enter submits it
    scan(page, f"01{CATHETER}17{expiry_text()}10{lot}")
    row = page.locator(f"#mt-lines-body tr[data-lot='{lot}']")
    row.wait_for()
    assert row.locator(".mt-sku").inner_text() == "CAT-0001"
    assert row.locator(".mt-lot").inner_text() == lot
    assert CATHETER in row.inner_text()
    assert page.input_value("#mt-scan") == ""
    assert scan_field_has_focus(page)

    # the same code again is one more unit on that line
    scan(page, f"01{CATHETER}17{expiry_text()}10{lot}")
    page.wait_for_function("document.querySelector(\"#mt-lines-body tr input\").value === '2'")
    assert page.locator("#mt-lines-body tr").count() == 1

    # a serial-tracked device, then the same serial again: refused on the page
    scan(page, f"01{PACEMAKER}21{serial}")
    page.locator(f"#mt-lines-body tr[data-serial='{serial}']").wait_for()
    scan(page, f"01{PACEMAKER}21{serial}")
    error = page.locator("#mt-error")
    error.wait_for(state="visible")
    assert serial in error.inner_text() and "already on this receipt" in error.inner_text()
    assert page.locator("#mt-lines-body tr").count() == 2

    # a bad barcode: the server's message in the error box, field cleared and focused
    scan(page, "0107032069804987")
    page.wait_for_function("document.getElementById('mt-error').textContent.indexOf('check digit') >= 0")
    assert error.get_attribute("role") == "alert"
    assert "Scan refused" in error.inner_text()
    assert page.input_value("#mt-scan") == "" and scan_field_has_focus(page)
    assert page.locator("#mt-lines-body tr").count() == 2

    # edit a quantity, then Enter returns to the scan field
    qty = page.locator(f"#mt-lines-body tr[data-lot='{lot}'] input")
    qty.fill("12")
    qty.press("Enter")
    assert scan_field_has_focus(page)
    page.screenshot(path="/tmp/medtrace-receive.png", full_page=True)

    # post
    page.click("#mt-post")
    success = page.locator("#mt-success")
    success.wait_for(state="visible")
    receipt = success.get_attribute("data-receipt")
    assert receipt.startswith("RC-") and receipt in success.inner_text()
    assert "SH01-RCV" in success.inner_text()
    assert page.locator("#mt-lines-body tr").count() == 0
    assert error.is_hidden()
    assert scan_field_has_focus(page)
    page.screenshot(path="/tmp/medtrace-receive-posted.png", full_page=True)

    # the stock is there: through the API with the page's session ...
    r = page.request.get(f"/api/v1/stock/?lot={lot}")
    assert r.status == 200
    rows = r.json()["result"]
    assert [(x["sku"], x["location"], x["quantity"], x["status"]) for x in rows] == [
        ("CAT-0001", "SH01-RCV", "12", "available")]
    # ... and in the database, with the delivery note on the receipt
    from app import db
    with live_server.app_context():
        Receipt = live_server.extensions["medtrace"].models["Receipt"]
        doc = db.session.execute(sa.select(Receipt).where(Receipt.name == receipt)).scalar_one()
        assert doc.reference == f"DN-{tag}" and doc.warehouse.code == "SH01"
        assert sorted((l.product.sku, str(l.quantity.normalize())) for l in doc.lines) == [
            ("CAT-0001", "12"), ("PMK-0005", "1")]
        db.session.remove()

    # the stock page links to the lot page, which shows the receipt
    page.goto(f"/stock/?lot={lot}")
    page.screenshot(path="/tmp/medtrace-stock.png", full_page=True)
    page.click(f"#mt-stock-table a:text('{lot}')")
    page.wait_for_url("**/stock/lot/**")
    assert receipt in page.locator("#mt-lot-moves").inner_text()
    page.screenshot(path="/tmp/medtrace-lot.png", full_page=True)


def test_post_error_keeps_lines_and_chinese(page, login, live_server):
    tag = uuid.uuid4().hex[:8].upper()
    login("clerk_sh")
    page.goto("/lang/zh")
    page.goto("/receive/")
    assert "扫码收货" in page.inner_text("#mt-receive")
    page.select_option("#mt-supplier", "SUP-MDT")
    page.select_option("#mt-warehouse", "SH01")
    assert scan_field_has_focus(page)
    # an expiry that contradicts the lot on record is refused at the scan, in Chinese
    lot = f"BZ{tag}"
    r = page.request.post("/api/v1/receipts/", data={
        "supplier": "SUP-MDT", "warehouse": "SH01",
        "lines": [{"barcode": f"01{CATHETER}17{expiry_text(700)}10{lot}"}]})
    assert r.status == 201, r.text()
    scan(page, f"01{CATHETER}17{expiry_text(900)}10{lot}")
    error = page.locator("#mt-error")
    error.wait_for(state="visible")
    assert "扫码被拒绝" in error.inner_text() and "档案失效日期" in error.inner_text()
    assert page.locator("#mt-lines-body tr").count() == 0
    # a serial already in stock is refused at posting: the lines stay, the message is Chinese
    serial = f"SZ{tag}"
    r = page.request.post("/api/v1/receipts/", data={
        "supplier": "SUP-MDT", "warehouse": "SH01", "lines": [{"barcode": f"01{PACEMAKER}21{serial}"}]})
    assert r.status == 201, r.text()
    scan(page, f"01{CATHETER}17{expiry_text(700)}10{lot}")
    scan(page, f"01{PACEMAKER}21{serial}")
    page.locator(f"#mt-lines-body tr[data-serial='{serial}']").wait_for()
    page.click("#mt-post")
    page.wait_for_function("document.getElementById('mt-error').textContent.indexOf('已在库') >= 0")
    assert "入库单未过账" in error.inner_text() and "第 2 行" in error.inner_text()
    assert page.locator("#mt-lines-body tr").count() == 2
    assert page.locator("#mt-success").is_hidden()
    page.screenshot(path="/tmp/medtrace-receive-zh.png", full_page=True)
