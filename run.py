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
"""
from __future__ import annotations

import os

from app import create_app, db
from app.auth.keys import ensure_instance_key
from app.cli import ensure_admin, run_sync
from app.demo import load_demo_data
from jobs.scheduler import InProcessScheduler


def main() -> None:
    if not os.environ.get("SECRET_KEY"):
        from config import INSTANCE_DIR
        ensure_instance_key(INSTANCE_DIR)  # a random key, kept in instance/secret_key (0600)
    app = create_app()
    with app.app_context():
        run_sync()
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
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    print(f"MedTrace is serving on http://{host}:{port}")
    app.run(host=host, port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
