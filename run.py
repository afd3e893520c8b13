"""Start MedTrace on the embedded default: SQLite in instance/, jobs inline.

    python run.py            # http://127.0.0.1:8080

It syncs the schema, loads demo data (and ~300 moves of history) on first
start and prints the admin password once. Without SECRET_KEY in the
environment it generates a random key once and keeps it in instance/secret_key.
Set DATABASE_URL for PostgreSQL and REDIS_URL for RQ.

Without REDIS_URL it also runs metadata/schedules.yaml (and the scheduled alert
rules) in a background thread, so the embedded default raises alerts too; with
REDIS_URL start `python -m jobs.worker` and `python -m jobs.scheduler` instead.
MEDTRACE_SCHEDULER=0 turns the thread off.

A restart with nothing changed takes seconds: the schema check is quick, and
roles and permissions (FAB's sync takes several seconds) are synced only when
the metadata, the screens or the permission rules changed since the last start
on this database (``flask medtrace sync`` always syncs them).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
from pathlib import Path

from app import create_app, db, security
from app.auth.keys import ensure_instance_key
from app.cli import ensure_admin, run_sync
from app.demo import load_demo_data
from app.meta.sync import sync_schema
from config import INSTANCE_DIR
from jobs.scheduler import InProcessScheduler


class FirstStartNotice(logging.Filter):
    """FAB says "No user yet created, use flask fab command" on a first start;
    run.py creates the admin a moment later and prints its password."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No user yet created" not in record.getMessage()


def permissions_fingerprint(app) -> str:
    """What the roles and permissions are synced from: the metadata (roles.yaml
    and every entity), the screens and pages, and the sync's own code."""
    runtime = app.extensions["medtrace"]
    views = sorted((type(v).__name__, str(getattr(v, "class_permission_name", "")),
                    sorted(getattr(v, "base_permissions", None) or []))
                   for v in app.appbuilder.baseviews)
    source = inspect.getsource(security)
    return hashlib.sha256(json.dumps([runtime.meta.fingerprint, views, sorted(runtime.pages), source],
                                     default=str).encode()).hexdigest()


def sync(app) -> None:
    """The schema always (additive, fast); roles and permissions when they may differ."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    stamp = Path(app.instance_path) / f".permissions-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
    fingerprint = permissions_fingerprint(app)
    runtime = app.extensions["medtrace"]
    if stamp.exists() and stamp.read_text() == fingerprint:
        for line in sync_schema(db.engine, runtime.models.metadata).lines():
            print(line)
        roles_present = all(app.appbuilder.sm.find_role(name) for name in [*runtime.meta.roles, "Admin"])
        db.session.rollback()
        if roles_present:
            print("roles and permissions: unchanged since the last start")
            return
    run_sync()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)


def main() -> None:
    logging.getLogger("flask_appbuilder.security.manager").addFilter(FirstStartNotice())
    if not os.environ.get("SECRET_KEY"):
        ensure_instance_key(INSTANCE_DIR)  # a random key, kept in instance/secret_key (0600)
    app = create_app()
    with app.app_context():
        sync(app)
        runtime = app.extensions["medtrace"]
        first_start = db.session.execute(
            runtime.models.table("stock_move").select().limit(1)).first() is None
        # on first start, a few hundred moves of history so stock screens are not empty
        summary = load_demo_data(db.session, runtime, moves=300 if first_start else 0)
        print("demo data:", ", ".join(f"{k}: {v}" for k, v in summary.items()))
        password = ensure_admin("admin", os.environ.get("MEDTRACE_ADMIN_PASSWORD"))
        if password:
            print("=" * 60)
            print(f"  Admin user: admin   password: {password}")
            print("  (shown once; change it under Security > Users)")
            print("=" * 60)
    if not app.config["REDIS_URL"] and app.config["MEDTRACE_SCHEDULER"]:
        InProcessScheduler(app).start()
        print(f"scheduler: {len(app.extensions['medtrace_schedules'])} schedule entries run in this process")
    host, port = app.config["HOST"], app.config["PORT"]
    print(f"MedTrace is serving on http://{host}:{port}")
    app.run(host=host, port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
