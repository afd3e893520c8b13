"""The clerk's pages rendered for real users on SQLite and PostgreSQL: who may
open them (role and warehouse scope), what they offer, and the refusals they
show instead of acting."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from support import create_user, gs1
from app.demo import gtin14

CATHETER = gtin14("069012345678")


@pytest.fixture
def people(app):
    with app.app_context():
        create_user(app, "clerk_sh2", ["warehouse_clerk"], warehouses=["SH01"])
        create_user(app, "clerk_bj", ["warehouse_clerk"], warehouses=["BJ01"])
    return app


def html(client, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.data[:300])
    return r.get_data(as_text=True)


def draft(api, to="BJ01") -> dict:
    r = api("clerk_sh2").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": to, "lines": [{"product": "GLV-0004", "quantity": "2"}]})
    assert r.status_code == 201, r.json
    return r.json


def test_entry_page_offers_every_active_destination_and_the_clerks_sources(web, people):
    page = html(web("clerk_sh2"), "/transfers/new/")
    source = re.search(r'<select id="mt-from".*?</select>', page, re.S).group(0)
    destination = re.search(r'<select id="mt-to".*?</select>', page, re.S).group(0)
    assert re.findall(r'value="(\w+)"', source) == ["SH01"]
    assert set(re.findall(r'value="(\w+)"', destination)) >= {"SH01", "HZ01", "BJ01", "GZ01", "CD01"}
    assert "Replenishment" in page and "Urgent" in page
    board = html(web("clerk_sh2"), "/transfers/board/")
    assert 'id="new-transfer"' in board
    # the auditor reads transfers but may not create one: no button, no page
    assert 'id="new-transfer"' not in html(web("auditor"), "/transfers/board/")
    assert web("auditor").get("/transfers/new/").status_code in (302, 403)


def test_a_draft_is_edited_by_its_source_only(web, api, people):
    t = draft(api)
    page = html(web("clerk_sh2"), f"/transfers/{t['name']}/")
    assert 'id="edit-draft"' in page
    edit = html(web("clerk_sh2"), f"/transfers/{t['name']}/edit/")
    assert f"Edit transfer {t['name']}" in edit and '"GLV-0004"' in edit
    # the destination sees the draft but cannot edit it
    bj = web("clerk_bj")
    assert 'id="edit-draft"' not in html(bj, f"/transfers/{t['name']}/")
    r = bj.get(f"/transfers/{t['name']}/edit/")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/transfers/{t['name']}/")
    page = html(bj, f"/transfers/{t['name']}/")
    assert "only its source warehouse may change it" in page
    # once submitted, nobody edits it
    r = api("clerk_sh2").post(f"/api/v1/transfers/{t['name']}/actions/submit", json={})
    assert r.status_code == 200
    assert 'id="edit-draft"' not in html(web("clerk_sh2"), f"/transfers/{t['name']}/")
    r = web("clerk_sh2").get(f"/transfers/{t['name']}/edit/")
    assert r.status_code == 302
    # outside every scope: not found
    hz = draft(api, to="HZ01")
    assert web("manager_bj").get(f"/transfers/{hz['name']}/edit/").status_code == 404


def test_putaway_page_lists_receiving_of_the_users_warehouse(web, api, people, unique):
    lot = f"PW{unique}"
    r = api("clerk_sh2").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"barcode": gs1(CATHETER, lot, dt.date.today() + dt.timedelta(days=300)), "quantity": "2"}]})
    assert r.status_code == 201
    page = html(web("clerk_sh2"), "/putaway/")
    assert f'data-lot="{lot}"' in page and "SH01-A-01-01" in page  # a bin it may go to
    page = html(web("clerk_sh2"), "/putaway/?warehouse=BJ01")
    assert "outside your data scope" in page and f'data-lot="{lot}"' not in page
    # a role without the right to move stock does not get the page
    assert web("auditor").get("/putaway/").status_code in (302, 403)


def test_putaway_page_in_chinese(web, people):
    client = web("clerk_sh2")
    html(client, "/lang/zh", 302)
    page = html(client, "/putaway/?warehouse=BJ01")
    assert "上架" in page and "不在您的数据权限范围内" in page


def test_shipment_and_receipt_pages_respect_scope(web, api, people, unique):
    lot = f"SP{unique}"
    expiry = dt.date.today() + dt.timedelta(days=300)
    r = api("clerk_sh2").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"barcode": gs1(CATHETER, lot, expiry), "quantity": "3"}]})
    receipt = r.json["name"]
    r = api("clerk_sh2").post("/api/v1/shipments/", json={"customer": "HOS-RJ", "warehouse": "SH01",
                                                          "lines": [{"product": "CAT-0001", "lot": lot,
                                                                     "quantity": "1"}]})
    assert r.status_code == 201, r.json
    shipment = r.json["name"]
    page = html(web("clerk_sh2"), f"/shipments/{shipment}/")
    assert lot in page and "HOS-RJ" in page and "SH01-RCV" in page
    assert web("clerk_bj").get(f"/shipments/{shipment}/").status_code == 404
    assert web("clerk_bj").get(f"/receipts/{receipt}/").status_code == 404
    assert receipt not in html(web("clerk_bj"), "/receipts/")
    # the clerk finds it but may not reverse it; the manager may
    found = html(web("clerk_sh2"), f"/receipts/?q={receipt}")
    assert receipt in found
    assert 'id="mt-reverse"' not in html(web("clerk_sh2"), f"/receipts/{receipt}/")
    assert 'id="mt-reverse"' in html(web("manager_sh"), f"/receipts/{receipt}/")
    hospitals = html(web("clerk_sh2"), "/shipments/new/")
    assert "HOS-RJ" in hospitals and "SUP-MDT" not in hospitals and "CAR-SF" not in hospitals


def test_clerk_menu_lists_the_days_pages_first(web, people):
    page = html(web("clerk_sh2"), "/")
    inventory = page.split("Inventory", 1)[1].split("</ul>", 1)[0]
    links = re.findall(r'href="(/[^"]*)"', inventory)
    assert links[:5] == ["/receive/", "/stock/", "/putaway/", "/shipments/new/", "/receipts/"], links
    transfers = page.split(">Transfers<", 1)[1].split("</ul>", 1)[0] if ">Transfers<" in page else \
        page.split("Transfers", 1)[1].split("</ul>", 1)[0]
    assert "/transfers/new/" in transfers
