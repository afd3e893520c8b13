"""Naming series: ``TR-{YYYY}{MM}-{#####}`` gives TR-202612-00001, TR-202612-00002 ...

The counter per prefix is taken with one atomic upsert, so two writers never
get the same number."""
from __future__ import annotations

import datetime as dt
import re
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def define_tables(md: sa.MetaData) -> None:
    sa.Table(
        "naming_series", md,
        sa.Column("prefix", sa.String(64), primary_key=True),
        sa.Column("current", sa.Integer, nullable=False),
    )


def next_in_series(session: Session, table: sa.Table, prefix: str) -> int:
    """Atomically take the next counter for ``prefix``: one upsert, row-locked."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(prefix=prefix, current=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["prefix"], set_={"current": table.c.current + 1}
    ).returning(table.c.current)
    return session.connection().execute(stmt).scalar_one()


def format_series(pattern: str, now: dt.datetime, counter_fn: Callable[[str], int]) -> str:
    text = (pattern.replace("{YYYY}", f"{now:%Y}").replace("{YY}", f"{now:%y}")
            .replace("{MM}", f"{now:%m}").replace("{DD}", f"{now:%d}"))
    match = re.search(r"\{(#+)\}", text)
    assert match is not None  # the metadata loader refuses a pattern without a counter
    prefix = text[: match.start()] + "#" + text[match.end():]
    number = counter_fn(prefix)
    return text[: match.start()] + str(number).zfill(len(match.group(1))) + text[match.end():]


def assign_name(session: Session, obj, pattern: str, now: dt.datetime) -> None:
    table = type(obj).metadata.tables["naming_series"]
    obj.name = format_series(pattern, now, lambda prefix: next_in_series(session, table, prefix))
