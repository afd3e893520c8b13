"""Transfer misuse through the service layer (the API tests cover the same
paths over HTTP): each refusal is a named error and changes nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.actor import SYSTEM, Actor, acting_as
from app.domain.errors import Conflict, Forbidden, ValidationFailed
from app.domain.workflow import InvalidTransition, TransitionNotAllowed
from app.transfers import receiving, requests as transfers
from app.documents.engine import take_action


@pytest.fixture
def service(ctx):
    from app import db
    from app.web.requests import service_context
    with ctx.test_request_context():
        yield service_context, db


def actor(app, username, roles, warehouses):
    from app import db
    W = app.extensions["medtrace"].models["Warehouse"]
    ids = None if warehouses is None else frozenset(db.session.execute(
        sa.select(W.id).where(W.code.in_(warehouses))).scalars())
    return Actor(username=username, roles=frozenset(roles), warehouse_ids=ids)


def count_transfers(db, app):
    T = app.extensions["medtrace"].models["TransferOrder"]
    return db.session.execute(sa.select(sa.func.count()).select_from(T)).scalar_one()


def test_service_refusals(ctx, service):
    make_ctx, db = service
    clerk = actor(ctx, "svc_clerk", {"warehouse_clerk"}, ["SH01"])
    before = count_transfers(db, ctx)
    with acting_as(clerk):
        sc = make_ctx()
        with pytest.raises(ValidationFailed, match="must differ"):
            with sc.transaction():
                transfers.create_transfer(sc, {"from_warehouse": "SH01", "to_warehouse": "SH01",
                                               "lines": [{"product": "GLV-0004", "quantity": "1"}]})
        with pytest.raises(Forbidden, match="outside your data scope"):
            with sc.transaction():
                transfers.create_transfer(sc, {"from_warehouse": "GZ01", "to_warehouse": "SH01",
                                               "lines": [{"product": "GLV-0004", "quantity": "1"}]})
        assert count_transfers(db, ctx) == before
        with sc.transaction():
            t = transfers.create_transfer(sc, {"from_warehouse": "SH01", "to_warehouse": "HZ01",
                                               "lines": [{"product": "GLV-0004", "quantity": "1"}]})
        name = t.name
        with pytest.raises(InvalidTransition):
            with sc.transaction():
                take_action(sc, "TransferOrder", name, "ship")
        with pytest.raises(Forbidden, match="destination warehouse"):
            with sc.transaction():
                take_action(sc, "TransferOrder", name, "close")
        with sc.transaction():
            take_action(sc, "TransferOrder", name, "submit")
        with pytest.raises(TransitionNotAllowed, match="needs the role Warehouse manager"):
            with sc.transaction():
                take_action(sc, "TransferOrder", name, "approve")
    hz_clerk = actor(ctx, "svc_clerk_hz", {"warehouse_clerk"}, ["HZ01"])
    with acting_as(hz_clerk):
        sc = make_ctx()
        with pytest.raises(Conflict, match="possible only when the transfer order is Shipped"):
            with sc.transaction():
                receiving.receive_transfer(sc, name, {"lines": []})
    with acting_as(SYSTEM):
        assert transfers.get_transfer(make_ctx(), name).state == "submitted"
