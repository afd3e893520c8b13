"""Jobs: slow or scheduled work, on RQ when ``REDIS_URL`` is set, inline otherwise.

A job is a function named by its dotted path (``"jobs.stock_jobs.expire_lots"``)
and called with JSON arguments, so the web process never imports worker code
and a job runs the same way on a worker as inline on a laptop. The function
gets what it needs from ``job_context()``.

Every run leaves a ``job_run`` row: state (queued, started, finished, failed),
times, duration, and the JSON result or the error.

Transactions: a job owns its session. On a worker that is a session of its
own; inline, in the caller's app context, the runner first commits what the
caller has pending. Services therefore use ``after_commit``: the job is
enqueued once their transaction commits, and dropped if it rolls back.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from app.actor import SYSTEM, Actor, acting_as, current_actor
from app.context import ServiceContext
from app.database import db
from app.domain.clock import utcnow
from app.domain.errors import NotFound
from app.domain.quantities import format_quantity
from app.security import actor_for

log = logging.getLogger(__name__)

STATES = ("queued", "started", "finished", "failed")
RUNNER = "jobs.run_job"  # what RQ imports on the worker
RESULT_TTL = 24 * 3600        # RQ's own copy; job_run is the lasting record
FAILURE_TTL = 7 * 24 * 3600
ERROR_LIMIT = 20_000
_AFTER_COMMIT = "medtrace_jobs_after_commit"


def define_tables(md: sa.MetaData) -> sa.Table:
    """The ``job_run`` table (defined once per MetaData)."""
    if "job_run" in md.tables:
        return md.tables["job_run"]
    return sa.Table(
        "job_run", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.String(64), nullable=False, unique=True),
        sa.Column("func", sa.String(200), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("enqueued_at", sa.DateTime, nullable=False, index=True),
        sa.Column("started_at", sa.DateTime),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("result", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("username", sa.String(64)),
    )


@dataclass
class JobHandle:
    """What ``enqueue`` returns. Inline runs come back finished or failed;
    queued ones can be followed with ``status()``."""
    id: str
    func: str
    state: str
    result: Any = None
    error: str | None = None
    duration_ms: int | None = None

    def status(self) -> dict:
        return job_status(self.id)


@dataclass
class _Call:
    id: str
    func: str
    args: list
    kwargs: dict
    description: str
    username: str
    enqueued_at: dt.datetime = field(default_factory=lambda: _now())


# ------------------------------------------------------------------ enqueueing
def enqueue(app_or_runtime, func_path: str, *args, job_id: str | None = None,
            description: str | None = None, **kwargs) -> JobHandle:
    """Run ``func_path(*args, **kwargs)`` as a job: on RQ when the app has a
    ``REDIS_URL``, otherwise now, in this process. Arguments must be JSON values."""
    app, actor = _app_of(app_or_runtime), current_actor()
    call = _call(func_path, args, kwargs, job_id, description, actor)
    return _submit(app, call, actor, fresh_context=False)


def after_commit(session, func_path: str, *args, job_id: str | None = None,
                 description: str | None = None, **kwargs) -> str:
    """Enqueue the job once ``session``'s transaction commits; a rollback (or a
    close without commit) drops it. Returns the job id it will have."""
    if not has_app_context():
        raise RuntimeError("after_commit needs an app context (the app enqueues the job)")
    if isinstance(session, scoped_session):
        session = session()
    actor = current_actor()
    call = _call(func_path, args, kwargs, job_id, description, actor)
    owner = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(_AFTER_COMMIT, []).append(
        (owner, current_app._get_current_object(), call, actor))
    return call.id


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.get(_AFTER_COMMIT):
        return  # a released savepoint: wait for the real commit
    for _owner, app, call, actor in session.info.pop(_AFTER_COMMIT):
        try:
            # the committed session can emit no more SQL: inline jobs get a context of their own
            _submit(app, call, actor, fresh_context=True)
        except Exception:  # the data is committed; the job's failure is recorded, not raised
            log.exception("could not enqueue %s after commit", call.func)


@event.listens_for(Session, "after_soft_rollback")
def _on_rollback(session: Session, previous_transaction) -> None:
    pending = session.info.get(_AFTER_COMMIT)
    if pending:
        pending[:] = [p for p in pending if not _inside(p[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _on_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # ended without a commit (rollback or close)
        session.info.pop(_AFTER_COMMIT, None)


def _inside(tx, ancestor) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def _call(func_path, args, kwargs, job_id, description, actor: Actor) -> _Call:
    if not isinstance(func_path, str) or "." not in func_path:
        raise ValueError(f"a job is named by its dotted path, e.g. 'jobs.stock_jobs.expire_lots', "
                         f"not {func_path!r}")
    try:  # the same values inline as on a worker
        args, kwargs = json.loads(json.dumps([list(args), kwargs]))
    except TypeError as exc:
        raise TypeError(f"arguments of job {func_path} must be JSON values: {exc}") from None
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return _Call(id=job_id or uuid.uuid4().hex, func=func_path, args=args, kwargs=kwargs,
                 description=(description or f"{func_path}({shown})")[:255],
                 username=actor.username)


def _app_of(app_or_runtime):
    if isinstance(app_or_runtime, Flask):
        return app_or_runtime
    if has_app_context() and current_app.extensions.get("medtrace") is app_or_runtime:
        return current_app._get_current_object()
    raise RuntimeError("enqueue with a Runtime needs its app's context; pass the app instead")


def _submit(app, call: _Call, actor: Actor, *, fresh_context: bool) -> JobHandle:
    if app.config.get("REDIS_URL"):
        return _to_rq(app, call, fresh_context)
    if not fresh_context and has_app_context() and current_app._get_current_object() is app:
        return _run(call, lambda: actor)
    with app.app_context():
        return _run(call, lambda: actor)


def _to_rq(app, call: _Call, in_hook: bool) -> JobHandle:
    if not (has_app_context() and current_app._get_current_object() is app):
        with app.app_context():
            return _to_rq(app, call, in_hook)
    _bookkeep(in_hook, call.id, func=call.func, description=call.description, state="queued",
              enqueued_at=call.enqueued_at, username=call.username)
    try:
        Queue(app.config["RQ_QUEUE"], connection=_redis(app.config["REDIS_URL"])).enqueue_call(
            RUNNER, args=(call.func, call.args, call.kwargs, call.username, forwarded_config(app)),
            job_id=call.id, description=call.description, result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL, timeout=app.config.get("RQ_JOB_TIMEOUT", 1800))
    except Exception as exc:
        _bookkeep(in_hook, call.id, state="failed", ended_at=_now(),
                  error=f"could not enqueue on RQ: {type(exc).__name__}: {exc}")
        raise
    return JobHandle(id=call.id, func=call.func, state="queued")


def _bookkeep(in_hook: bool, job_id: str, **values) -> None:
    """Write the enqueuer's side of the record on a connection of its own,
    committed before a worker can see the job. On SQLite a caller holding a
    transaction holds the write lock, so the row joins that transaction
    instead (if the caller rolls back, the runner writes the row itself)."""
    if not in_hook and db.engine.dialect.name == "sqlite" and db.session().in_transaction():
        _upsert(db.session, job_id, **values)
        return
    with db.engine.begin() as conn:
        _upsert(conn, job_id, **values)


_redis_clients: dict[str, Any] = {}


def _redis(url: str):
    if url not in _redis_clients:
        _redis_clients[url] = Redis.from_url(url)
    return _redis_clients[url]


def forwarded_config(app) -> dict:
    """The app's database and project folder, for the worker, only where they
    differ from what the worker's own environment gives it."""
    from config import Config  # the worker's own environment, read at call time
    out = {}
    if _normal_url(app.config["SQLALCHEMY_DATABASE_URI"]) != _normal_url(Config.SQLALCHEMY_DATABASE_URI):
        out["SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
    if Path(app.config["MEDTRACE_ROOT"]).resolve() != Path(Config.MEDTRACE_ROOT).resolve():
        out["MEDTRACE_ROOT"] = str(app.config["MEDTRACE_ROOT"])
    return out


def _normal_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


# --------------------------------------------------------------------- running
def job_context() -> ServiceContext:
    """The ServiceContext a job function works with: the job's session, the
    compiled models and the actor who enqueued it."""
    return current_app.extensions["medtrace"].context(db.session, current_actor())


def run_on_worker(app: Flask, func_path: str, args: list, kwargs: dict, username: str | None):
    """Body of ``jobs.run_job``: run one RQ job in the worker's app as its user.
    A failure is recorded, then raised again so that RQ marks the job failed."""
    rq_job = get_current_job()
    call = _Call(id=rq_job.id if rq_job else uuid.uuid4().hex, func=func_path, args=list(args),
                 kwargs=dict(kwargs), description=(rq_job.description if rq_job else func_path)[:255],
                 username=username or SYSTEM.username,
                 enqueued_at=_naive(rq_job.enqueued_at) if rq_job and rq_job.enqueued_at else _now())
    with app.app_context():
        handle = _run(call, lambda: actor_named(username), reraise=True)
    return handle.result


def actor_named(username: str | None) -> Actor:
    """The actor of a stored job: the user with their roles and data scope."""
    if not username or username == SYSTEM.username:
        return SYSTEM
    user = current_app.appbuilder.sm.find_user(username=username)
    if user is None or not user.is_active:
        raise LookupError(f"the job was enqueued by {username}, who is no longer an active user")
    rt = current_app.extensions["medtrace"]
    return actor_for(db.session, rt.models, rt.meta, user)


def _run(call: _Call, actor_fn, reraise: bool = False) -> JobHandle:
    """Run one job in the current app context and record it in ``job_run``."""
    session = db.session
    started, t0 = _now(), time.perf_counter()
    _upsert(session, call.id, func=call.func, description=call.description, state="started",
            enqueued_at=call.enqueued_at, started_at=started, ended_at=None, duration_ms=None,
            result=None, error=None, username=call.username)
    session.commit()
    try:
        with acting_as(actor_fn()):
            target = _resolve(call.func)
            result = _jsonable(target(*call.args, **call.kwargs))
            session.commit()
    except Exception as exc:
        session.rollback()
        error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"[:ERROR_LIMIT]
        ms = _ms(t0)
        _upsert(session, call.id, state="failed", ended_at=_now(), duration_ms=ms, error=error)
        session.commit()
        log.warning("job %s (%s) failed: %s", call.id, call.func, exc)
        if reraise:
            raise
        return JobHandle(id=call.id, func=call.func, state="failed", error=error, duration_ms=ms)
    ms = _ms(t0)
    _upsert(session, call.id, state="finished", ended_at=_now(), duration_ms=ms, result=result)
    session.commit()
    return JobHandle(id=call.id, func=call.func, state="finished", result=result, duration_ms=ms)


def _resolve(func_path: str):
    module, _, name = func_path.rpartition(".")
    target = getattr(importlib.import_module(module), name, None)
    if not callable(target):
        raise LookupError(f"no job function {name} in {module}")
    return target


# ------------------------------------------------------------------ the record
def _table() -> sa.Table:
    md = current_app.extensions["medtrace"].models.metadata
    if "job_run" not in md.tables:
        raise RuntimeError("job_run is not defined: the app's engine tables include jobqueue.define_tables")
    return md.tables["job_run"]


def _upsert(executor, job_id: str, **values) -> None:
    """Update the run's row, or insert it (a row the caller rolled back, or a
    job enqueued by hand). ``executor`` is a Session or a Connection."""
    t = _table()
    done = executor.execute(t.update().where(t.c.job_id == job_id).values(**values))
    if done.rowcount == 0:
        values.setdefault("func", "?")
        values.setdefault("enqueued_at", values.get("started_at") or _now())
        executor.execute(t.insert().values(job_id=job_id, **values))


def job_status(job_id: str) -> dict:
    """A job's state, times, and result or error. A run still queued or started
    in the table but failed or stopped in RQ (a killed worker) is shown failed."""
    t = _table()
    row = db.session.execute(sa.select(t).where(t.c.job_id == job_id)).mappings().first()
    url = current_app.config.get("REDIS_URL")
    out = _row(row) if row else None
    if url and (out is None or out["state"] in ("queued", "started")):
        rq_state = _rq_state(url, job_id)
        if out is None and rq_state:
            out = {"job_id": job_id, "state": rq_state["state"], "func": rq_state["func"],
                   "error": rq_state.get("error")}
        elif out and rq_state and rq_state["state"] == "failed":
            out.update(state="failed", error=rq_state.get("error"))
    if out is None:
        raise NotFound(f"unknown job {job_id!r}", zh=f"任务 {job_id!r} 不存在")
    return out


def _rq_state(url: str, job_id: str) -> dict | None:
    try:
        job = Job.fetch(job_id, connection=_redis(url))
    except NoSuchJobError:
        return None
    status = job.get_status()
    status = getattr(status, "value", status)
    func = job.args[0] if job.func_name == RUNNER and job.args else job.func_name
    if status in ("failed", "stopped", "canceled"):
        return {"state": "failed", "func": func,
                "error": job.exc_info or f"the job was {status} on RQ"}
    return {"state": status if status in STATES else "queued", "func": func}


def recent_jobs(limit: int = 50) -> list[dict]:
    """The latest runs, newest first."""
    t = _table()
    rows = db.session.execute(sa.select(t).order_by(t.c.id.desc()).limit(limit)).mappings()
    return [_row(r) for r in rows]


def _row(row) -> dict:
    out = {k: v for k, v in dict(row).items() if k != "id"}
    for k in ("enqueued_at", "started_at", "ended_at"):
        out[k] = out[k].isoformat() if out[k] else None
    return out


# --------------------------------------------------------------------- helpers
def _now() -> dt.datetime:
    return utcnow()


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _ms(t0: float) -> int:
    return int(round((time.perf_counter() - t0) * 1000))


def _jsonable(value: Any) -> Any:
    def default(o):
        if isinstance(o, Decimal):
            return format_quantity(o)
        if hasattr(o, "isoformat"):
            return o.isoformat()
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        return str(o)
    return json.loads(json.dumps(value, default=default))


class AppJobQueue:
    """The job queue services see (``ServiceContext.jobs``)."""

    def after_commit(self, session, func_path: str, *args: Any, **kwargs: Any) -> str:
        return after_commit(session, func_path, *args, **kwargs)
