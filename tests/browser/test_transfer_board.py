"""The transfer board in headless Chromium: a manager approves a submitted
transfer from "Pending my approval" and sees it move to the next column; QA
signs a class III approval electronically through the password dialog."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from support import PASSWORD

pytestmark = pytest.mark.browser


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
            def post(self, url, **kw):
                return client.post(url, headers=headers, **kw)

            def get(self, url, **kw):
                return client.get(url, headers=headers, **kw)
        return Caller()
    return as_user


def submitted_transfer(api, unique, product, lot, reason) -> str:
    """Receive a lot at SH01, then a clerk creates and submits a transfer of it to HZ01."""
    expiry = (dt.date.today() + dt.timedelta(days=900)).isoformat()
    r = api("admin").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
        {"product": product, "lot_number": lot, "expiry_date": expiry, "quantity": "10"}]})
    assert r.status_code == 201, r.json
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "priority": "urgent", "reason": reason,
        "requested_date": (dt.date.today() + dt.timedelta(days=2)).isoformat(),
        "lines": [{"product": product, "lot": lot, "quantity": "2"}]})
    assert r.status_code == 201, r.json
    name = r.json["name"]
    r = api("clerk_sh").post(f"/api/v1/transfers/{name}/actions/submit", json={})
    assert r.status_code == 200 and r.json["state"] == "submitted", r.json
    return name


def state_via_api(page, name) -> str:
    r = page.request.get(f"/api/v1/transfers/{name}")  # the browser's session cookie
    assert r.ok, r.text()
    return r.json()["state"]


def test_manager_approves_from_the_board(page, login, api, unique):
    name = submitted_transfer(api, unique, "GLV-0004", f"BB{unique}", f"Browser board {unique}")
    login("manager_sh")
    page.goto("/transfers/board/")
    pending = page.locator(f'#pending-approval [data-card="{name}"]')
    pending.wait_for()
    assert page.locator(f'[data-column="submitted"] [data-card="{name}"]').count() == 1
    assert "Urgent" in pending.inner_text()
    page.screenshot(path="/tmp/medtrace-board-before.png", full_page=True)

    pending.locator('button[data-action="approve"]').click()
    moved = page.locator(f'[data-column="approved"] [data-card="{name}"]')
    moved.wait_for()
    assert page.locator(f'#pending-approval [data-card="{name}"]').count() == 0
    assert page.locator(f'[data-column="submitted"] [data-card="{name}"]').count() == 0
    # the confirmation is written by the page's script once the reloaded page has loaded
    expect(page.locator("#mt-message")).to_contain_text(re.compile(f"{name}.*Approved"))
    # the manager may start picking next, from the same card
    assert moved.locator('button[data-action="start_picking"]').count() == 1
    page.screenshot(path="/tmp/medtrace-board.png", full_page=True)
    assert state_via_api(page, name) == "approved"

    # the detail page shows the approval in the history
    moved.locator(f'a:text("{name}")').click()
    page.wait_for_url(re.compile(f"/transfers/{name}/$"))
    history = page.locator("#detail-history").inner_text()
    assert "manager_sh" in history and "Approve" in history and "clerk_sh" in history


def test_qa_signs_class_iii_approval_with_password(page, login, api, unique):
    name = submitted_transfer(api, unique, "CAT-0001", f"BQ{unique}", f"Browser QA {unique}")
    r = api("manager_sh").post(f"/api/v1/transfers/{name}/actions/approve", json={})
    assert r.status_code == 200 and r.json["state"] == "qa_review", r.json

    login("qa_user")
    page.goto("/transfers/board/")
    card = page.locator(f'#pending-approval [data-card="{name}"]')
    card.wait_for()
    card.locator('button[data-action="approve"]').click()
    dialog = page.locator("#mt-dialog")
    dialog.wait_for()
    assert dialog.locator("#mt-meaning").inner_text() == "approval"
    # no password: refused in the page; a wrong one: the server's message, nothing changes
    page.click("#mt-dialog-submit")
    assert "password" in dialog.locator("#mt-dialog-error").inner_text()
    page.fill("#mt-password", "not-my-password")
    page.fill("#mt-comment", "QA checked the lot certificate")
    page.click("#mt-dialog-submit")
    page.wait_for_function("document.querySelector('#mt-dialog-error').textContent.includes('403')")
    assert "password is not correct" in dialog.locator("#mt-dialog-error").inner_text()
    page.screenshot(path="/tmp/medtrace-board-signature.png", full_page=True)
    assert state_via_api(page, name) == "qa_review"

    page.fill("#mt-password", PASSWORD)
    page.click("#mt-dialog-submit")
    page.locator(f'[data-column="approved"] [data-card="{name}"]').wait_for()
    assert state_via_api(page, name) == "approved"

    page.goto(f"/transfers/{name}/")
    history = page.locator("#detail-history").inner_text()
    assert "qa_user" in history and "approval" in history and "QA checked the lot certificate" in history
    page.screenshot(path="/tmp/medtrace-transfer-detail.png", full_page=True)

    # the same page in Chinese
    page.goto("/lang/zh")
    page.goto(f"/transfers/{name}/")
    body = page.inner_text("body")
    assert "审批记录与电子签名" in body and "签署" in body and "已批准" in body
    page.goto("/transfers/board/")
    assert "待我审批" in page.inner_text("body")
    page.screenshot(path="/tmp/medtrace-board-zh.png", full_page=True)
    page.goto("/lang/en")
