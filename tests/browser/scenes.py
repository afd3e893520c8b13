"""A day's work behind the admin, QA and tour browser tests, made through the
REST API as the people who do it: stock received at SH01; a transfer to HZ01
submitted, approved, picked, shipped and partly received with a damaged unit
(an open receiving exception); a draft and a cancelled transfer. Built once per
live app."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from support import PASSWORD, create_user

LOT = "GLVDAY1"


class Caller:
    """JSON calls into the app as one user (JWT)."""

    def __init__(self, app, username: str, tokens: dict):
        self.client = app.test_client()
        if username not in tokens:
            r = self.client.post("/api/v1/security/login", json={
                "username": username, "password": PASSWORD, "provider": "db"})
            assert r.status_code == 200, r.json
            tokens[username] = r.json["access_token"]
        self.headers = {"Authorization": f"Bearer {tokens[username]}"}

    def post(self, url, **kw):
        r = self.client.post(url, headers=self.headers, **kw)
        assert r.status_code in (200, 201), (url, r.status_code, r.json)
        return r.json

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)


def day_of_work(app) -> dict:
    if "medtrace_day" in app.extensions:
        return app.extensions["medtrace_day"]
    from app import db
    with app.app_context():
        create_user(app, "clerk_hz", ["warehouse_clerk"], warehouses=["HZ01"])
        Product = app.extensions["medtrace"].models["Product"]
        gloves = db.session.execute(sa.select(Product).where(Product.sku == "GLV-0004")).scalar_one()
        gtin = gloves.udi_di
    tokens: dict = {}

    def as_(user):
        return Caller(app, user, tokens)

    today = dt.date.today()
    as_("admin").post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": "SH01", "location": "SH01-A-01-01", "lines": [{
            "product": "GLV-0004", "lot_number": LOT,
            "expiry_date": (today + dt.timedelta(days=700)).isoformat(), "quantity": "20"}]})

    shipped = as_("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01", "priority": "urgent",
        "reason_code": "near_expiry", "reason": "rotate before expiry",
        "lines": [{"product": "GLV-0004", "lot": LOT, "quantity": "5"}]})["name"]
    as_("clerk_sh").post(f"/api/v1/transfers/{shipped}/actions/submit", json={})
    as_("manager_sh").post(f"/api/v1/transfers/{shipped}/actions/approve", json={"comment": "ok"})
    as_("clerk_sh").post(f"/api/v1/transfers/{shipped}/actions/start_picking", json={})
    as_("clerk_sh").post(f"/api/v1/transfers/{shipped}/pick", json={
        "product": "GLV-0004", "lot": LOT, "quantity": "5"})
    as_("clerk_sh").post(f"/api/v1/transfers/{shipped}/actions/ship", json={
        "carrier": "CAR-SF", "vehicle": "沪A12345", "tracking_no": "SF0001",
        "expected_arrival": (today + dt.timedelta(days=2)).isoformat()})
    received = as_("clerk_hz").post(f"/api/v1/transfers/{shipped}/receive", json={
        "complete": False, "comment": "two boxes still on the truck, one crushed",
        "lines": [{"product": "GLV-0004", "lot": LOT, "quantity": "3", "damaged": "1"}]})
    exception_id = next(e["id"] for e in received["exceptions"] if e["kind"] == "damaged")

    draft = as_("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01", "reason_code": "replenishment",
        "lines": [{"product": "SYR-0003", "quantity": "2"}]})["name"]
    cancelled = as_("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "GZ01",
        "lines": [{"product": "SYR-0003", "quantity": "1"}]})["name"]
    as_("clerk_sh").post(f"/api/v1/transfers/{cancelled}/actions/cancel", json={"comment": "not needed"})

    day = {"shipped": shipped, "draft": draft, "cancelled": cancelled, "lot": LOT,
           "exception_id": exception_id, "gtin": gtin, "as_": as_}
    app.extensions["medtrace_day"] = day
    return day


def record_id(app, entity: str, **where) -> int:
    from app import db
    with app.app_context():
        model = app.extensions["medtrace"].models[entity]
        return db.session.execute(sa.select(model.id).filter_by(**where)).scalar_one()
