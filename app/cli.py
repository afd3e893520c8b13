"""``flask medtrace ...`` commands (FLASK_APP=app:create_app)."""
from __future__ import annotations

import logging
import secrets
import sys

import json

import click
from flask import current_app
from flask.cli import AppGroup

from app.auth import passwords
from app.auth.passwords import PasswordRejected
from app.database import db
from app.demo import load_demo_data
from app.jobqueue import deliver_pending, enqueue
from app.meta.sync import DestructiveChange, sync_schema
from app.records import chain
from app.security import sync_permissions
from app.stock.ledger import StockLedger

medtrace_cli = AppGroup("medtrace", help="MedTrace administration commands.")


def runtime():
    return current_app.extensions["medtrace"]


def run_sync(echo=print) -> None:
    """Create/extend tables additively, then sync roles and permissions."""

    rt = runtime()
    report = sync_schema(db.engine, rt.models.metadata)
    for line in report.lines():
        echo(line)
    # A screen and its API share one permission view-menu; FAB's per-view sync
    # logs that it keeps the other's permissions. That is expected: keep it quiet.
    fab_log = logging.getLogger("flask_appbuilder.security.sqla.manager")
    level = fab_log.level
    fab_log.setLevel(logging.ERROR)
    try:
        result = sync_permissions(current_app.appbuilder, rt.meta, rt.pages)
    finally:
        fab_log.setLevel(level)
    echo(f"permissions synced: {result['entity_permissions']} entity permissions, "
         f"roles {', '.join(result['roles'])}")


@medtrace_cli.command("sync")
def sync_command():
    """Create missing tables, columns and indexes; sync roles and permissions."""
    try:
        run_sync(click.echo)
    except DestructiveChange as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def ensure_admin(username: str = "admin", password: str | None = None) -> str | None:
    """Create the admin user if missing; return the new password (None if it existed).
    A given password must meet the password policy (PasswordRejected otherwise)."""
    sm = current_app.appbuilder.sm
    if sm.find_user(username=username):
        return None
    if password is None:
        password = secrets.token_urlsafe(15)
        while passwords.problems(password, username, current_app.config["PASSWORD_MIN_LENGTH"]):
            password = secrets.token_urlsafe(15)
    sm.add_user(username, "MedTrace", "Admin", f"{username}@medtrace.local",
                sm.find_role("Admin"), password)
    return password


@medtrace_cli.command("create-admin")
@click.option("--username", default="admin")
@click.option("--password", default=None, help="Generated and printed once when omitted.")
def create_admin_command(username, password):
    """Create an administrator account."""
    try:
        created = ensure_admin(username, password)
    except PasswordRejected as exc:
        click.echo(f"{exc.message}\n{exc.zh}", err=True)
        sys.exit(2)
    if created is None:
        click.echo(f"user {username} already exists")
    else:
        click.echo(f"created {username} with password: {created}")


@medtrace_cli.command("demo")
@click.option("--moves", default=0, help="Also generate a history of about N stock moves.")
@click.option("--seed", default=42)
def demo_command(moves, seed):
    """Load demo master data (idempotent) and optionally a stock history."""
    summary = load_demo_data(db.session, runtime(), moves=moves, seed=seed)
    click.echo(", ".join(f"{k}: {v}" for k, v in summary.items()))


@medtrace_cli.command("verify-ledger")
def verify_ledger_command():
    """Rebuild balances from the moves and report any difference."""
    rt = runtime()
    finished = {entity: (wf.state_field, frozenset(s for s in wf.states if wf.is_final(s)))
                for entity, wf in rt.workflows.items()}
    problems = StockLedger(db.session, rt.models).verify(finished)
    for p in problems:
        click.echo(p)
    if problems:
        click.echo(f"{len(problems)} differences found", err=True)
        sys.exit(1)
    click.echo("ledger verified: no differences between moves and balances; reservations match their documents")


@medtrace_cli.command("verify-audit")
def verify_audit_command():
    """Check the audit trail's hash chain and seal; report the first break."""
    with db.engine.connect() as conn:
        report = chain.verify(conn)
    if not report.ok:
        click.echo(report.summary(), err=True)
        sys.exit(1)
    click.echo(report.summary())


@medtrace_cli.command("job")
@click.argument("func_path")
@click.argument("args", nargs=-1)
def job_command(func_path, args):
    """Run or enqueue a job: flask medtrace job jobs.stock_jobs.expire_lots
    (inline without REDIS_URL; arguments are JSON values)."""
    handle = enqueue(current_app._get_current_object(), func_path, *[json.loads(a) for a in args])
    result = json.dumps(handle.result, ensure_ascii=False) if handle.result is not None else ""
    click.echo(f"{handle.id} {handle.state} {result or handle.error or ''}")


@medtrace_cli.command("relay-jobs")
def relay_jobs_command():
    """Deliver the job outbox now: runs requested while Redis was unreachable
    (the scheduler process does this every JOB_RELAY_INTERVAL seconds)."""
    stats = deliver_pending(current_app._get_current_object())
    click.echo(", ".join(f"{k}: {v}" for k, v in stats.items()))
