"""MedTrace: the app factory is the one composition root.

``create_app`` reads metadata (shipped files plus stored customizations),
compiles models with the engine's own tables beside them, installs the record
rules on every session, and wires screens, REST APIs, pages, jobs and commands.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_appbuilder import AppBuilder

from app import alerts, jobqueue, records, transfers
from app import notifications as notices
from app.alerts import changes as alert_changes
from app.auth import audit as security_audit
from app.auth import csrf, lockout
from app.auth.keys import configure_secret_key
from app.auth.manager import MedTraceSecurityManager
from app.cli import medtrace_cli
from app.context import Settings
from app.database import configure_sqlite, db
from app.documents import history, notifications, signed_changes
from app.documents.registry import Registry
from app.meta import customizations
from app.meta.compiler import CompiledModels, compile_models
from app.meta.loader import MetadataLoader
from app.meta.model import Metadata
from app.meta.schedules import load_schedules
from app.meta.workflows import load_workflows
from app.records import audit, naming
from app.runtime import Runtime
from app.security import FabDirectory
from app.stock import tables as stock_tables
from app.web.wiring import wire

__all__ = ["create_app", "db"]

# SQLite stores Numeric as REAL; values are quantized back to their scale on read.
warnings.filterwarnings("ignore", message=".*does \\*not\\* support Decimal objects natively.*")

log = logging.getLogger(__name__)
_compiled_cache: dict[str, CompiledModels] = {}
ADMIN_LABEL = {"en": "Administrator", "zh": "系统管理员"}


def engine_tables(md: sa.MetaData, meta: Metadata) -> None:
    """The tables the engine owns, beside the compiled entities."""
    audit.define_tables(md)
    naming.define_tables(md)
    customizations.define_tables(md)
    history.define_tables(md)
    signed_changes.define_tables(md)
    jobqueue.define_tables(md)
    lockout.define_tables(md)
    notices.define_tables(md)
    stock_tables.define_tables(md, meta)


def compiled_for(meta: Metadata, root: Path) -> CompiledModels:
    """Compile once per distinct metadata and project folder, so several apps in
    one process (tests, workers) share mapped classes; another folder (with its
    own workflows) gets classes of its own."""
    key = f"{meta.fingerprint}:{root.resolve()}"
    if key not in _compiled_cache:
        _compiled_cache[key] = compile_models(meta, engine_tables)
    return _compiled_cache[key]


def document_registry() -> Registry:
    """Every concept's effects and condition contexts, for the workflow files."""
    registry = Registry()
    for register in (notifications.register, transfers.register):
        register(registry)
    return registry


def load_entity_workflows(root: Path, meta: Metadata, models: CompiledModels,
                          registry: Registry) -> dict:
    """Read workflows/*.yaml, validated against the roles, the entities and the
    effects the concepts register, and attach each to its entity's model class."""
    folder = root / "workflows"
    if not folder.exists():
        return {}
    workflows = load_workflows(folder, known_roles=set(meta.roles) | {"admin"},
                               known_tasks=registry.known(), entities=meta.entities)
    # refusals name roles by their labels ("needs the role Warehouse manager")
    labels = {"admin": ADMIN_LABEL, "Admin": ADMIN_LABEL,
              **{name: role.label for name, role in meta.roles.items()}}
    workflows = {entity: replace(wf, role_labels=labels) for entity, wf in workflows.items()}
    for entity, wf in workflows.items():
        models[entity].__workflow__ = wf
    return workflows


def create_app(config: dict | None = None) -> Flask:
    from config import INSTANCE_DIR, Config  # read at call time: tests set the environment first

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(Config)
    app.config.update(config or {})
    configure_secret_key(app)  # refuses a missing, shipped or short key outside debug/testing
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql://"):
        url = app.config["SQLALCHEMY_DATABASE_URI"] = url.replace(
            "postgresql://", "postgresql+psycopg://", 1)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    root = Path(app.config["MEDTRACE_ROOT"])

    registry = document_registry()
    records.install(derivations=registry.derivations)
    security_audit.install()  # users, roles and groups in the same audit trail
    alert_changes.install()
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
            db.engine.dispose()
        meta = MetadataLoader(root, customizations.stored_customizations(db.engine)).load()
        models = compiled_for(meta, root)
        runtime = Runtime(meta=meta, models=models,
                          settings=Settings(root=root,
                                            udi_separator_chars=app.config["UDI_SEPARATOR_CHARS"],
                                            timezone=app.config["MEDTRACE_TIMEZONE"]),
                          workflows=load_entity_workflows(root, meta, models, registry),
                          documents=registry, jobs=jobqueue.AppJobQueue())
        app.extensions["medtrace"] = runtime
        # alert rules and schedules: a bad file stops start-up, naming file and key
        rules = alerts.load(root, meta)
        app.extensions["medtrace_alerts"] = rules
        app.extensions["medtrace_schedules"] = load_schedules(
            root, jobqueue.resolve_job_function, extra=alerts.schedules_of(rules))

        csrf.install(app)  # before AppBuilder, so the API blueprints are exempted from form tokens
        appbuilder = AppBuilder(update_perms=False, security_manager_class=MedTraceSecurityManager)
        appbuilder.init_app(app, db.session)
        runtime.directory = FabDirectory(appbuilder.sm, db.session, models, meta)
        wire(app, appbuilder, runtime)
    app.cli.add_command(medtrace_cli)
    return app
