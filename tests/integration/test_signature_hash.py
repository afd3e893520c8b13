"""The content hash an electronic signature records (app/records/signatures.py):
stable across a database round trip and line order, changed by any edit of
what a person entered, blind to workflow-driven fields."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.records.signatures import canonical_value, content_hash


def _transfer(api, unique):
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01", "reason": f"hash {unique}",
        "lines": [{"product": "GLV-0004", "quantity": "3.20"},
                  {"product": "CAT-0001", "quantity": "1"}]})
    assert r.status_code == 201, r.json
    return r.json["name"]


def _load(app, name):
    from app import db
    rt = app.extensions["medtrace"]
    T = rt.models["TransferOrder"]
    obj = db.session.execute(sa.select(T).where(T.name == name)).scalar_one()
    return obj, rt.meta.entities["TransferOrder"]


def test_canonical_values_survive_a_round_trip():
    assert canonical_value(Decimal("3.20")) == canonical_value(Decimal("3.2000")) == "3.2"
    assert canonical_value(Decimal("50.0000")) == canonical_value(50) == "50"
    assert canonical_value(Decimal("0E-4")) == "0"


def test_hash_is_stable_and_detects_a_later_change(app, api, unique):
    from app import db
    name = _transfer(api, unique)
    with app.app_context():
        obj, entity = _load(app, name)
        signed = content_hash(obj, entity)
        assert len(signed) == 64 and int(signed, 16) >= 0
        # the same record read again (fresh session): the same hash
        db.session.expire_all()
        assert content_hash(*_load(app, name)) == signed
        # fields the workflow sets (state, computed totals, reserved) do not count
        obj.state = "approved"
        obj.total_value = Decimal("999")
        obj.lines[0].reserved_qty = Decimal("3.2")
        assert content_hash(obj, entity) == signed
        # line order does not count
        obj.lines.reverse()
        assert content_hash(obj, entity) == signed
        db.session.rollback()
    # what a person entered does: the header, and any line
    for change in ({"reason": "changed"}, {"priority": "urgent"}):
        with app.app_context():
            obj, entity = _load(app, name)
            for k, v in change.items():
                setattr(obj, k, v)
            assert content_hash(obj, entity) != signed, change
            db.session.rollback()
    with app.app_context():
        obj, entity = _load(app, name)
        obj.lines[0].quantity = obj.lines[0].quantity + 1
        assert content_hash(obj, entity) != signed
        db.session.rollback()
    with app.app_context():
        obj, entity = _load(app, name)
        obj.lines.pop()
        assert content_hash(obj, entity) != signed
        db.session.rollback()
