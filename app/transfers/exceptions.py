"""Receiving exceptions (收货异常): units that arrived damaged or never arrived.
Each is a workflow document (``workflows/receiving_exception.yaml``); its
decisions post their stock moves here: write off to inventory loss, return to
the source warehouse, or accept (damaged units become available; short units
are accepted as lost)."""
from __future__ import annotations

from typing import Any

from app.context import ServiceContext
from app.documents.engine import find_document, owner_of, take_action
from app.domain.errors import NotFound
from app.domain.expressions import LazyContext
from app.domain.ledger import Move
from app.records.validation import record_context
from app.stock.ledger import StockLedger
from app.stock.locations import receiving_location, virtual_location
from app.transfers.requests import get_transfer

ENTITY = "TransferException"


def exception_context(ctx: ServiceContext, exc) -> LazyContext:
    """The exception's fields, and what its conditions ask of the product."""
    values = record_context(exc, type(exc).__entity__)
    values.update(risk_class=exc.product.risk_class, implantable=bool(exc.product.implantable),
                  owner=owner_of(exc))
    return LazyContext(values)


def _post(ctx: ServiceContext, exc, to_location_id: int, to_status: str) -> None:
    status = "damaged" if exc.kind == "damaged" else "available"
    StockLedger(ctx.session, ctx.models).post_moves(
        ENTITY, exc.id, exc.transfer.name, [Move(
            product_id=exc.product_id, lot_id=exc.lot_id, serial_id=exc.serial_id,
            from_location_id=exc.location_id, to_location_id=to_location_id,
            quantity=exc.quantity, from_status=status, to_status=to_status)])


def _resolved(ctx: ServiceContext, exc, resolution: str, details: dict) -> None:
    exc.resolution = resolution
    exc.resolved_by, exc.resolved_at = ctx.actor.username, ctx.now()
    if details.get("comment"):
        exc.note = details["comment"]


def write_off_units(ctx: ServiceContext, exc, details: dict) -> None:
    status = "damaged" if exc.kind == "damaged" else "available"
    _post(ctx, exc, virtual_location(ctx, "loss").id, status)
    _resolved(ctx, exc, "write_off", details)


def return_units_to_source(ctx: ServiceContext, exc, details: dict) -> None:
    status = "damaged" if exc.kind == "damaged" else "available"
    _post(ctx, exc, receiving_location(ctx, exc.transfer.from_warehouse).id, status)
    _resolved(ctx, exc, "return_to_source", details)


def accept_units(ctx: ServiceContext, exc, details: dict) -> None:
    if exc.kind == "short":
        _post(ctx, exc, virtual_location(ctx, "loss").id, "available")   # accepted as lost
    else:
        _post(ctx, exc, exc.location_id, "available")                     # sellable, in place
    _resolved(ctx, exc, "accept", details)


def resolve_exception(ctx: ServiceContext, transfer_ref: Any, exception_id: int, data: dict):
    """The transfer API's way to decide an exception: the same engine action."""
    transfer = get_transfer(ctx, transfer_ref)
    exc = find_document(ctx, ENTITY, exception_id, lock=True)
    if exc.transfer_id != transfer.id:
        raise NotFound(f"unknown exception {exception_id} on {transfer.name}",
                       zh=f"{transfer.name} 没有异常 {exception_id}")
    comment = data.get("note") or data.get("comment")
    return take_action(ctx, ENTITY, exc, data["resolution"], comment=comment,
                       password=data.get("password"), details={"comment": comment})
