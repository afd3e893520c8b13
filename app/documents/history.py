"""The history of a workflow document: every transition with who, when, the
comment and the electronic signature, and the steps taken within a state (a
partial receipt, with its comment), which keep the state (from = to).
Append-only."""
from __future__ import annotations

import sqlalchemy as sa


def define_tables(md: sa.MetaData) -> None:
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
        # sha256 of what was signed (app.records.signatures.content_hash)
        sa.Column("signed_hash", sa.String(64)),
        sa.Index("ix_workflow_transition_record", "entity", "record_id"),
        info={"append_only": True},
    )


def record_transition(session, table: sa.Table, *, entity: str, record_id: int, action: str,
                      from_state: str, to_state: str, at, username: str, user_id: int | None,
                      comment: str | None, signed: bool, meaning: str | None,
                      signed_hash: str | None = None) -> None:
    session.execute(table.insert().values(
        entity=entity, record_id=record_id, action=action, from_state=from_state,
        to_state=to_state, at=at, username=username, user_id=user_id, comment=comment,
        signed_by=username if signed else None, signed_at=at if signed else None,
        signature_meaning=meaning if signed else None, signed_hash=signed_hash if signed else None))


def record_step(session, table: sa.Table, *, entity: str, record_id: int, step: str,
                state: str, at, username: str, user_id: int | None,
                comment: str | None) -> None:
    """A step within ``state`` (work that does not move the document)."""
    record_transition(session, table, entity=entity, record_id=record_id, action=step,
                      from_state=state, to_state=state, at=at, username=username,
                      user_id=user_id, comment=comment, signed=False, meaning=None)


def transitions_of(session, table: sa.Table, entity: str, record_id: int) -> list:
    return session.execute(sa.select(table).where(
        table.c.entity == entity, table.c.record_id == record_id).order_by(table.c.id)).all()
