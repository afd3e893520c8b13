"""Cross-warehouse transfers (调拨): what only a transfer does, on top of the
document engine. ``register`` names its effects for the workflow files."""
from __future__ import annotations

from sqlalchemy.orm import joinedload, selectinload

from app.documents.registry import Registry
from app.transfers import exceptions, receiving, reservation, shipping
from app.transfers.requests import ENTITY, derive_transfer, transfer_context


def register(registry: Registry) -> None:
    registry.context(ENTITY, transfer_context)
    registry.load_with(ENTITY, lambda m: [
        joinedload(m[ENTITY].from_warehouse), joinedload(m[ENTITY].to_warehouse),
        selectinload(m[ENTITY].lines).joinedload(m["TransferLine"].product)])
    registry.derive(ENTITY, derive_transfer, line_fields=("quantity", "unit_price", "product"))
    registry.effect("reserve_stock", reservation.reserve_stock)
    registry.effect("release_reservation", reservation.release_reservation)
    registry.effect("ship_goods", shipping.ship_goods, schema=shipping.ShippingDetails)
    registry.effect("receive_remaining", receiving.receive_remaining)
    registry.context(exceptions.ENTITY, exceptions.exception_context)
    registry.effect("write_off_units", exceptions.write_off_units)
    registry.effect("return_units_to_source", exceptions.return_units_to_source)
    registry.effect("accept_units", exceptions.accept_units)
