"""Jobs: slow or scheduled work, on RQ when ``REDIS_URL`` is set, inline otherwise.

A job is a function named by its dotted path (``"jobs.stock_jobs.expire_lots"``)
and called with JSON arguments, so the web process never imports worker code
and a job runs the same way on a worker as inline on a laptop. The function
gets what it needs from ``job_context()``.

Every run leaves a ``job_run`` row: state, who or which schedule started it,
times, duration, progress, and the JSON result or the error. States:

    pending  in the outbox: written, not yet on RQ (Redis unreachable: retried with backoff)
    queued   on RQ, waiting for a worker
    started  running (``report_progress(done, total)`` shows how far)
    finished / failed
    skipped  a scheduled run not started because the previous one is still going

Transactions: a job owns its session. On a worker that is a session of its
own; inline, in the caller's app context, the runner first commits what the
caller has pending. Services therefore use ``after_commit``, the outbox: the
job's row is written *in the caller's transaction* (state ``pending``), so it
exists exactly when the caller's data does; after the commit it is pushed to RQ
(or run inline). When Redis is down the row stays pending and
``deliver_pending`` (the scheduler process, the next commit, or
``flask medtrace relay-jobs``) pushes it later, with exponential backoff.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import importlib
import json
import logging
import threading
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
from app.domain.errors import Conflict, NotFound
from app.domain.quantities import format_quantity
from app.i18n import pick
from app.security import actor_for

log = logging.getLogger(__name__)

STATES = ("pending", "queued", "started", "finished", "failed", "skipped")
RUNNER = "jobs.run_job"  # what RQ imports on the worker
SCHEDULED_RUNNER = "jobs.run_scheduled"  # what RQ's cron scheduler enqueues
RESULT_TTL = 24 * 3600        # RQ's own copy; job_run is the lasting record
FAILURE_TTL = 7 * 24 * 3600
ERROR_LIMIT = 20_000
_AFTER_COMMIT = "medtrace_jobs_after_commit"
# Outbox delivery: a row the committing process has not pushed within GRACE is
# the relay's; failed pushes are retried after BASE, 2*BASE ... at most MAX seconds.
DELIVERY_GRACE = dt.timedelta(seconds=30)
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 600
# A row queued on RQ this long ago whose RQ job no longer exists (Redis lost
# its data) is delivered again.
LOST_AFTER = dt.timedelta(minutes=5)
PROGRESS_EVERY = 0.5  # seconds between progress writes


def define_tables(md: sa.MetaData) -> sa.Table:
    """The ``job_run`` table (the record of every run, and the outbox) and
    ``job_schedule`` (one row per schedule: the run going on, the last due time)."""
    if "job_run" in md.tables:
        return md.tables["job_run"]
    sa.Table(
        "job_schedule", md,
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("running_job_id", sa.String(64)),
        sa.Column("running_since", sa.DateTime),
        sa.Column("last_due_at", sa.DateTime),
        sa.Column("last_started_at", sa.DateTime),
        sa.Column("last_finished_at", sa.DateTime),
        sa.Column("last_state", sa.String(16)),
        sa.Column("last_job_id", sa.String(64)),
    )
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
        sa.Column("username", sa.String(64)),  # the user the job acts as
        # what to run again (outbox delivery, retry): {"args": [...], "kwargs": {...}}
        sa.Column("args", sa.JSON),
        sa.Column("requested_by", sa.String(64)),  # who asked, when not the acting user (a retry)
        sa.Column("schedule", sa.String(100), index=True),
        sa.Column("retry_of", sa.String(64)),
        sa.Column("attempts", sa.Integer),  # pushes to RQ that failed
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("delivered_at", sa.DateTime),  # pushed to RQ
        sa.Column("progress_done", sa.Integer),
        sa.Column("progress_total", sa.Integer),
        sa.Index("ix_job_run_outbox", "state", "next_attempt_at"),
    )


@dataclass
class JobHandle:
    """What ``enqueue`` returns. Inline runs come back finished or failed;
    queued ones can be followed with ``status()``; pending ones wait for Redis."""
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
    schedule: str | None = None
    retry_of: str | None = None
    requested_by: str | None = None
    attempts: int = 0

    def row(self, **values) -> dict:
        """The job_run columns that describe this call."""
        return {"func": self.func, "description": self.description, "enqueued_at": self.enqueued_at,
                "username": self.username, "args": {"args": self.args, "kwargs": self.kwargs},
                "schedule": self.schedule, "retry_of": self.retry_of,
                "requested_by": self.requested_by, "attempts": self.attempts, **values}


# ------------------------------------------------------------------ enqueueing
def enqueue(app_or_runtime, func_path: str, *args, job_id: str | None = None,
            description: str | None = None, **kwargs) -> JobHandle:
    """Run ``func_path(*args, **kwargs)`` as a job: on RQ when the app has a
    ``REDIS_URL``, otherwise now, in this process. Arguments must be JSON values.
    With Redis unreachable the run is kept ``pending`` and delivered later."""
    app, actor = _app_of(app_or_runtime), current_actor()
    call = _call(func_path, args, kwargs, job_id, description, actor)
    return _submit(app, call, actor, fresh_context=False)


def after_commit(session, func_path: str, *args, job_id: str | None = None,
                 description: str | None = None, **kwargs) -> str:
    """Enqueue the job once ``session``'s transaction commits; a rollback (or a
    close without commit) drops it. The job's row is written now, in the
    session's transaction (the outbox). Returns the job id it will have."""
    if not has_app_context():
        raise RuntimeError("after_commit needs an app context (the app enqueues the job)")
    if isinstance(session, scoped_session):
        session = session()
    actor = current_actor()
    call = _call(func_path, args, kwargs, job_id, description, actor)
    owner = session.get_nested_transaction() or session.get_transaction() or session.begin()
    # on the session's connection: callable from a flush hook too
    session.connection().execute(_table().insert().values(
        job_id=call.id, **call.row(state="pending", next_attempt_at=call.enqueued_at + DELIVERY_GRACE)))
    session.info.setdefault(_AFTER_COMMIT, []).append(
        (owner, current_app._get_current_object(), call, actor))
    return call.id


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.get(_AFTER_COMMIT):
        return  # a released savepoint: wait for the real commit
    for _owner, app, call, actor in session.info.pop(_AFTER_COMMIT):
        try:
            # the committed session can emit no more SQL: a context of its own
            _deliver_committed(app, call, actor)
        except Exception:  # the data and the outbox row are committed: the relay retries
            log.exception("could not deliver %s after commit; it stays in the outbox", call.func)


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
    return _Call(id=job_id or uuid.uuid4().hex, func=func_path, args=args, kwargs=kwargs,
                 description=(description or describe(func_path, args, kwargs))[:255],
                 username=actor.username)


def describe(func_path: str, args, kwargs) -> str:
    shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
    return f"{func_path}({shown})"


def _app_of(app_or_runtime):
    if isinstance(app_or_runtime, Flask):
        return app_or_runtime
    if has_app_context() and current_app.extensions.get("medtrace") is app_or_runtime:
        return current_app._get_current_object()
    raise RuntimeError("enqueue with a Runtime needs its app's context; pass the app instead")


def _in_app(app, fn):
    if has_app_context() and current_app._get_current_object() is app:
        return fn()
    with app.app_context():
        return fn()


def _submit(app, call: _Call, actor: Actor, *, fresh_context: bool) -> JobHandle:
    if app.config.get("REDIS_URL"):
        return _in_app(app, lambda: _to_rq(app, call, fresh_context))
    if not fresh_context and has_app_context() and current_app._get_current_object() is app:
        return _run(call, lambda: actor)
    with app.app_context():
        return _run(call, lambda: actor)


def _to_rq(app, call: _Call, in_hook: bool) -> JobHandle:
    _bookkeep(in_hook, call.id, **call.row(state="queued", delivered_at=_now()))
    return _push(app, call, lambda **v: _bookkeep(in_hook, call.id, **v))


def _push(app, call: _Call, record) -> JobHandle:
    """Put the run on RQ; when Redis does not answer, ``record`` puts it back
    in the outbox with the next attempt's time."""
    try:
        Queue(app.config["RQ_QUEUE"], connection=_redis(app.config["REDIS_URL"])).enqueue_call(
            RUNNER, args=(call.func, call.args, call.kwargs, call.username, forwarded_config(app)),
            job_id=call.id, description=call.description, result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL, timeout=app.config.get("RQ_JOB_TIMEOUT", 1800))
    except Exception as exc:
        attempts = call.attempts + 1
        error = f"could not enqueue on RQ (attempt {attempts}): {type(exc).__name__}: {exc}"
        record(state="pending", attempts=attempts, delivered_at=None, error=error,
               next_attempt_at=_now() + dt.timedelta(seconds=backoff_seconds(attempts)))
        log.warning("job %s (%s) kept in the outbox: %s", call.id, call.func, error)
        return JobHandle(id=call.id, func=call.func, state="pending", error=error)
    return JobHandle(id=call.id, func=call.func, state="queued")


def backoff_seconds(attempts: int) -> int:
    """Seconds before the next delivery attempt after ``attempts`` failures."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)


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


def _deliver_committed(app, call: _Call, actor: Actor) -> None:
    """After the commit that wrote the outbox row: push it (or run it inline)."""
    if not app.config.get("REDIS_URL"):
        with app.app_context():
            _run(call, lambda: actor, claim=True)
        return
    with app.app_context():
        if not _claim_pending(call.id):
            return  # the relay took it
        handle = _push(app, call, lambda **v: _write(call.id, **v))
        if handle.state == "queued" and _has_backlog():
            deliver_pending(app, limit=50, wait=False)  # Redis answers again: empty the outbox too


def _claim_pending(job_id: str, to: str = "queued") -> bool:
    """pending -> ``to``, for one deliverer only."""
    t = _table()
    values = {"state": to}
    if to == "queued":
        values["delivered_at"] = _now()
    with db.engine.begin() as conn:
        done = conn.execute(t.update().where(t.c.job_id == job_id, t.c.state == "pending").values(**values))
    return done.rowcount == 1


def _write(job_id: str, **values) -> None:
    with db.engine.begin() as conn:
        _upsert(conn, job_id, **values)


def _has_backlog() -> bool:
    t = _table()
    with db.engine.connect() as conn:
        return conn.execute(sa.select(t.c.id).where(
            t.c.state == "pending", t.c.next_attempt_at <= _now()).limit(1)).first() is not None


# ------------------------------------------------------------ the outbox relay
_relay_lock = threading.Lock()


def deliver_pending(app, limit: int = 200, wait: bool = True) -> dict:
    """Deliver the outbox: push each pending run whose next attempt is due to
    RQ (or, without Redis, run it inline), oldest first. Stops at the first
    push Redis refuses (the rest wait for their next attempt). With Redis,
    runs queued long ago whose RQ job is gone (Redis lost its data) are
    delivered again. Returns what it did. ``wait=False``: if this process's
    relay is already at work, leave it to it."""
    def work():
        t = _table()
        stats = {"delivered": 0, "deferred": 0, "recovered": 0}
        url = app.config.get("REDIS_URL")
        with db.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(
                t.c.state == "pending", t.c.next_attempt_at <= _now())
                .order_by(t.c.id).limit(limit)).mappings().all()
        for r in rows:
            call = _call_of(r)
            if not url:
                if _run(call, lambda: actor_named(call.username), claim=True).state != "started":
                    stats["delivered"] += 1
                continue
            if not _claim_pending(call.id):
                continue
            handle = _push(app, call, lambda **v: _write(call.id, **v))
            if handle.state != "queued":
                stats["deferred"] += 1
                break
            stats["delivered"] += 1
        if url and stats["deferred"] == 0:
            stats["recovered"] = _recover_lost(app)
        stats["backlog"] = backlog()["pending"]
        db.session.rollback()
        return stats
    if not _relay_lock.acquire(blocking=wait):  # one relay per process at a time
        return {"delivered": 0, "deferred": 0, "recovered": 0, "backlog": None}
    try:
        return _in_app(app, work)
    finally:
        _relay_lock.release()


def _recover_lost(app) -> int:
    t = _table()
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.job_id).where(
            t.c.state == "queued", t.c.delivered_at < _now() - LOST_AFTER).limit(500)).scalars().all()
    lost = []
    for job_id in rows:
        try:
            Job.fetch(job_id, connection=_redis(app.config["REDIS_URL"]))
        except NoSuchJobError:
            lost.append(job_id)
    if lost:
        with db.engine.begin() as conn:
            conn.execute(t.update().where(t.c.job_id.in_(lost), t.c.state == "queued").values(
                state="pending", next_attempt_at=_now(), delivered_at=None,
                error="the job was lost by Redis before a worker took it; delivered again"))
    return len(lost)


def backlog() -> dict:
    """The outbox as the Jobs page shows it: how many runs wait for Redis,
    since when, how many attempts, the last error. Read on the app context's
    session (a request already holds SQLite's lock there)."""
    t = _table()
    count, oldest, attempts = db.session.execute(sa.select(
        sa.func.count(), sa.func.min(t.c.enqueued_at), sa.func.max(t.c.attempts))
        .where(t.c.state == "pending")).one()
    error = db.session.execute(sa.select(t.c.error).where(t.c.state == "pending", t.c.error.isnot(None))
                               .order_by(t.c.id.desc()).limit(1)).scalar()
    return {"pending": count, "oldest": oldest.isoformat() if oldest else None,
            "attempts": attempts or 0, "last_error": error}


def _call_of(row) -> _Call:
    stored = row["args"] or {}
    return _Call(id=row["job_id"], func=row["func"], args=list(stored.get("args") or []),
                 kwargs=dict(stored.get("kwargs") or {}), description=row["description"] or row["func"],
                 username=row["username"] or SYSTEM.username, enqueued_at=row["enqueued_at"],
                 schedule=row["schedule"], retry_of=row["retry_of"],
                 requested_by=row["requested_by"], attempts=row["attempts"] or 0)


_redis_clients: dict[str, Any] = {}


def _redis(url: str):
    if url not in _redis_clients:
        # short timeouts: an unreachable Redis must not hold a request for long
        _redis_clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
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
        existing = _table()
        stored = db.session.execute(sa.select(existing).where(existing.c.job_id == call.id)).mappings().first()
        if stored is not None:  # keep what the enqueuer recorded (retry of, requested by ...)
            call = _call_of(stored)
        db.session.rollback()
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


_running: contextvars.ContextVar[dict | None] = contextvars.ContextVar("medtrace_job", default=None)
_progress: dict[str, tuple[int, int]] = {}  # job id -> (done, total), this process's running jobs


def _run(call: _Call, actor_fn, reraise: bool = False, claim: bool = False) -> JobHandle:
    """Run one job in the current app context and record it in ``job_run``.
    ``claim``: the row is pending in the outbox; run it only if this caller
    moves it to started first (another deliverer may have)."""
    session = db.session
    started, t0 = _now(), time.perf_counter()
    if claim and not _claim_pending(call.id, to="started"):
        return JobHandle(id=call.id, func=call.func, state="started")
    _upsert(session, call.id, **call.row(state="started", started_at=started, ended_at=None,
                                         duration_ms=None, result=None, error=None,
                                         next_attempt_at=None, progress_done=None, progress_total=None))
    session.commit()
    token = _running.set({"id": call.id, "written": 0.0})
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
    finally:
        _running.reset(token)
        done = _progress.pop(call.id, None)
    ms = _ms(t0)
    final = {"progress_done": done[1], "progress_total": done[1]} if done else {}
    _upsert(session, call.id, state="finished", ended_at=_now(), duration_ms=ms, result=result, **final)
    session.commit()
    return JobHandle(id=call.id, func=call.func, state="finished", result=result, duration_ms=ms)


def report_progress(done: int, total: int) -> None:
    """Called by a long job: ``done`` of ``total`` steps are finished. The Jobs
    page shows it as a progress bar. Cheap to call often: the row is written at
    most every half second (and at the end). Outside a job it does nothing."""
    running = _running.get()
    if running is None:
        return
    done, total = max(int(done), 0), max(int(total), 0)
    _progress[running["id"]] = (done, total)
    now = time.monotonic()
    if done < total and now - running["written"] < PROGRESS_EVERY:
        return
    running["written"] = now
    t = _table()
    stmt = t.update().where(t.c.job_id == running["id"]).values(progress_done=done, progress_total=total)
    if db.engine.dialect.name == "sqlite" and db.session().in_transaction():
        db.session.execute(stmt)  # this job holds SQLite's write lock: shown at its next commit
    else:
        with db.engine.begin() as conn:
            conn.execute(stmt)


def _resolve(func_path: str):
    module, _, name = func_path.rpartition(".")
    target = getattr(importlib.import_module(module), name, None)
    if not callable(target):
        raise LookupError(f"no job function {name} in {module}")
    return target


def resolve_job_function(func_path: str):
    """The function behind a dotted path, or LookupError saying what is missing
    (schedules are checked with it when they load)."""
    module, _, name = func_path.rpartition(".")
    if not module:
        raise LookupError(f"{func_path!r} is not a dotted path such as jobs.stock_jobs.expire_lots")
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        raise LookupError(f"module {module!r} cannot be imported: {exc}") from None
    target = getattr(loaded, name, None)
    if not callable(target):
        raise LookupError(f"module {module!r} has no job function {name!r}")
    return target


# -------------------------------------------------------------- scheduled runs
def run_scheduled(app, name: str, *, job_id: str | None = None, reraise: bool = False) -> JobHandle:
    """Run the schedule ``name`` now, in this process, as the system. A run of
    the same schedule still going (here or on another worker) is not started
    twice: this one is recorded as skipped."""
    def work():
        schedule = app.extensions["medtrace_schedules"][name]
        call = _Call(id=job_id or uuid.uuid4().hex, func=schedule.job, args=list(schedule.args),
                     kwargs=dict(schedule.kwargs), username=SYSTEM.username, schedule=name,
                     description=f"{name}: {schedule.description['en']}"[:255])
        holder = _claim_schedule(app, name, call.id)
        if holder is not None:
            now = _now()
            _write(call.id, **call.row(state="skipped", started_at=now, ended_at=now, duration_ms=0,
                                       result={"skipped": f"the previous run {holder} is still going"}))
            return JobHandle(id=call.id, func=call.func, state="skipped")
        handle = None
        try:
            handle = _run(call, lambda: SYSTEM, reraise=reraise)
        finally:
            _release_schedule(name, call.id, handle.state if handle else "failed")
        return handle
    return _in_app(app, work)


def run_schedule_now(app, name: str) -> JobHandle:
    """Run a schedule entry now: on RQ as the cron scheduler would, or inline."""
    url = app.config.get("REDIS_URL")
    if not url:
        return run_scheduled(app, name)
    job_id = uuid.uuid4().hex
    try:
        Queue(app.config["RQ_QUEUE"], connection=_redis(url)).enqueue_call(
            SCHEDULED_RUNNER, args=(name,), kwargs={"config": forwarded_config(app)}, job_id=job_id,
            result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, timeout=app.config.get("RQ_JOB_TIMEOUT", 1800))
    except Exception as exc:
        raise Conflict(f"Redis does not answer, the run could not be queued: {exc}",
                       zh=f"Redis 无响应，无法排队执行：{exc}") from None
    return JobHandle(id=job_id, func=name, state="queued")


def _claim_schedule(app, name: str, job_id: str) -> str | None:
    """Take the schedule's run slot; None when taken, else the job id holding it."""
    s, now = _schedule_table(), _now()
    stale = now - dt.timedelta(seconds=app.config.get("RQ_JOB_TIMEOUT", 1800) + 60)
    take = dict(running_job_id=job_id, running_since=now, last_started_at=now, last_job_id=job_id)
    with db.engine.begin() as conn:
        row = conn.execute(sa.select(s.c.running_job_id).where(s.c.name == name)).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(s.insert().values(name=name, **take))
                return None
            except sa.exc.IntegrityError:
                return "(another scheduler)"
        holder = row.running_job_id
        if holder is not None and not _holder_gone(conn, holder):
            cond = s.c.running_since < stale
        else:
            cond = sa.or_(s.c.running_job_id.is_(None), s.c.running_job_id == holder)
        done = conn.execute(s.update().where(s.c.name == name, cond).values(**take))
        return None if done.rowcount == 1 else holder


def _holder_gone(conn, holder: str) -> bool:
    t = _table()
    state = conn.execute(sa.select(t.c.state).where(t.c.job_id == holder)).scalar()
    return state not in ("queued", "started")


def _release_schedule(name: str, job_id: str, state: str) -> None:
    s = _schedule_table()
    with db.engine.begin() as conn:
        conn.execute(s.update().where(s.c.name == name, s.c.running_job_id == job_id).values(
            running_job_id=None, running_since=None, last_finished_at=_now(), last_state=state))


def release_interrupted_runs() -> int:
    """At start-up of the in-process scheduler (the only process running jobs
    without Redis): runs recorded as started by a process that is gone are
    marked failed and their schedules freed."""
    t, s = _table(), _schedule_table()
    with db.engine.begin() as conn:
        ids = conn.execute(sa.select(s.c.running_job_id).where(s.c.running_job_id.isnot(None))).scalars().all()
        if ids:
            conn.execute(t.update().where(t.c.job_id.in_(ids), t.c.state == "started").values(
                state="failed", ended_at=_now(), error="interrupted: the process running it stopped"))
            conn.execute(s.update().where(s.c.running_job_id.in_(ids)).values(
                running_job_id=None, running_since=None, last_state="failed"))
    return len(ids)


def schedule_states() -> dict[str, dict]:
    s = _schedule_table()
    return {r["name"]: dict(r) for r in db.session.execute(sa.select(s)).mappings()}


def mark_due(name: str, due_at: dt.datetime) -> None:
    """The in-process scheduler fired ``name`` for ``due_at`` (missed-run bookkeeping)."""
    s = _schedule_table()
    with db.engine.begin() as conn:
        if conn.execute(s.update().where(s.c.name == name).values(last_due_at=due_at)).rowcount == 0:
            conn.execute(s.insert().values(name=name, last_due_at=due_at))


def schedules_overview(schedules: dict, lang: str) -> list[dict]:
    """Each schedule entry, when it runs next, and how its last run went."""
    states = schedule_states()
    now = _now()
    out = []
    for name, s in sorted(schedules.items()):
        state = states.get(name) or {}
        out.append({"name": name, "job": s.job, "cron": s.cron, "args": list(s.args), "kwargs": s.kwargs,
                    "description": pick(s.description, lang), "next_run": s.next_after(now).isoformat(),
                    "running_job_id": state.get("running_job_id"),
                    "last_job_id": state.get("last_job_id"), "last_state": state.get("last_state"),
                    "last_started_at": _iso_or_none(state.get("last_started_at")),
                    "last_finished_at": _iso_or_none(state.get("last_finished_at"))})
    return out


def _iso_or_none(value):
    return value.isoformat() if value else None


# ------------------------------------------------------------------ the record
def _table() -> sa.Table:
    md = current_app.extensions["medtrace"].models.metadata
    if "job_run" not in md.tables:
        raise RuntimeError("job_run is not defined: the app's engine tables include jobqueue.define_tables")
    return md.tables["job_run"]


def _schedule_table() -> sa.Table:
    return current_app.extensions["medtrace"].models.metadata.tables["job_schedule"]


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
        rq_state = _safe_rq_state(url, job_id)
        if out is None and rq_state:
            out = {"job_id": job_id, "state": rq_state["state"], "func": rq_state["func"],
                   "error": rq_state.get("error")}
        elif out and rq_state and rq_state["state"] == "failed":
            out.update(state="failed", error=rq_state.get("error"))
    if out is None:
        raise NotFound(f"unknown job {job_id!r}", zh=f"任务 {job_id!r} 不存在")
    return out


def _safe_rq_state(url: str, job_id: str) -> dict | None:
    try:
        return _rq_state(url, job_id)
    except Exception:  # Redis away: the table is what we know
        return None


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


def list_jobs(actor: Actor, *, state: str | None = None, schedule: str | None = None,
              limit: int = 50, offset: int = 0) -> dict:
    """Runs the actor may see, newest first: every run for users who see every
    warehouse (admins, QA, auditors), only their own for the others (a job's
    result may list any warehouse's stock)."""
    t = _table()
    q = sa.select(t)
    if actor.warehouse_ids is not None:
        q = q.where(t.c.username == actor.username)
    if state:
        q = q.where(t.c.state == state)
    if schedule:
        q = q.where(t.c.schedule == schedule)
    total = db.session.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(t.c.id.desc()).limit(limit).offset(offset)).mappings()
    return {"count": total, "jobs": [_row(r) for r in rows]}


def get_job(actor: Actor, job_id: str) -> dict:
    """One run, if the actor may see it (else NotFound, as for a missing one)."""
    out = job_status(job_id)
    if actor.warehouse_ids is not None and out.get("username") != actor.username:
        raise NotFound(f"unknown job {job_id!r}", zh=f"任务 {job_id!r} 不存在")
    return out


def retry_job(app, job_id: str, requested_by: Actor) -> JobHandle:
    """Run a failed (or skipped) job again with the same function and
    arguments, acting as the same user; the new run records who asked and
    which run it retries."""
    t = _table()
    row = db.session.execute(sa.select(t).where(t.c.job_id == job_id)).mappings().first()
    if row is None:
        raise NotFound(f"unknown job {job_id!r}", zh=f"任务 {job_id!r} 不存在")
    state = job_status(job_id)["state"]
    if state not in ("failed", "skipped"):
        raise Conflict(f"only a failed or skipped job can be retried; this one is {state}",
                       zh=f"只能重试失败或被跳过的任务；该任务状态为 {state}")
    if row["args"] is None:
        raise Conflict("this run was recorded without its arguments and cannot be retried",
                       zh="该任务记录中没有参数，无法重试")
    original = _call_of(row)
    call = _Call(id=uuid.uuid4().hex, func=original.func, args=original.args, kwargs=original.kwargs,
                 description=original.description, username=original.username,
                 retry_of=job_id, requested_by=requested_by.username)
    db.session.commit()  # the caller's reads end here: the run owns the session
    return _submit(app, call, actor_named(call.username), fresh_context=False)


def _row(row) -> dict:
    out = {k: v for k, v in dict(row).items() if k not in ("id", "args")}
    stored = row.get("args") if hasattr(row, "get") else None
    out["arguments"] = stored
    for k in ("enqueued_at", "started_at", "ended_at", "next_attempt_at", "delivered_at"):
        if k in out:
            out[k] = out[k].isoformat() if out[k] else None
    live = _progress.get(out["job_id"]) if out.get("state") == "started" else None
    if live:
        out["progress_done"], out["progress_total"] = live
    done, total = out.get("progress_done"), out.get("progress_total")
    out["progress"] = round(100 * done / total) if total else None
    out["started_by"] = ({"kind": "schedule", "name": out["schedule"]} if out.get("schedule")
                         else {"kind": "user", "name": out.get("username")})
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
