"""Start an RQ worker for MedTrace jobs.

    python -m jobs.worker            # work the RQ_QUEUE queue on REDIS_URL until stopped
    python -m jobs.worker --burst    # run what is queued, then exit
    python -m jobs.worker --simple   # no fork per job (platforms without fork, debugging)

REDIS_URL, RQ_QUEUE, DATABASE_URL and MEDTRACE_ROOT come from the environment,
as for the web app (see config.py). A job enqueued by an app with another
database or project folder carries them, and runs in an app built for them.

The app is built once, before the work loop, so each forked job process
inherits it instead of reading metadata and compiling models again.
"""
from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork)")
    parser.add_argument("--with-scheduler", action="store_true",
                        help="also run RQ's scheduler for jobs enqueued at a later time")
    opts = parser.parse_args(argv)

    from redis import Redis
    from rq import Queue, SimpleWorker, Worker

    from app.database import db
    from jobs import worker_app

    app = worker_app()
    url, queue = app.config["REDIS_URL"], app.config["RQ_QUEUE"]
    if not url:
        print("REDIS_URL is not set: without Redis, jobs run inline in the web process", file=sys.stderr)
        return 2
    with app.app_context():
        db.engine.dispose()  # forked job processes open connections of their own
    logging.basicConfig(level=logging.INFO)
    connection = Redis.from_url(url)
    worker_class = SimpleWorker if opts.simple else Worker
    worker = worker_class([Queue(queue, connection=connection)], connection=connection)
    worker.work(burst=opts.burst, with_scheduler=opts.with_scheduler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
