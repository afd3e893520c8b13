"""Test support: building an app on a backend, users with roles and grants."""
from __future__ import annotations

import os

import sqlalchemy as sa

PG_BASE = os.environ.get("MEDTRACE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Each test run works in its own schema of database `test`, so two runs (a
# developer's and CI's) never reset each other's tables.
PG_SCHEMA = f"medtrace_test_{os.getpid()}"
PG_URL = f"{PG_BASE}?options=-csearch_path%3D{PG_SCHEMA}"
REDIS_URL = os.environ.get("MEDTRACE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = [b for b in os.environ.get("MEDTRACE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PASSWORD = "Secret-pass-1"
SECRET_KEY = "medtrace-test-secret-key-32-bytes-long!"
# Apps built outside make_app (an RQ worker's, a subprocess's) read the key from
# the environment, as in production: outside testing, start-up refuses to run without one.
os.environ.setdefault("SECRET_KEY", SECRET_KEY)


def reset_postgres(url: str = PG_URL, schema: str = PG_SCHEMA) -> None:
    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()


def drop_postgres_schema(schema: str = PG_SCHEMA) -> None:
    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    engine.dispose()


def make_app(backend: str, tmp_path_factory, **extra):
    from app import create_app, db
    from app.cli import ensure_admin, run_sync
    from app.demo import load_demo_data

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'medtrace.db'}"
    else:
        url = PG_URL
        reset_postgres(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "TESTING": True, "SECRET_KEY": SECRET_KEY, **extra})
    with app.app_context():
        run_sync(lambda *_: None)
        load_demo_data(db.session, app.extensions["medtrace"])
        ensure_admin("admin", PASSWORD)
        create_user(app, "clerk_sh", ["warehouse_clerk"], warehouses=["SH01"])
        create_user(app, "manager_sh", ["warehouse_manager"], warehouses=["SH01"])
        create_user(app, "manager_bj", ["warehouse_manager"], warehouses=["BJ01"])
        create_user(app, "regional_ec", ["regional_manager"], regions=["EC"])
        create_user(app, "qa_user", ["qa"])
        create_user(app, "auditor", ["auditor"])
    return app


def create_user(app, username, roles, warehouses=(), regions=()):
    """A FAB user with metadata roles and data access grants."""
    from app import db
    sm = app.appbuilder.sm
    if sm.find_user(username=username):
        return sm.find_user(username=username)
    user = sm.add_user(username, username, "Test", f"{username}@example.com",
                       [sm.find_role(r) for r in roles], PASSWORD)
    models = app.extensions["medtrace"].models
    Grant, Warehouse, Region = models["AccessGrant"], models["Warehouse"], models["Region"]
    for code in warehouses:
        wh = db.session.execute(sa.select(Warehouse).where(Warehouse.code == code)).scalar_one()
        db.session.add(Grant(username=username, warehouse=wh))
    for code in regions:
        rg = db.session.execute(sa.select(Region).where(Region.code == code)).scalar_one()
        db.session.add(Grant(username=username, region=rg))
    db.session.commit()
    return user




def gs1(gtin, lot=None, expiry=None, serial=None):
    """A GS1 element string as a scanner sends it (GS after variable-length fields)."""
    text = f"01{gtin}"
    if expiry:
        text += f"17{expiry:%y%m%d}"
    if lot:
        text += f"10{lot}" + ("\x1d" if serial else "")
    if serial:
        text += f"21{serial}"
    return text
