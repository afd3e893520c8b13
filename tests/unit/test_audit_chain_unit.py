"""The audit hash chain on a bare SQLite database: rows from before the chain
(no hash) are counted and accepted only before the first chained row."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.records import audit, chain


def _db():
    engine = sa.create_engine("sqlite://")
    md = sa.MetaData()
    audit.define_tables(md)
    md.create_all(engine)
    return engine


def _row(i, **kw):
    return {"at": dt.datetime(2025, 1, 1, 12, 0, i), "username": "u", "entity": "Lot",
            "record_id": i, "action": "update", "field": "status", "old_value": "a",
            "new_value": f"v{i}", **kw}


def test_legacy_rows_then_the_chain():
    engine = _db()
    with engine.begin() as conn:
        conn.execute(chain.audit.insert(), [_row(1), _row(2)])  # written before the chain existed
        chain.write(conn, [_row(3), _row(4)])
        chain.write(conn, [_row(5)])
    with engine.connect() as conn:
        report = chain.verify(conn)
    assert report.ok, report.breaks
    assert (report.rows, report.legacy, report.first_id, report.last_id) == (5, 2, 3, 5)
    assert "3 rows chained" in report.summary() and "2 earlier rows" in report.summary()
    with engine.begin() as conn:
        first = conn.execute(sa.select(chain.audit.c.prev_hash).where(chain.audit.c.id == 3)).scalar()
        assert first == chain.GENESIS
        conn.execute(chain.audit.insert(), [_row(6)])  # unchained, after the chain started
    with engine.connect() as conn:
        report = chain.verify(conn)
    assert not report.ok and "row 6 has no hash" in report.summary()


def test_hash_is_over_previous_hash_and_content():
    a = chain.row_hash(chain.GENESIS, _row(1))
    assert a == chain.row_hash(chain.GENESIS, _row(1))
    assert a != chain.row_hash(chain.GENESIS, _row(1, new_value="other"))
    assert a != chain.row_hash("1" * 64, _row(1))
    # microseconds and time zones do not change the canonical time
    aware = _row(1, at=dt.datetime(2025, 1, 1, 20, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    assert chain.row_hash(chain.GENESIS, aware) == a


def test_empty_trail_verifies():
    with _db().connect() as conn:
        report = chain.verify(conn)
    assert report.ok and report.rows == 0
