"""Job functions, run by RQ workers (or inline without Redis).

RQ calls ``run_job``, never a job function directly: it builds the worker's app
once per process, acts as the user who enqueued the job, and records the run
in ``job_run`` (see ``app.jobqueue``).
"""
from __future__ import annotations

from typing import Any

_worker_apps: dict[tuple, Any] = {}


def worker_app(config: dict | None = None):
    """The app a worker runs jobs in, built once per process and configuration."""
    key = tuple(sorted((config or {}).items()))
    if key not in _worker_apps:
        from app import create_app  # the worker builds the app; the app never imports jobs
        _worker_apps[key] = create_app(dict(config or {}))
    return _worker_apps[key]


def run_job(func_path: str, args: list, kwargs: dict, actor_username: str | None = None,
            config: dict | None = None):
    """Run ``func_path(*args, **kwargs)`` and return its JSON result. ``config``
    carries the enqueuing app's database URL and project folder when they
    differ from this worker's environment."""
    from app.jobqueue import run_on_worker
    return run_on_worker(worker_app(config), func_path, args, kwargs, actor_username)


def run_scheduled(schedule: str, config: dict | None = None):
    """What RQ's cron scheduler enqueues for each schedule entry: run it in the
    worker's app, unless the previous run of the same schedule is still going."""
    from rq import get_current_job

    from app.jobqueue import run_scheduled as run
    job = get_current_job()
    handle = run(worker_app(config), schedule, job_id=job.id if job else None, reraise=True)
    return {"state": handle.state, "result": handle.result}
