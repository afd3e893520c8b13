"""Helpers shared by the alert, outbox and notification tests: a local SMTP
server (aiosmtpd) that keeps what it receives, stock to alert about, and the
clock moved a day on."""
from __future__ import annotations

import contextlib
import datetime as dt
import email
import socket
from email import policy

import sqlalchemy as sa
from aiosmtpd.controller import Controller


class Mailbox:
    """What the local SMTP server received: (recipients, parsed message)."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address: str) -> list[str]:
        """Bodies of the messages sent to ``address``."""
        return [m.get_body(preferencelist=("plain",)).get_content()
                for rcpt, m in self.messages if address in rcpt]

    def subjects(self, address: str) -> list[str]:
        return [str(m["Subject"]) for rcpt, m in self.messages if address in rcpt]


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server(port: int | None = None):
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def receive(app, warehouse: str, lot_number: str, expiry: dt.date, quantity: str = "5",
            product: str = "SYR-0003", **extra) -> int:
    """Post a receipt of one lot as the system; returns the lot's id."""
    from app import db
    from app.actor import SYSTEM, acting_as
    from app.inventory.receipts import post_receipt
    with app.app_context(), acting_as(SYSTEM):
        rt = app.extensions["medtrace"]
        sc = rt.context(db.session, SYSTEM)
        with sc.transaction():
            post_receipt(sc, {"supplier": "SUP-MDT", "warehouse": warehouse, **extra, "lines": [{
                "product": product, "lot_number": lot_number, "expiry_date": expiry, "quantity": quantity}]})
        Lot = rt.models["Lot"]
        return db.session.execute(sa.select(Lot.id).where(Lot.lot_number == lot_number)).scalar_one()


def backdate_expiry(app, lot_id: int, expiry: dt.date) -> None:
    """Let a lot received in date expire: its expiry moves into the past, as the
    system (receiving an expired lot is refused by default)."""
    from app import db
    from app.actor import SYSTEM, acting_as
    with app.app_context(), acting_as(SYSTEM):
        lot = db.session.get(app.extensions["medtrace"].models["Lot"], lot_id)
        lot.expiry_date = expiry
        db.session.commit()


def warehouse_id(app, code: str) -> int:
    from app import db
    with app.app_context():
        W = app.extensions["medtrace"].models["Warehouse"]
        return db.session.execute(sa.select(W.id).where(W.code == code)).scalar_one()


def notifications(app, rule: str, **where) -> list[dict]:
    from app import db
    with app.app_context():
        N = app.extensions["medtrace"].models.table("notification")
        q = sa.select(N).where(N.c.rule == rule, *[N.c[k] == v for k, v in where.items()])
        return [dict(r) for r in db.session.execute(q.order_by(N.c.id)).mappings()]


@contextlib.contextmanager
def days_later(monkeypatch, days: int):
    """Every ServiceContext (requests, jobs) sees now + ``days``."""
    from app.context import ServiceContext
    from app.domain.clock import utcnow
    with monkeypatch.context() as m:
        m.setattr(ServiceContext, "now", lambda self: utcnow() + dt.timedelta(days=days))
        yield
