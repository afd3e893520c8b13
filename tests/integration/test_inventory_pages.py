"""The purpose-built inventory pages through a logged-in browser session (the
test client): scan-to-receive, stock on hand and a lot's page, on SQLite and
PostgreSQL. Warehouse scope must hold on every page."""
from __future__ import annotations

import datetime as dt
import json
import re

from app.demo import gtin14

CATHETER = gtin14("069012345678")   # CAT-0001, lot-tracked


def gs1(gtin, lot, expiry):
    return f"01{gtin}17{expiry:%y%m%d}10{lot}"


def future(days=700):
    return dt.date.today() + dt.timedelta(days=days)


def receive(api, lot, warehouse, quantity="4", **extra):
    r = api("admin").post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": warehouse,
        "lines": [{"barcode": gs1(CATHETER, lot, future()), "quantity": quantity}], **extra})
    assert r.status_code == 201, r.json
    return r.json


def lot_id(app, lot_number):
    import sqlalchemy as sa
    from app import db
    with app.app_context():
        Lot = app.extensions["medtrace"].models["Lot"]
        return db.session.execute(sa.select(Lot.id).where(Lot.lot_number == lot_number)).scalar_one()


def html(response) -> str:
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def select_options(page: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}".*?</select>', page, re.S)
    assert block, f"no select #{select_id}"
    return [v for v in re.findall(r'<option value="([^"]*)"', block.group(0)) if v]


def test_receive_page_offers_only_the_users_warehouses(web):
    page = html(web("clerk_sh").get("/receive/"))
    assert select_options(page, "mt-warehouse") == ["SH01"]
    suppliers = select_options(page, "mt-supplier")
    assert "SUP-MDT" in suppliers and "SUP-HRT" in suppliers
    assert not any(code.startswith(("HOS-", "CAR-")) for code in suppliers)
    # bins come with the page, per warehouse, and only for SH01
    bins = json.loads(re.search(r'id="mt-receive-bins">(.*?)</script>', page, re.S).group(1))
    assert list(bins) == ["SH01"]
    assert bins["SH01"][0] == {"code": "SH01-RCV", "name": "Receiving 收货区", "kind": "receiving"}
    assert {b["code"] for b in bins["SH01"]} >= {"SH01-A-01-01", "SH01-B-01-03"}
    assert 'id="mt-scan"' in page and "autofocus" in page
    assert "medtrace/receive.js" in page
    assert "Scan to receive" in page and "Post receipt" in page
    assert "BJ01" not in page


def test_receive_page_for_admin_offers_every_warehouse(web):
    page = html(web("admin").get("/receive/"))
    assert {"SH01", "BJ01", "GZ01"} <= set(select_options(page, "mt-warehouse"))


def test_receive_script_is_served(client):
    r = client.get("/static/medtrace/receive.js")
    assert r.status_code == 200 and b"/api/v1/receipts/scan" in r.data
    r.close()


def test_receive_page_needs_receipt_create_permission(web):
    c = web("auditor")  # reads everything, creates nothing
    assert c.get("/receive/").status_code == 403  # FAB refuses a signed-in user outright
    # the stock pages only need Lot read, which the auditor has
    assert c.get("/stock/").status_code == 200


def test_pages_need_login(client):
    for url in ("/receive/", "/stock/"):
        r = client.get(url)
        assert r.status_code == 302 and "login" in r.headers["Location"]


def test_stock_page_shows_only_the_users_warehouses(web, api, unique):
    sh_lot, bj_lot = f"PS{unique}", f"PB{unique}"
    receive(api, sh_lot, "SH01", quantity="7")
    receive(api, bj_lot, "BJ01", quantity="3")
    clerk = web("clerk_sh")

    page = html(clerk.get("/stock/?product=CAT-0001"))
    assert sh_lot in page and bj_lot not in page
    assert "BJ01" not in page
    assert select_options(page, "f-warehouse") == ["SH01"]
    row = re.search(rf'<tr[^>]*data-lot="{sh_lot}"[^>]*>.*?</tr>', page, re.S).group(0)
    assert 'data-warehouse="SH01"' in row and "SH01-RCV" in row and ">7<" in row

    # filtering by lot number works, and asking for another warehouse shows nothing of it
    page = html(clerk.get(f"/stock/?lot={bj_lot}"))
    assert bj_lot not in page.split('id="mt-stock-filter"')[1].split("</form>")[1]
    assert 'id="mt-stock-empty"' in page
    page = html(clerk.get(f"/stock/?warehouse=BJ01&lot={bj_lot}"))
    assert 'id="mt-stock-error"' in page and 'data-lot="' not in page

    # admin sees both
    page = html(web("admin").get("/stock/?product=CAT-0001"))
    assert sh_lot in page and bj_lot in page


def test_stock_page_filters_by_warehouse_and_status(web, api, unique):
    ok_lot, qc_lot = f"PO{unique}", f"PQ{unique}"
    receive(api, ok_lot, "SH01")
    receive(api, qc_lot, "SH01", inspection=True)
    admin = web("admin")
    page = html(admin.get("/stock/?warehouse=SH01&status=quarantine&product=CAT-0001"))
    assert qc_lot in page and ok_lot not in page
    assert "Quarantine" in page
    page = html(admin.get(f"/stock/?warehouse=BJ01&lot={ok_lot}"))
    assert ok_lot not in page.split("</form>")[-1]


def test_lot_page_shows_where_it_is_and_its_moves(web, api, app, unique):
    lot = f"PL{unique}"
    doc = receive(api, lot, "SH01", quantity="5")
    lid = lot_id(app, lot)
    page = html(web("clerk_sh").get(f"/stock/lot/{lid}"))
    assert f"Lot {lot}" in page and "CAT-0001" in page and future().isoformat() in page
    assert 'id="mt-lot-balances"' in page and 'id="mt-lot-moves"' in page
    move = re.search(rf'<tr data-document="{doc["name"]}">.*?</tr>', page, re.S).group(0)
    assert "SUPPLIER" in move and "SH01-RCV" in move and ">5<" in move and "Receipt" in move
    assert web("clerk_sh").get(f"/stock/lot/{lid}/").status_code == 200


def test_lot_page_of_another_warehouse_shows_no_foreign_data(web, api, app, unique):
    lot = f"PX{unique}"
    doc = receive(api, lot, "BJ01", quantity="2")
    page = html(web("clerk_sh").get(f"/stock/lot/{lot_id(app, lot)}"))
    assert lot in page  # the lot itself is master data
    assert 'id="mt-lot-balances-empty"' in page and 'id="mt-lot-moves-empty"' in page
    assert "BJ01" not in page and doc["name"] not in page
    assert 'id="mt-lot-total">0<' in page
    # the warehouse that holds it sees it
    page = html(web("manager_bj").get(f"/stock/lot/{lot_id(app, lot)}"))
    assert doc["name"] in page and "BJ01-RCV" in page


def test_unknown_lot_is_404(web):
    assert web("clerk_sh").get("/stock/lot/99999999").status_code == 404


def test_pages_in_chinese(web, api, app, unique):
    lot = f"PZ{unique}"
    receive(api, lot, "SH01")
    c = web("clerk_sh")
    c.get("/lang/zh")
    page = html(c.get("/receive/"))
    assert "扫码收货" in page and "供应商" in page and "过账入库" in page and "送货单号" in page
    text = json.loads(re.search(r'id="mt-receive-text">(.*?)</script>', page, re.S).group(1))
    assert text["scan_refused"] == "扫码被拒绝"
    page = html(c.get("/stock/"))
    assert "库存查询" in page and "批号" in page and "有效期至" in page and "可用" in page
    page = html(c.get(f"/stock/lot/{lot_id(app, lot)}"))
    assert f"批次 {lot}" in page and "出入库记录" in page and "入库单" in page
    c.get("/lang/en")
    assert "Stock on hand" in html(c.get("/stock/"))


def test_menu_entries_under_inventory(web):
    page = html(web("clerk_sh").get("/stock/"))
    assert 'href="/receive/"' in page and 'href="/stock/"' in page
    assert "Scan to receive" in page and "Stock on hand" in page
    # the auditor may read stock but not receive: no menu entry it cannot open
    page = html(web("auditor").get("/stock/"))
    assert 'href="/stock/"' in page and 'href="/receive/"' not in page


def test_stock_in_transit_is_labelled_for_both_ends_only(web, api, app, unique):
    """A shipped transfer SH01 → HZ01: its stock is on the truck, shown as in
    transit to the source's and the destination's users, to nobody else."""
    admin = api("admin")
    sku = f"TRN-{unique}"
    gtin = gtin14("069" + str(int(unique, 16) % 10**9).zfill(9))
    assert admin.post("/api/v1/product/", json={
        "sku": sku, "name": "Transit test 在途测试", "udi_di": gtin, "risk_class": "II",
        "tracking": "lot", "shelf_life_days": 1000, "min_remaining_shelf_days": 30,
        "unit_price": "1.00"}).status_code == 201
    lot = f"PT{unique}"
    r = admin.post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"barcode": gs1(gtin, lot, future()), "quantity": "5"}]})
    assert r.status_code == 201, r.json
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "lines": [{"product": sku, "quantity": "3"}]})
    assert r.status_code == 201, r.json
    name = r.json["name"]

    def act(user, action, **body):
        r = api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json=body)
        assert r.status_code == 200, r.json
        return r.json

    act("clerk_sh", "submit")
    assert act("manager_sh", "approve")["state"] == "approved"
    act("clerk_sh", "start_picking")
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/pick", json={
        "barcode": gs1(gtin, lot, future()), "quantity": "3"})
    assert r.status_code == 200, r.json
    assert act("clerk_sh", "ship", carrier="CAR-SF")["state"] == "shipped"

    clerk = web("clerk_sh")
    page = html(clerk.get(f"/stock/?warehouse=SH01&product={sku}"))
    main, transit = page.split('id="mt-transit-table"')
    assert f'data-lot="{lot}"' in main and ">2<" in main.split(f'data-lot="{lot}"')[1].split("</tr>")[0]
    row = transit.split("</table>")[0]
    assert 'data-kind="transit"' in row and "In transit" in row and name in row and "SH01 → HZ01" in row
    assert ">3<" in row and "In transit to or from SH01" in page
    # every warehouse of the user at once: the truck's row is among them, labelled
    page = html(clerk.get(f"/stock/?product={sku}"))
    assert 'data-kind="transit"' in page and name in page
    # the lot page: on the truck and in the bin, and the shipment's move, linked to the transfer
    page = html(clerk.get(f"/stock/lot/{lot_id(app, lot)}"))
    assert 'id="mt-lot-total">5<' in page
    move = re.search(rf'<tr data-document="{name}">.*?</tr>', page, re.S).group(0)
    assert f'href="/transfers/{name}/"' in move and "Transfer order" in move and ">3<" in move
    # a user of neither end sees none of it
    page = html(web("manager_bj").get(f"/stock/?product={sku}"))
    assert lot not in page.split("</form>")[-1] and name not in page
