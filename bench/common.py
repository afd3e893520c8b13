"""Shared helpers for the benchmarks: a fresh database on each backend, the app
built on it, a SQL statement counter and a cProfile summary.

Benchmarks print their figures; they are never part of the test suite.
PostgreSQL benchmarks use their own database ``medtrace_bench`` (created and
dropped here), never the test database.
"""
from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

PG_SERVER = os.environ.get("MEDTRACE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_DB = "medtrace_bench"
PG_URL = f"{PG_SERVER}/{PG_DB}"


def _pg_admin(sql: str) -> None:
    engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


def create_pg_database() -> str:
    _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    _pg_admin(f"CREATE DATABASE {PG_DB}")
    return PG_URL


def drop_pg_database() -> None:
    _pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


@contextlib.contextmanager
def database(backend: str, keep: bool = False):
    """Yield the URL of an empty database on ``backend``; remove it afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="medtrace-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
    else:
        url = create_pg_database()
        try:
            yield url
        finally:
            if not keep:
                from app import db
                with contextlib.suppress(Exception):
                    db.engine.dispose()  # close pooled connections before the drop
                drop_pg_database()


def make_app(url: str):
    """The app on ``url`` with tables synced and the demo master data loaded."""
    import logging
    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)
    from app import create_app, db
    from app.cli import run_sync
    from app.demo import load_demo_data
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32})
    with app.app_context():
        run_sync(lambda *_: None)
        load_demo_data(db.session, app.extensions["medtrace"])
        db.session.remove()
    return app


class StatementCounter:
    """Counts SQL statements sent to the database (before_cursor_execute): an
    executemany counts once in ``count`` (one statement, one cursor call) and
    once per parameter set in ``executions`` (psycopg 3 pipelines one execution
    per row to the server; sqlite3 steps the statement once per row)."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self.executions = 0  # an executemany counted once per parameter set
        self.statements: list[str] = []

    def _on(self, conn, cursor, statement, params, context, executemany):
        self.count += 1
        # insertmanyvalues (one multi-row INSERT) arrives as one flat parameter set
        rows = (isinstance(params, (list, tuple)) and params
                and isinstance(params[0], (dict, list, tuple)))
        self.executions += len(params) if executemany and rows else 1
        self.statements.append(statement)

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._on)


class StatementTimer:
    """Wall time spent inside each kind of SQL statement (before_cursor_execute
    to after_cursor_execute: driver, network and server), summed by statement."""

    def __init__(self, engine):
        self.engine = engine
        self.by_statement: dict[str, list] = {}

    def _before(self, conn, cursor, statement, params, context, executemany):
        conn.info["medtrace_bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, params, context, executemany):
        took = time.perf_counter() - conn.info.pop("medtrace_bench_t0", time.perf_counter())
        text = " ".join(statement.split())
        key = text[:40]
        if " FROM " in text and not text.startswith(("INSERT", "UPDATE")):
            tail = text.split(" FROM ", 1)[1]
            key += " ... FROM " + tail[:70] + (" ... FOR UPDATE" if "FOR UPDATE" in tail else "")
        entry = self.by_statement.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += took

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.start
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def summary(self, top: int = 10) -> str:
        inside = sum(t for _, t in self.by_statement.values())
        lines = [f"    wall {self.wall:.2f} s, of which inside SQL statements {inside:.2f} s "
                 f"({100 * inside / self.wall:.0f}%); the rest is Python (ORM, hooks, services)"]
        for key, (n, t) in sorted(self.by_statement.items(), key=lambda kv: -kv[1][1])[:top]:
            lines.append(f"      {100 * t / self.wall:5.1f}%  {t:6.3f}s  {n:>5} calls  {key[:150]}")
        return "\n".join(lines) + "\n"


def median_ms(fn, repeat: int = 15, warmup: int = 2) -> tuple[float, float, float]:
    """(median, min, max) wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times), max(times)


def profile_summary(fn, top: int = 25) -> str:
    """Run ``fn`` under cProfile; return the top functions by own time and by
    cumulative time, with their share of the total."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    out = io.StringIO()
    out.write(f"    profiled total {total:.2f} s\n")
    entries = stats.stats  # {(file, line, func): (cc, nc, tt, ct, callers)}

    def name(key):
        file, line, func = key
        path = file
        for marker in ("/site-packages/", "/work/main/"):
            if marker in file:
                path = file.split(marker, 1)[1]
        return f"{path}:{func}"

    out.write("    by own time:\n")
    for key, (cc, nc, tt, ct, _) in sorted(entries.items(), key=lambda kv: -kv[1][2])[:top]:
        out.write(f"      {100 * tt / total:5.1f}%  {tt:6.3f}s  {nc:>8}  {name(key)}\n")
    out.write("    by cumulative time (app code):\n")
    app_rows = [(k, v) for k, v in entries.items() if "/work/main/app/" in k[0]]
    for key, (cc, nc, tt, ct, _) in sorted(app_rows, key=lambda kv: -kv[1][3])[:top]:
        out.write(f"      {100 * ct / total:5.1f}%  {ct:6.3f}s  {nc:>8}  {name(key)}\n")
    out.write("    by cumulative time (where the time goes, overlapping):\n")
    for label, file_part, func in KEY_FUNCTIONS:
        rows = [v for k, v in entries.items() if file_part in k[0] and k[2] == func]
        if rows:
            ct = max(v[3] for v in rows)
            out.write(f"      {100 * ct / total:5.1f}%  {ct:6.3f}s  {label}\n")
    return out.getvalue()


# Library functions whose cumulative time says where a posting spends it.
KEY_FUNCTIONS = [
    ("SQLAlchemy: Session.flush (ORM inserts/updates + before/after_flush hooks)",
     "sqlalchemy/orm/session.py", "flush"),
    ("SQLAlchemy: Session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("SQLAlchemy: Connection._execute_context (all statements, incl. driver)",
     "sqlalchemy/engine/base.py", "_execute_context"),
    ("driver: sqlite3 Cursor.execute", "~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    ("driver: psycopg Cursor.execute", "psycopg/cursor.py", "execute"),
    ("driver: psycopg Cursor.executemany", "psycopg/cursor.py", "executemany"),
    ("driver: psycopg waiting on the server (Connection.wait)", "psycopg/connection.py", "wait"),
    ("app: records._before_flush (naming, CEL rules, scope)", "app/records/__init__.py", "_before_flush"),
    ("app: records._after_flush (audit_log rows)", "app/records/__init__.py", "_after_flush"),
    ("app: StockLedger.post_moves", "app/stock/ledger.py", "post_moves"),
    ("app: allocation.allocate_lines", "app/stock/allocation.py", "allocate_lines"),
    ("app: allocation.stock_candidates", "app/stock/allocation.py", "stock_candidates"),
    ("app: domain allocate", "app/domain/allocation.py", "allocate"),
    ("app: ServiceContext.find (one query per looked-up line)", "app/context.py", "find"),
    ("app: documents.engine.take_action", "app/documents/engine.py", "take_action"),
    ("app: documents.engine.action_options", "app/documents/engine.py", "action_options"),
]


def machine() -> str:
    import platform
    cpu = ""
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores {cpu}; Python {platform.python_version()}; "
            f"SQLAlchemy {sa.__version__}; load average now {load}")
