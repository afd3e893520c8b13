"""CPU used by an idle scheduler: the in-process scheduler (run.py without
Redis) and ``python -m jobs.scheduler`` (RQ's cron scheduler plus the outbox
relay), each in a process of its own, measured from /proc over a window in
which no schedule entry is due.

    .venv/bin/python bench/scheduler_idle.py [--seconds 120]

Each process first marks every entry as fired for its latest due time, so the
start-up catch-up runs nothing, then idles; user+system CPU time of the whole
process is read at the start and the end of the window.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine

CHILD = r"""
import datetime as dt, os, sys, threading, time
sys.path.insert(0, {root!r})
import logging; logging.disable(logging.WARNING)
from app import create_app, db
from app.cli import run_sync
from app.jobqueue import mark_due
from app.domain.clock import utcnow
app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}, "SECRET_KEY": "x" * 32, "REDIS_URL": {redis!r},
                   "RQ_QUEUE": "medtrace-idle-bench"}})
with app.app_context():
    run_sync(lambda *_: None)
    now = utcnow()
    for name, s in app.extensions["medtrace_schedules"].items():
        mark_due(name, s.last_due(now))
mode = {mode!r}
if mode == "inprocess":
    from jobs.scheduler import InProcessScheduler
    InProcessScheduler(app).start()
    print("ready", flush=True)
    threading.Event().wait()
else:
    import jobs
    jobs._worker_apps[()] = app
    from redis import Redis
    from rq import cron_job_registry
    conn = Redis.from_url({redis!r})
    for name in app.extensions["medtrace_schedules"]:  # fired at their last due time: nothing missed
        conn.zadd(cron_job_registry.get_registry_key(), {{f"medtrace-idle-bench:{{name}}": time.time()}})
    print("ready", flush=True)
    from jobs.scheduler import main
    main([])
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, seconds: float, redis: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        code = CHILD.format(root=str(ROOT), url=f"sqlite:///{folder}/idle.db", redis=redis, mode=mode)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env={**os.environ, "REDIS_URL": redis})
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(5)  # let start-up settle
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = cpu_seconds(proc.pid), time.monotonic()
        finally:
            proc.terminate()
            proc.wait(10)
    used = c1 - c0
    return (f"  {mode:<10} idle {t1 - t0:5.0f} s: CPU {used * 1000:6.0f} ms "
            f"= {100 * used / (t1 - t0):.3f}% of one core")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    opts = parser.parse_args()
    print(machine())
    print("== idle scheduler CPU (clock ticks of 10 ms: below 10 ms reads as 0)")
    print(measure("inprocess", opts.seconds, ""), flush=True)
    print(measure("rq", opts.seconds, opts.redis), flush=True)


if __name__ == "__main__":
    main()
