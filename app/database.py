"""The SQLAlchemy handle every layer shares, and the SQLite settings of the
embedded default."""
from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder.models.sqla.base import SQLA

db = SQLA()


def configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Take the write lock up front: two postings never interleave, and a
        # transaction never fails half-way on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
