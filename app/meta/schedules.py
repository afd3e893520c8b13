"""Scheduled jobs (``metadata/schedules.yaml``): read and validated in the
style of every metadata file (``app.meta.files``): every problem at once,
naming the file, the key and what is wrong.

    schedules:
      expire_lots:
        job: jobs.stock_jobs.expire_lots      # a job function, by dotted path
        cron: "15 0 * * *"                    # minute hour day month weekday (server time)
        args: []                              # optional, JSON values
        kwargs: {}                            # optional
        description: {en: ..., zh: ...}

A cron expression that does not parse or never fires (``0 0 31 2 *``), a job
function that does not exist, or arguments its signature does not accept stop
start-up. Alert rules evaluated on a schedule add one entry each
(``alert.<rule>``). The same entries run under RQ's cron scheduler
(``python -m jobs.scheduler``) or, without Redis, in the web process (run.py).
"""
from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from marshmallow import RAISE, Schema, fields, validate

from app.meta.files import IDENTIFIER, Label, MetadataError, load_document, read_yaml

SCHEDULE_NAME = r"^[a-z][a-z0-9_.]*$"


@dataclass(frozen=True)
class Schedule:
    name: str
    job: str
    cron: str
    description: dict[str, str]
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    source: str = ""

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first time after ``moment`` (naive UTC) the schedule fires, naive UTC.
        Cron fields are read in the server's local time, as RQ's scheduler does."""
        return _to_utc(croniter(self.cron, _to_local(moment)).get_next(dt.datetime))

    def last_due(self, moment: dt.datetime) -> dt.datetime:
        """The latest time at or before ``moment`` the schedule fired, naive UTC."""
        local = _to_local(moment + dt.timedelta(seconds=1))
        return _to_utc(croniter(self.cron, local).get_prev(dt.datetime))


def _to_local(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None)


def _to_utc(local: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp(local.replace(fold=0).timestamp(), dt.timezone.utc).replace(tzinfo=None)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _EntrySchema(_Strict):
    job = fields.String(required=True, validate=validate.Length(min=3, max=200))
    cron = fields.String(required=True)
    args = fields.List(fields.Raw(), load_default=list)
    kwargs = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENTIFIER)), load_default=dict)
    description = Label(required=True)


class _FileSchema(_Strict):
    schedules = fields.Dict(keys=fields.String(validate=validate.Regexp(
        SCHEDULE_NAME, error="must be lower_snake_case (a-z, 0-9, _)")),
        values=fields.Nested(_EntrySchema), required=True)


def cron_problem(expr: str) -> str | None:
    """Why ``expr`` is not a usable cron expression, or None."""
    if not isinstance(expr, str) or len(expr.split()) != 5:
        return "must be a cron expression of 5 fields: minute hour day-of-month month day-of-week"
    try:
        itr = croniter(expr, dt.datetime(2000, 1, 1))
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        return f"not a valid cron expression: {exc}"
    try:
        itr.get_next(dt.datetime)
    except CroniterBadDateError:
        return "never fires (no such date, e.g. 31 February)"
    return None


def job_problem(job: str, args: Iterable, kwargs: dict,
                resolve: Callable[[str], Callable]) -> tuple[str, str] | None:
    """(key, problem) when ``job`` cannot be found or does not accept the arguments."""
    try:
        target = resolve(job)
    except LookupError as exc:
        return "job", str(exc)
    try:
        inspect.signature(target).bind(*args, **kwargs)
    except TypeError as exc:
        return "args", f"{job} does not accept these arguments: {exc}"
    except ValueError:
        pass  # no signature to check (a builtin)
    return None


def load_schedules(root: Path, resolve: Callable[[str], Callable],
                   extra: Iterable[Schedule] = ()) -> dict[str, Schedule]:
    """Every schedule: ``metadata/schedules.yaml`` plus ``extra`` (alert rules)."""
    path = Path(root) / "metadata" / "schedules.yaml"
    out: dict[str, Schedule] = {}
    if path.exists():
        source = str(path)
        doc = load_document(_FileSchema(), read_yaml(path) or {}, source)
        problems: list[tuple[str, str]] = []
        for name, entry in doc["schedules"].items():
            at = f"schedules.{name}"
            bad = cron_problem(entry["cron"])
            if bad:
                problems.append((f"{at}.cron", bad))
            found = job_problem(entry["job"], entry["args"], entry["kwargs"], resolve)
            if found:
                problems.append((f"{at}.{found[0]}", found[1]))
            out[name] = Schedule(name=name, job=entry["job"], cron=entry["cron"],
                                 description=entry["description"], args=tuple(entry["args"]),
                                 kwargs=dict(entry["kwargs"]), source=source)
        if problems:
            raise MetadataError(source, problems=problems)
    for schedule in extra:
        if schedule.name in out:
            raise MetadataError(schedule.source, "alert",
                                f"its schedule {schedule.name!r} is already declared in {out[schedule.name].source}")
        out[schedule.name] = schedule
    return out
