"""Bring the database in line with the compiled metadata, additively.

Missing tables are created, missing columns and indexes are added with Alembic
operations. Anything destructive (a column that metadata no longer has, a type
change) is refused with an explanation: it needs a written migration.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations



class DestructiveChange(RuntimeError):
    """The metadata asks for a change that would lose data."""


@dataclass
class SyncReport:
    created_tables: list[str] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    added_indexes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"created table {t}" for t in self.created_tables]
        out += [f"added column {c}" for c in self.added_columns]
        out += [f"added index {i}" for i in self.added_indexes]
        return out or ["schema is up to date"]


def _type_family(t: sa.types.TypeEngine) -> str:
    for family, types in (
        ("text", (sa.String, sa.Text, sa.Enum)),
        ("integer", (sa.Integer, sa.BigInteger, sa.SmallInteger)),
        ("numeric", (sa.Numeric, sa.Float)),
        ("bool", (sa.Boolean,)),
        ("datetime", (sa.DateTime,)),
        ("date", (sa.Date,)),
        ("json", (sa.JSON,)),
    ):
        if isinstance(t, types):
            return family
    return type(t).__name__.lower()


def _compatible(db_type: sa.types.TypeEngine, wanted: sa.types.TypeEngine) -> bool:
    a, b = _type_family(db_type), _type_family(wanted)
    if a == b:
        return True
    # SQLite reports JSON as TEXT-ish / NUMERIC affinity; BOOLEAN as integer on some setups
    loose = {frozenset({"json", "text"}), frozenset({"bool", "integer"}),
             frozenset({"datetime", "text"}), frozenset({"date", "text"})}
    return frozenset({a, b}) in loose


def plan_destructive(inspector, metadata: sa.MetaData) -> list[str]:
    problems = []
    existing = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        db_cols = {c["name"]: c for c in inspector.get_columns(table.name)}
        for name, col in db_cols.items():
            if name not in table.c:
                problems.append(
                    f"{table.name}.{name} exists in the database but not in metadata: dropping "
                    "or renaming a field loses data; restore the field (set it read_only to "
                    "retire it) or write an explicit migration")
            elif not _compatible(col["type"], table.c[name].type):
                problems.append(
                    f"{table.name}.{name} is {col['type']} in the database but "
                    f"{table.c[name].type} in metadata: changing a field's type needs an "
                    "explicit migration")
    return problems


def sync_schema(engine: sa.Engine, metadata: sa.MetaData) -> SyncReport:
    """Create what is missing; raise DestructiveChange before touching anything."""
    report = SyncReport()
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        problems = plan_destructive(inspector, metadata)
        if problems:
            raise DestructiveChange("refused:\n  " + "\n  ".join(problems))
        existing = set(inspector.get_table_names())
        missing = [t for t in metadata.sorted_tables if t.name not in existing]
        metadata.create_all(conn, tables=missing)
        report.created_tables = [t.name for t in missing]
        ops = Operations(MigrationContext.configure(conn))
        for table in metadata.sorted_tables:
            if table.name not in existing:
                continue
            db_cols = {c["name"] for c in inspector.get_columns(table.name)}
            for col in table.columns:
                if col.name in db_cols:
                    continue
                new = col._copy()
                if conn.dialect.name == "sqlite" and col.foreign_keys:
                    new = sa.Column(col.name, col.type)  # SQLite cannot add a FK column
                new.nullable = True  # existing rows have no value; the app enforces required
                new.unique = new.index = None
                ops.add_column(table.name, new)
                report.added_columns.append(f"{table.name}.{col.name}")
            db_indexes = {i["name"] for i in inspector.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in db_indexes:
                    index.create(conn)
                    report.added_indexes.append(index.name)
            for col in table.columns:
                if col.unique and f"{table.name}.{col.name}" in report.added_columns:
                    name = f"uq_{table.name}_{col.name}"
                    sa.Index(name, table.c[col.name], unique=True).create(conn)
                    report.added_indexes.append(name)
        install_append_only_guards(conn, [t.name for t in metadata.sorted_tables
                                          if t.info.get("append_only")])
    return report


def install_append_only_guards(conn, append_only: list[str]) -> None:
    """Triggers that refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on
    append-only tables (those whose ``info`` says so), so not even an
    administrator with SQL access through the app can rewrite history. SQLite
    has no TRUNCATE: its ``DELETE FROM t`` fires the delete trigger."""
    tables = set(sa.inspect(conn).get_table_names())
    for table in append_only:
        if table not in tables:
            continue
        if conn.dialect.name == "sqlite":
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION medtrace_append_only() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION medtrace_append_only()")
            # TRUNCATE fires no row trigger: refuse it with a statement trigger
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION medtrace_append_only()")
