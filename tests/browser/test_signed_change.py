"""QA puts a lot on hold on screen with a reason and an electronic signature;
a warehouse manager opens the same page and is offered no change."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from support import PASSWORD

pytestmark = pytest.mark.browser


def lot_id(app, number):
    import sqlalchemy as sa

    from app import db
    with app.app_context():
        Lot = app.extensions["medtrace"].models["Lot"]
        found = db.session.execute(sa.select(Lot.id).where(Lot.lot_number == number)).scalar_one()
        db.session.remove()
        return found


def test_qa_puts_a_lot_on_hold_with_a_signature(page, login, live_server):
    client = live_server.test_client()
    token = client.post("/api/v1/security/login", json={
        "username": "admin", "password": PASSWORD, "provider": "db"}).json["access_token"]
    r = client.post("/api/v1/receipts/", headers={"Authorization": f"Bearer {token}"}, json={
        "supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
            {"product": "GLV-0004", "lot_number": "HOLD-BR-1", "expiry_date": "2029-01-31", "quantity": "5"}]})
    assert r.status_code == 201, r.json
    lot = lot_id(live_server, "HOLD-BR-1")

    login("manager_sh")
    page.goto(f"/records/lot/signed-change/{lot}/")
    expect(page.locator("#signed-change")).to_contain_text("Your roles may not change these fields")
    assert page.locator("#mt-signed-submit").count() == 0

    page.context.clear_cookies()
    login("qa_user")
    page.goto(f"/records/lot/signed-change/{lot}/")
    page.select_option("select[name=status]", "on_hold")
    page.fill("#mt-reason", "customer complaint, lot under investigation")
    page.click("#mt-signed-submit")
    expect(page.locator("#mt-message")).to_contain_text("password")   # asked to sign first
    page.fill("#mt-password", "wrong-password-123")
    page.click("#mt-signed-submit")
    expect(page.locator("#mt-message")).to_contain_text("signature refused")
    page.select_option("select[name=status]", "on_hold")
    page.fill("#mt-password", PASSWORD)
    page.click("#mt-signed-submit")
    expect(page.locator("#mt-message")).to_contain_text("Saved and signed")
    row = page.locator("#signed-history tbody tr").first
    expect(row).to_contain_text("qa_user")
    expect(row).to_contain_text("customer complaint")
    expect(page.locator("tr[data-field=status] .mt-current")).to_have_text("On hold")
