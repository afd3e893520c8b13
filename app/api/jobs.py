"""The job log and the schedules:

- ``GET  /api/v1/jobs/?state=&schedule=&page=&page_size=``: runs, newest first, and the outbox backlog
- ``GET  /api/v1/jobs/<job_id>``: one run: state, who or which schedule started it,
  times, duration, progress, result or error
- ``POST /api/v1/jobs/<job_id>/retry``: run a failed job again (admins)
- ``GET  /api/v1/jobs/schedules``: the schedule entries, when each runs next and how the last run went
- ``POST /api/v1/jobs/schedules/<name>/run``: run an entry now (admins)

Reading needs ``read`` on JobRun (admins; QA and auditors by roles.yaml);
users who see only some warehouses see only the runs they started.
"""
from __future__ import annotations

from flask import current_app, request
from flask_appbuilder.api import expose, protect, safe

from app import jobqueue
from app.api.base import DomainApi
from app.api.paging import page_args
from app.domain.errors import NotFound, ValidationFailed
from app.i18n import current_language


class JobsApi(DomainApi):
    resource_name = "jobs"
    class_permission_name = "JobRun"
    method_permission_name = {"list_runs": "read", "get_run": "read", "retry": "write",
                              "schedules": "read", "run_schedule": "write"}
    openapi_spec_tag = "Jobs"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def list_runs(self):
        """Job runs, newest first, with the outbox backlog.
        ---
        get:
          responses:
            200: {description: runs and backlog}
            422: {description: a bad filter or page}
        """
        def call(ctx):
            state = request.args.get("state") or None
            if state is not None and state not in jobqueue.STATES:
                raise ValidationFailed(f"state must be one of {', '.join(jobqueue.STATES)}",
                                       zh=f"state 必须是以下之一：{'、'.join(jobqueue.STATES)}")
            limit, offset = page_args()
            waiting = jobqueue.backlog()  # its own connection: before this request's reads begin
            out = jobqueue.list_jobs(ctx.actor, state=state, schedule=request.args.get("schedule") or None,
                                     limit=limit, offset=offset)
            return {**out, "backlog": waiting}
        return self.run(call, commit=False)

    @expose("/schedules", methods=["GET"])
    @protect()
    @safe
    def schedules(self):
        """The schedule entries and how each last ran.
        ---
        get:
          responses:
            200: {description: the schedules}
        """
        return self.run(lambda ctx: {"schedules": jobqueue.schedules_overview(current_app.extensions["medtrace_schedules"], current_language())}, commit=False)

    @expose("/schedules/<name>/run", methods=["POST"])
    @protect()
    @safe
    def run_schedule(self, name):
        """Run a schedule entry now (skipped if a run of it is still going).
        ---
        post:
          responses:
            202: {description: the run}
            404: {description: unknown schedule}
        """
        def call(ctx):
            if name not in current_app.extensions["medtrace_schedules"]:
                raise NotFound(f"unknown schedule {name!r}", zh=f"计划任务 {name!r} 不存在")
            ctx.session.commit()
            handle = jobqueue.run_schedule_now(current_app._get_current_object(), name)
            return {"job_id": handle.id, "state": handle.state}
        return self.run(call, status=202)

    @expose("/<job_id>", methods=["GET"])
    @protect()
    @safe
    def get_run(self, job_id):
        """One run.
        ---
        get:
          responses:
            200: {description: the run}
            404: {description: unknown, or not yours}
        """
        return self.run(lambda ctx: jobqueue.get_job(ctx.actor, _job_id(job_id)), commit=False)

    @expose("/<job_id>/retry", methods=["POST"])
    @protect()
    @safe
    def retry(self, job_id):
        """Run a failed job again, as the user it acted as.
        ---
        post:
          responses:
            202: {description: the new run}
            404: {description: unknown job}
            409: {description: the job did not fail}
        """
        def call(ctx):
            handle = jobqueue.retry_job(current_app._get_current_object(), _job_id(job_id), ctx.actor)
            return {"job_id": handle.id, "state": handle.state, "retry_of": job_id}
        return self.run(call, status=202)


def _job_id(value: str) -> str:
    if not (1 <= len(value) <= 64) or not value.replace("-", "").replace("_", "").isalnum() or not value.isascii():
        raise NotFound(f"unknown job {value[:70]!r}", zh=f"任务 {value[:70]!r} 不存在")
    return value


def register(appbuilder) -> None:
    appbuilder.add_api(JobsApi)
