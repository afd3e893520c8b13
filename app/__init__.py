"""MedTrace: the app factory is the one composition root.

``create_app`` reads metadata (shipped files plus stored customizations),
compiles models, and wires screens, REST APIs, pages, jobs and commands.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_appbuilder import AppBuilder
from flask_appbuilder.models.sqla.base import SQLA

from app.meta.compiler import CompiledModels, compile_models
from app.meta.loader import MetadataLoader
from app.runtime import Runtime

# SQLite stores Numeric as REAL; values are quantized back to their scale on read.
warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively.*")

log = logging.getLogger(__name__)
db = SQLA()
_compiled_cache: dict[str, CompiledModels] = {}


def compiled_for(meta, root: Path) -> CompiledModels:
    """Compile once per distinct metadata and project folder, so several apps in
    one process (tests, workers) share mapped classes; another folder (with its
    own workflows) gets classes of its own."""
    key = f"{meta.fingerprint}:{root.resolve()}"
    if key not in _compiled_cache:
        _compiled_cache[key] = compile_models(meta)
    return _compiled_cache[key]


def _configure_sqlite(engine: sa.Engine) -> None:
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


def stored_customizations(engine: sa.Engine) -> list[dict]:
    """Active customization overlays, oldest first (empty before the first sync)."""
    if "meta_customization" not in sa.inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT kind, name, body FROM meta_customization WHERE active ORDER BY version, id"
        )).all()
    import json
    return [{"kind": k, "name": n, "body": b if isinstance(b, dict) else json.loads(b)}
            for k, n, b in rows]


def load_entity_workflows(root: Path, meta, models) -> dict:
    """Read workflows/*.yaml, validated against the roles and the tasks the
    services provide, and attach each to its entity's model class."""
    from app.domain.workflow import load_workflows
    from app.services.transfers import INLINE_TASKS, JOB_TASKS
    folder = root / "workflows"
    if not folder.exists():
        return {}
    workflows = load_workflows(folder, known_roles=set(meta.roles) | {"admin"},
                               known_tasks=set(INLINE_TASKS) | set(JOB_TASKS))
    for entity, wf in workflows.items():
        if entity not in models.models:
            from app.meta.loader import MetadataError
            raise MetadataError(wf.source, "entity", f"{entity!r} is not a defined entity")
        models[entity].__workflow__ = wf
    return workflows


def users_with_roles(roles) -> list[tuple[str, frozenset | None]]:
    """(user name, warehouse scope) of active users holding any of ``roles``."""
    from flask import current_app
    from app.security import actor_for
    sm = current_app.appbuilder.sm
    rt = current_app.extensions["medtrace"]
    wanted = {"Admin" if r == "admin" else r for r in roles}
    out = []
    for user in sm.get_all_users():
        if user.is_active and wanted & {r.name for r in user.roles}:
            out.append((user.username, actor_for(db.session, rt.models, rt.meta, user).warehouse_ids))
    return out


def create_app(config: dict | None = None) -> Flask:
    from config import Config, INSTANCE_DIR
    from app.jobs import after_commit

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(Config)
    app.config.update(config or {})
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql://"):
        url = app.config["SQLALCHEMY_DATABASE_URI"] = url.replace(
            "postgresql://", "postgresql+psycopg://", 1)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    root = Path(app.config["MEDTRACE_ROOT"])

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)
            db.engine.dispose()
        meta = MetadataLoader(root, stored_customizations(db.engine)).load()
        models = compiled_for(meta, root)
        runtime = Runtime(root=root, meta=meta, models=models,
                          workflows=load_entity_workflows(root, meta, models), settings={
            "udi_separator_chars": app.config["UDI_SEPARATOR_CHARS"],
            "root": root,
            "enqueue_after_commit": after_commit,
            "users_with_roles": users_with_roles,
        })
        app.extensions["medtrace"] = runtime

        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        from app import web
        web.wire(app, appbuilder, runtime)
    from app.cli import medtrace_cli
    app.cli.add_command(medtrace_cli)
    return app
