"""Run the schedules of ``metadata/schedules.yaml`` (and of scheduled alert rules).

    python -m jobs.scheduler           # with REDIS_URL: RQ's cron scheduler + the outbox relay

With Redis, each schedule entry is registered with RQ's own ``CronScheduler``
(``rq.cron``), which enqueues ``jobs.run_scheduled(<name>)`` on the RQ_QUEUE
queue when it is due; workers run it. Beside it a thread delivers the outbox
(runs requested while Redis was unreachable), every JOB_RELAY_INTERVAL seconds.

Without Redis, ``run.py`` starts ``InProcessScheduler``: a thread in the web
process that runs the same entries inline.

Both: a run still going is not started twice (``app.jobqueue.run_scheduled``
records the second as skipped); a run missed while the scheduler was down runs
once when it starts again (RQ's cron registry, or ``job_schedule.last_due_at``,
tells when each entry was last fired); and an idle scheduler sleeps until the
next due time (see bench/README.md for its measured CPU use).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import threading
import time

log = logging.getLogger("medtrace.scheduler")


# ───────────────────────────────────────────────────────── with Redis: RQ's cron
def build_cron(app, connection, *, name: str = ""):
    """An ``rq.cron.CronScheduler`` with every schedule entry registered; an
    entry whose latest due time passed without being enqueued (scheduler
    down) is due at once."""
    from rq import cron_job_registry
    from rq.cron import CronScheduler

    import jobs
    from app.jobqueue import FAILURE_TTL, RESULT_TTL, forwarded_config

    scheduler = CronScheduler(connection=connection, name=name)
    queue = app.config["RQ_QUEUE"]
    now = dt.datetime.now(dt.timezone.utc)
    for schedule in app.extensions["medtrace_schedules"].values():
        cron_job = scheduler.register(
            jobs.run_scheduled, queue_name=queue, args=(schedule.name,),
            kwargs={"config": forwarded_config(app)}, cron=schedule.cron,
            name=f"{queue}:{schedule.name}", job_timeout=app.config.get("RQ_JOB_TIMEOUT", 1800),
            result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)
        last = connection.zscore(cron_job_registry.get_registry_key(), cron_job.name)
        due = schedule.last_due(now.replace(tzinfo=None)).replace(tzinfo=dt.timezone.utc)
        if last is None or dt.datetime.fromtimestamp(last, dt.timezone.utc) < due:
            cron_job.next_enqueue_time = now  # missed while we were down: once, now
    return scheduler


class Relay(threading.Thread):
    """Delivers the outbox every ``interval`` seconds (and sleeps in between)."""

    def __init__(self, app, interval: float):
        super().__init__(name="medtrace-outbox-relay", daemon=True)
        self.app, self.interval = app, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        from app.jobqueue import deliver_pending
        while not self.stopped.is_set():
            try:
                stats = deliver_pending(self.app)
                if stats["delivered"] or stats["deferred"] or stats["recovered"]:
                    log.info("outbox: %s", stats)
            except Exception:
                log.exception("outbox delivery failed; trying again in %ss", self.interval)
            self.stopped.wait(self.interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.scheduler", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown

    from jobs import worker_app

    logging.basicConfig(level=logging.INFO)
    app = worker_app()
    url = app.config["REDIS_URL"]
    if not url:
        print("REDIS_URL is not set: without Redis, run.py runs the schedules in the web process",
              file=sys.stderr)
        return 2
    relay = Relay(app, app.config.get("JOB_RELAY_INTERVAL", 30))
    relay.start()
    connection = Redis.from_url(url)
    while True:
        try:
            build_cron(app, connection).start()  # returns on SIGINT / SIGTERM
            return 0
        except RedisDown as exc:
            log.warning("Redis is unreachable (%s); the scheduler starts again in 10 s", exc)
            time.sleep(10)


# ───────────────────────────────────────────── without Redis: a thread in run.py
class InProcessScheduler(threading.Thread):
    """Runs the schedule entries in this process, inline, one at a time."""

    def __init__(self, app, clock=None, max_sleep: float = 3600.0):
        super().__init__(name="medtrace-scheduler", daemon=True)
        from app.domain.clock import utcnow
        self.app, self.clock, self.max_sleep = app, clock or utcnow, max_sleep
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def due(self, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
        """(entry, due time) of every entry whose latest due time has not been fired."""
        from app.jobqueue import schedule_states
        with self.app.app_context():
            states = schedule_states()
        out = []
        for name, schedule in self.app.extensions["medtrace_schedules"].items():
            due = schedule.last_due(now)
            last = (states.get(name) or {}).get("last_due_at")
            if last is None or last < due:
                out.append((name, due))
        return out

    def tick(self, now: dt.datetime | None = None) -> list[str]:
        """Fire what is due at ``now``; returns the entries run."""
        from app.jobqueue import deliver_pending, mark_due, run_scheduled
        now = now or self.clock()
        ran = []
        for name, due in self.due(now):
            with self.app.app_context():
                mark_due(name, due)
            run_scheduled(self.app, name)
            ran.append(name)
        deliver_pending(self.app)  # anything a crash left in the outbox
        return ran

    def seconds_to_next(self, now: dt.datetime) -> float:
        schedules = self.app.extensions["medtrace_schedules"].values()
        if not schedules:
            return self.max_sleep
        nearest = min(s.next_after(now) for s in schedules)
        return max(min((nearest - now).total_seconds(), self.max_sleep), 0.0)

    def run(self) -> None:
        from app.jobqueue import release_interrupted_runs
        with self.app.app_context():
            release_interrupted_runs()
        while not self.stopped.is_set():
            try:
                ran = self.tick()
                if ran:
                    log.info("scheduled runs: %s", ", ".join(ran))
            except Exception:
                log.exception("a scheduled run could not start")
            # sleep until the next due time; a clock change is caught within max_sleep
            self.stopped.wait(self.seconds_to_next(self.clock()) + 0.5)


if __name__ == "__main__":
    sys.exit(main())
