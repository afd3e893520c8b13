"""The ledger's tables: moves (append-only), balances per product × lot ×
serial × location × status, and reservations. Core tables on the same
``MetaData`` as the compiled entities, so they reference products, lots and
locations."""
from __future__ import annotations

import sqlalchemy as sa

from app.meta.model import Metadata

QTY = sa.Numeric(18, 4, asdecimal=True)
REQUIRED_ENTITIES = {"Product", "Lot", "Serial", "Location"}


def define_tables(md: sa.MetaData, meta: Metadata) -> None:
    if not REQUIRED_ENTITIES <= set(meta.entities):
        return
    big_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    sa.Table(
        "stock_move", md,
        sa.Column("id", big_id, primary_key=True),
        sa.Column("document_type", sa.String(32), nullable=False),
        sa.Column("document_id", sa.Integer, nullable=False),
        sa.Column("document_name", sa.String(64)),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("product.id"), nullable=False),
        sa.Column("lot_id", sa.Integer, sa.ForeignKey("lot.id")),
        sa.Column("serial_id", sa.Integer, sa.ForeignKey("serial.id")),
        sa.Column("from_location_id", sa.Integer, sa.ForeignKey("location.id"), nullable=False),
        sa.Column("to_location_id", sa.Integer, sa.ForeignKey("location.id"), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("moved_at", sa.DateTime, nullable=False),
        sa.Column("posted_by", sa.String(64)),
        sa.Column("reversal_of_id", big_id),
        sa.CheckConstraint("quantity > 0", name="ck_stock_move_positive"),
        sa.Index("ix_stock_move_lot", "lot_id", "moved_at"),
        sa.Index("ix_stock_move_serial", "serial_id"),
        sa.Index("ix_stock_move_document", "document_type", "document_id"),
        sa.Index("ix_stock_move_product", "product_id", "moved_at"),
        # a move is reversed at most once, whatever two requests race to do
        sa.Index("uq_stock_move_reversal", "reversal_of_id", unique=True),
        info={"append_only": True},
    )
    # One row per product x lot x serial x location x status. 0 stands for "no lot"
    # / "no serial" so the natural key can be a plain unique constraint.
    sa.Table(
        "stock_balance", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("lot_id", sa.Integer, nullable=False),
        sa.Column("serial_id", sa.Integer, nullable=False),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("warehouse_id", sa.Integer, index=True),  # None for virtual places
        sa.Column("is_real", sa.Boolean, nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("reserved", QTY, nullable=False, default=0),
        sa.UniqueConstraint("product_id", "lot_id", "serial_id", "location_id", "status",
                            name="uq_stock_balance_key"),
        sa.Index("ix_stock_balance_product_location", "product_id", "location_id"),
        sa.Index("ix_stock_balance_lot", "lot_id"),
        # a serial is in at most one real place (DB-level guard behind the service's check)
        sa.Index("uq_stock_balance_serial_place", "serial_id", unique=True,
                 postgresql_where=sa.text("serial_id <> 0 AND is_real AND quantity > 0"),
                 sqlite_where=sa.text("serial_id <> 0 AND is_real AND quantity > 0")),
    )
    sa.Table(
        "stock_reservation", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document_type", sa.String(32), nullable=False),
        sa.Column("document_id", sa.Integer, nullable=False),
        sa.Column("line_id", sa.Integer),
        sa.Column("balance_id", sa.Integer, nullable=False, index=True),
        sa.Column("product_id", sa.Integer, nullable=False),
        sa.Column("lot_id", sa.Integer, nullable=False),
        sa.Column("serial_id", sa.Integer, nullable=False),
        sa.Column("location_id", sa.Integer, nullable=False),
        sa.Column("quantity", QTY, nullable=False),
        sa.Column("picked", QTY, nullable=False, default=0),
        sa.Column("state", sa.String(16), nullable=False),  # active / released / consumed
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Index("ix_stock_reservation_document", "document_type", "document_id"),
    )
