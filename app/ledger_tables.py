"""Tables the engine owns (not declared in metadata): the audit trail, naming
counters, stored customizations, the stock ledger and workflow history.

They are Core tables on the same ``MetaData`` as the compiled entities so that
they can reference products, lots and locations. Append-only tables are guarded
by database triggers created in ``app.meta.sync``.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.meta.model import Metadata

QTY = sa.Numeric(18, 4, asdecimal=True)
APPEND_ONLY = ("audit_log", "stock_move", "workflow_transition")


def define(md: sa.MetaData, meta: Metadata) -> None:
    sa.Table(
        "audit_log", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("username", sa.String(64)),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),  # create / update / delete
        sa.Column("field", sa.String(64)),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Index("ix_audit_log_record", "entity", "record_id"),
    )
    sa.Table(
        "naming_series", md,
        sa.Column("prefix", sa.String(64), primary_key=True),
        sa.Column("current", sa.Integer, nullable=False),
    )
    sa.Table(
        "meta_customization", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, default=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    sa.Table(
        "workflow_transition", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer),
        sa.Column("comment", sa.Text),
        # electronic signature: who signed, when, and what the signature means
        sa.Column("signed_by", sa.String(128)),
        sa.Column("signed_at", sa.DateTime),
        sa.Column("signature_meaning", sa.String(32)),
        sa.Index("ix_workflow_transition_record", "entity", "record_id"),
    )
    from app.jobs import define_job_tables
    define_job_tables(md)
    if not {"Product", "Lot", "Serial", "Location"} <= set(meta.entities):
        return
    sa.Table(
        "stock_move", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
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
        sa.Column("reversal_of_id", sa.BigInteger().with_variant(sa.Integer, "sqlite")),
        sa.CheckConstraint("quantity > 0", name="ck_stock_move_positive"),
        sa.Index("ix_stock_move_lot", "lot_id", "moved_at"),
        sa.Index("ix_stock_move_serial", "serial_id"),
        sa.Index("ix_stock_move_document", "document_type", "document_id"),
        sa.Index("ix_stock_move_product", "product_id", "moved_at"),
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
