"""Tamper evidence for the audit trail: a hash chain and a seal.

Each audit row carries ``prev_hash`` (the ``row_hash`` of the row before it)
and ``row_hash = sha256(prev_hash + canonical content of the row)``; the first
chained row follows ``GENESIS``. A one-row seal (``audit_seal``: last id, last
hash) is updated in the same transaction, so deleting the newest rows shows
too. ``verify`` walks the rows in id order and reports the first break.

Writing the chain must see the previous row, so appends are serialized: the
rows a transaction collected are written at ``before_commit`` (``write``),
under a transaction-level advisory lock on PostgreSQL (SQLite transactions are
serialized already by ``BEGIN IMMEDIATE``). The locked section is three short
statements: read the seal, insert the rows, update the seal.

Rows from before the chain existed (no hash) are accepted only before the
first chained row; ``verify`` counts them and says they are not covered.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import weakref
from dataclasses import dataclass, field

import sqlalchemy as sa

log = logging.getLogger(__name__)

GENESIS = "0" * 64
CONTENT = ("at", "username", "entity", "record_id", "action", "field", "old_value", "new_value")

audit = sa.table(
    "audit_log", sa.column("id", sa.Integer), sa.column("at", sa.DateTime), sa.column("username"),
    sa.column("entity"), sa.column("record_id", sa.Integer), sa.column("action"),
    sa.column("field"), sa.column("old_value"), sa.column("new_value"),
    sa.column("prev_hash"), sa.column("row_hash"))
seal = sa.table("audit_seal", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                sa.column("last_hash"), sa.column("updated_at", sa.DateTime))


def define_tables(md: sa.MetaData) -> None:
    sa.Table(
        "audit_seal", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
        sa.Column("last_id", sa.BigInteger),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


# ------------------------------------------------------------------------ hashing
def _at(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # a driver that hands back text
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def canonical(row) -> str:
    """The row's content as the chain hashes it: a JSON array in CONTENT order."""
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    values = [_at(get("at")), get("username"), get("entity"),
              None if get("record_id") is None else int(get("record_id")),
              get("action"), get("field"), get("old_value"), get("new_value")]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def row_hash(prev_hash: str, row) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------ writing
_ready: "weakref.WeakKeyDictionary[sa.Engine, bool]" = weakref.WeakKeyDictionary()


def _schema(conn) -> str:
    """'chain' when audit_log and audit_seal exist, 'legacy' when only
    audit_log does (a database not synced since the chain came), else 'none'."""
    engine = conn.engine
    if _ready.get(engine):
        return "chain"
    inspector = sa.inspect(conn)
    if not inspector.has_table("audit_log"):
        return "none"
    if not inspector.has_table("audit_seal"):
        return "legacy"
    _ready[engine] = True
    return "chain"


def _lock(conn) -> None:
    if conn.dialect.name == "postgresql":
        # one lock per audit_log table (its oid), held until the transaction ends
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(('audit_log'::regclass)::oid::bigint)")


def last_hash(conn) -> str:
    value = conn.execute(sa.select(seal.c.last_hash).where(seal.c.id == 1)).scalar()
    if value is None:  # no seal yet: the newest chained row, else the start
        value = conn.execute(sa.select(audit.c.row_hash).where(audit.c.row_hash.is_not(None))
                             .order_by(audit.c.id.desc()).limit(1)).scalar()
    return value or GENESIS


def write(conn, rows: list[dict], now: dt.datetime | None = None) -> None:
    """Append ``rows`` to the audit trail, chained, and move the seal."""
    if not rows:
        return
    mode = _schema(conn)
    if mode == "none":
        log.warning("audit_log does not exist yet (run `flask medtrace sync`): "
                    "%d audit rows not written", len(rows))
        return
    if mode == "legacy":
        conn.execute(audit.insert(), [{k: r.get(k) for k in CONTENT} for r in rows])
        return
    _lock(conn)
    prev = last_hash(conn)
    chained = []
    for r in rows:
        r = {k: r.get(k) for k in CONTENT}
        r["at"] = dt.datetime.fromisoformat(_at(r["at"]))  # what the column keeps
        r["prev_hash"] = prev
        r["row_hash"] = prev = row_hash(prev, r)
        chained.append(r)
    conn.execute(audit.insert(), chained)
    last_id = conn.execute(sa.select(sa.func.max(audit.c.id))).scalar()
    values = {"last_id": last_id, "last_hash": prev, "updated_at": chained[-1]["at"]}
    if conn.execute(seal.update().where(seal.c.id == 1).values(**values)).rowcount == 0:
        conn.execute(seal.insert().values(id=1, **values))


# ---------------------------------------------------------------------- verifying
@dataclass
class Verification:
    rows: int = 0
    legacy: int = 0                 # rows before the chain started (no hash)
    first_id: int | None = None     # first chained row
    last_id: int | None = None
    breaks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def summary(self) -> str:
        if not self.ok:
            return f"audit trail broken: {self.breaks[0]}"
        chained = self.rows - self.legacy
        text = (f"audit trail verified: {chained} rows chained"
                + (f" (ids {self.first_id}-{self.last_id})" if chained else "")
                + ", seal matches")
        if self.legacy:
            text += (f"; {self.legacy} earlier rows were written before the chain existed "
                     "and are not covered")
        return text


def verify(conn, batch: int = 5000) -> Verification:
    """Walk the audit trail in id order; stop at the first break."""
    report = Verification()
    prev: str | None = None  # None until the chain starts
    prev_id = None
    cols = [audit.c.id, *(audit.c[k] for k in CONTENT), audit.c.prev_hash, audit.c.row_hash]
    after = None
    while True:
        q = sa.select(*cols).order_by(audit.c.id).limit(batch)
        if after is not None:
            q = q.where(audit.c.id > after)
        rows = conn.execute(q).all()
        if not rows:
            break
        for row in rows:
            after = row.id
            report.rows += 1
            if row.row_hash is None:
                if prev is None:
                    report.legacy += 1
                    continue
                report.breaks.append(f"row {row.id} has no hash: it was written outside the "
                                     "chain or its hash was removed")
                return report
            expected_prev = GENESIS if prev is None else prev
            if row.prev_hash != expected_prev:
                where = (f"after row {prev_id}" if prev_id is not None else "at the start")
                report.breaks.append(
                    f"row {row.id} does not follow the row before it ({where}): a row was "
                    "deleted or inserted there, or the chain was rewritten")
                return report
            if row_hash(row.prev_hash, row) != row.row_hash:
                report.breaks.append(f"row {row.id} was changed after it was written: its "
                                     "content does not match its hash")
                return report
            if report.first_id is None:
                report.first_id = row.id
            prev, prev_id, report.last_id = row.row_hash, row.id, row.id
    sealed = conn.execute(sa.select(seal.c.last_id, seal.c.last_hash).where(seal.c.id == 1)).first()
    if prev is None:
        if sealed is not None:
            report.breaks.append(f"the seal names row {sealed.last_id} but no chained row "
                                 "exists: rows were deleted")
        return report
    if sealed is None:
        report.breaks.append(f"the seal is missing (last chained row is {prev_id})")
    elif sealed.last_hash != prev:
        report.breaks.append(f"the seal names row {sealed.last_id} but the last chained row is "
                             f"{prev_id}: the newest rows were deleted or the seal was changed")
    return report
