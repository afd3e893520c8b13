"""The transfer board and the transfer detail page, rendered for real users on
SQLite and PostgreSQL: pending approvals, warehouse scope, the overdue badge on
a late shipment, Chinese labels, and 404 outside the user's scope."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from support import create_user


@pytest.fixture
def people(app):
    with app.app_context():
        create_user(app, "clerk_sh2", ["warehouse_clerk"], warehouses=["SH01"])
        create_user(app, "clerk_bj", ["warehouse_clerk"], warehouses=["BJ01"])
        create_user(app, "clerk_hz", ["warehouse_clerk"], warehouses=["HZ01"])
    return app


def day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


def act(api, user, name, action, **body):
    r = api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json=body)
    assert r.status_code == 200, (action, r.json)
    return r.json


def new_transfer(api, to="HZ01", lines=None, user="clerk_sh2", **extra) -> str:
    r = api(user).post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": to,
        "lines": lines or [{"product": "GLV-0004", "quantity": "1"}], **extra})
    assert r.status_code == 201, r.json
    return r.json["name"]


def page(client, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.data[:300])
    return r.get_data(as_text=True)


def card(html: str, name: str) -> str:
    """The first card of transfer ``name`` on the page ('' when it is not there)."""
    m = re.search(r'<article[^>]*data-card="%s".*?</article>' % re.escape(name), html, re.S)
    return m.group(0) if m else ""


def pending_section(html: str) -> str:
    return html.split('id="pending-approval"', 1)[1].split("</section>", 1)[0]


def column(html: str, state: str) -> str:
    return html.split(f'data-column="{state}"', 1)[1].split("</section>", 1)[0]


def test_board_lists_pending_approvals(api, web, people, unique):
    name = new_transfer(api, priority="urgent", requested_date=day(3), reason=f"board {unique}")
    act(api, "clerk_sh2", name, "submit")

    html = page(web("manager_sh"), "/transfers/board/")
    assert "Transfer board" in html and "Pending my approval" in html
    pending = pending_section(html)
    assert f'data-card="{name}"' in pending
    mine = card(pending, name)
    assert 'data-action="approve"' in mine and 'data-action="reject"' in mine
    assert re.search(r'data-action="reject"[^>]*data-comment="1"', mine)  # a reason is asked for
    assert "SH01" in mine and "HZ01" in mine and "Urgent" in mine and day(3) in mine
    # and in its state's column, under the workflow's label
    assert f'data-card="{name}"' in column(html, "submitted")
    assert "Submitted" in html
    # the requester sees it on the board, but not as waiting for their approval
    html = page(web("clerk_sh2"), "/transfers/board/")
    assert f'data-card="{name}"' in column(html, "submitted")
    assert f'data-card="{name}"' not in pending_section(html)
    assert 'data-action="approve"' not in card(html, name)
    assert 'data-action="cancel"' in card(html, name)


def test_board_and_detail_respect_warehouse_scope(api, web, people, unique):
    hidden = new_transfer(api, to="HZ01", reason=f"scope {unique}")
    inbound = new_transfer(api, to="BJ01", reason=f"scope {unique}")
    clerk_bj = web("clerk_bj")
    html = page(clerk_bj, "/transfers/board/")
    assert hidden not in html
    assert f'data-card="{inbound}"' in html  # the destination warehouse sees what comes its way
    assert clerk_bj.get(f"/transfers/{hidden}/").status_code == 404
    assert clerk_bj.get("/transfers/TR-000000-00000/").status_code == 404
    html = page(clerk_bj, f"/transfers/{inbound}/")
    assert inbound in html and "GLV-0004" in html
    # the source side sees both
    html = page(web("manager_sh"), "/transfers/board/")
    assert f'data-card="{hidden}"' in html and f'data-card="{inbound}"' in html


def test_overdue_shipment_is_flagged(api, web, people, unique):
    lot = f"OV{unique}"
    r = api("admin").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"product": "GLV-0004", "lot_number": lot, "expiry_date": day(900), "quantity": "5"}]})
    assert r.status_code == 201, r.json
    late = new_transfer(api, lines=[{"product": "GLV-0004", "lot": lot, "quantity": "2"}])
    on_time = new_transfer(api, lines=[{"product": "GLV-0004", "lot": lot, "quantity": "3"}])
    for name, eta in ((late, day(-2)), (on_time, day(2))):
        act(api, "clerk_sh2", name, "submit")
        assert act(api, "manager_sh", name, "approve")["state"] == "approved"
        act(api, "clerk_sh2", name, "start_picking")
        qty = "2" if name == late else "3"
        r = api("clerk_sh2").post(f"/api/v1/transfers/{name}/pick",
                                  json={"product": "GLV-0004", "lot": lot, "quantity": qty})
        assert r.status_code == 200, r.json
        shipped = act(api, "clerk_sh2", name, "ship", carrier="CAR-SF", vehicle="沪B00001",
                      tracking_no=f"SF{unique}", expected_arrival=eta)
        assert shipped["state"] == "shipped"

    html = page(web("manager_sh"), "/transfers/board/")
    late_card, on_time_card = card(column(html, "shipped"), late), card(column(html, "shipped"), on_time)
    assert late_card and on_time_card
    assert 'data-overdue="1"' in late_card and 'data-badge="overdue"' in late_card
    assert "Overdue 2 d" in late_card and day(-2) in late_card
    assert 'data-overdue="0"' in on_time_card and 'data-badge="overdue"' not in on_time_card

    # the detail page: badge, transport details, pick list, history
    html = page(web("manager_sh"), f"/transfers/{late}/")
    assert 'data-badge="overdue"' in html
    for needle in ("Shipped (in transit)", "CAR-SF", f"SF{unique}", lot, "Pick list",
                   "History and signatures", f"/api/v1/transfers/{late}/note.pdf"):
        assert needle in html, needle
    assert 'id="mt-receive-form"' not in html  # SH01's manager does not receive at HZ01
    # the destination's clerk gets the receive form, prefilled with what is in transit
    html = page(web("clerk_hz"), f"/transfers/{late}/")
    assert 'id="mt-receive-form"' in html and f'data-lot="{lot}"' in html


def test_chinese_labels(api, web, people, unique):
    name = new_transfer(api, reason=f"zh {unique}")
    act(api, "clerk_sh2", name, "submit")
    client = web("manager_sh")
    client.get("/lang/zh")
    html = page(client, "/transfers/board/")
    for needle in ("调拨看板", "待我审批", "已提交", "已发运（在途）", "批准", "驳回"):
        assert needle in html, needle
    assert "Pending my approval" not in html
    html = page(client, f"/transfers/{name}/")
    for needle in ("审批记录与电子签名", "调出仓库", "明细", "拣货单"):
        assert needle in html, needle
    client.get("/lang/en")
    assert "Pending my approval" in page(client, "/transfers/board/")


def test_pages_need_a_login(client):
    r = client.get("/transfers/board/")
    assert r.status_code in (302, 401) and "login" in r.headers.get("Location", "login")
