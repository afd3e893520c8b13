"""Start MedTrace on the embedded default: SQLite in instance/, jobs inline.

    python run.py            # http://127.0.0.1:8080

It syncs the schema, loads demo data (and ~300 moves of history) on first
start and prints the admin password once. Set DATABASE_URL for PostgreSQL and REDIS_URL for RQ.
"""
from __future__ import annotations

import logging
import os

from app import create_app, db
from app.cli import ensure_admin, run_sync
from app.demo import load_demo_data


class FirstStartNotice(logging.Filter):
    """FAB says "No user yet created, use flask fab command" on a first start;
    run.py creates the admin a moment later and prints its password."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No user yet created" not in record.getMessage()


def main() -> None:
    logging.getLogger("flask_appbuilder.security.manager").addFilter(FirstStartNotice())
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
    host, port = app.config["HOST"], app.config["PORT"]
    print(f"MedTrace is serving on http://{host}:{port}")
    app.run(host=host, port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
