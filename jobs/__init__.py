"""Job functions, run by RQ workers (or inline without Redis).

RQ calls ``run_job``, never a job function directly: it builds the worker's app
once per process, acts as the user who enqueued the job, and records the run
in ``job_run`` (see ``app.jobs``).
"""
from __future__ import annotations


def run_job(func_path: str, args: list, kwargs: dict, actor_username: str | None = None,
            config: dict | None = None):
    """Run ``func_path(*args, **kwargs)`` and return its JSON result. ``config``
    carries the enqueuing app's database URL and project folder when they
    differ from this worker's environment."""
    from app.jobs import run_on_worker
    return run_on_worker(func_path, args, kwargs, actor_username, config)
