"""Stored customizations: metadata overlays an administrator saved, applied on
top of the shipped files at start-up (``MetadataLoader``)."""
from __future__ import annotations

import json

import sqlalchemy as sa


def define_tables(md: sa.MetaData) -> None:
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


def stored_customizations(engine: sa.Engine) -> list[dict]:
    """Active customization overlays, oldest first (empty before the first sync)."""
    if "meta_customization" not in sa.inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT kind, name, body FROM meta_customization WHERE active ORDER BY version, id"
        )).all()
    return [{"kind": k, "name": n, "body": b if isinstance(b, dict) else json.loads(b)}
            for k, n, b in rows]
