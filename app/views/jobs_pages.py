"""The Jobs page (Administration → Jobs): the outbox backlog, the schedules
and recent runs with state, who or which schedule started them, times,
duration, progress and result or error; admins retry failed runs and run a
schedule now. Reads through ``app.jobqueue``; acts through ``/api/v1/jobs/``."""
from __future__ import annotations

from flask import abort, current_app, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app import jobqueue
from app.domain.errors import NotFound
from app.i18n import Texts, current_language, lazy
from app.runtime import Runtime
from app.web.requests import service_context

MENU = "JobRun"
TEXT = {
    "jobs": {"en": "Jobs", "zh": "后台任务"},
    "intro": {"en": "Background work: scheduled runs, alert evaluation, e-mail, and jobs started by people.",
              "zh": "后台工作：计划任务、提醒规则评估、邮件发送以及用户发起的任务。"},
    "mode_rq": {"en": "Jobs run on RQ workers (Redis).", "zh": "任务由 RQ 工作进程（Redis）执行。"},
    "mode_inline": {"en": "No Redis: jobs run in the web process.", "zh": "未配置 Redis：任务在 Web 进程内执行。"},
    "backlog": {"en": "Outbox", "zh": "待投递队列"},
    "backlog_none": {"en": "Nothing is waiting for Redis.", "zh": "没有等待 Redis 的任务。"},
    "backlog_some": {"en": "{n} run(s) wait for Redis since {since} ({attempts} attempts so far).",
                     "zh": "{n} 个任务自 {since} 起等待 Redis（已尝试 {attempts} 次）。"},
    "last_error": {"en": "Last error", "zh": "最近错误"},
    "schedules": {"en": "Schedules", "zh": "计划任务"},
    "schedule": {"en": "Schedule", "zh": "计划"},
    "cron": {"en": "When (cron, server time)", "zh": "执行时间（cron，服务器时间）"},
    "next_run": {"en": "Next run (UTC)", "zh": "下次执行 (UTC)"},
    "last_run": {"en": "Last run", "zh": "上次执行"},
    "run_now": {"en": "Run now", "zh": "立即执行"},
    "runs": {"en": "Recent runs", "zh": "最近执行记录"},
    "all_states": {"en": "Any state", "zh": "全部状态"},
    "filter": {"en": "Filter", "zh": "筛选"},
    "job": {"en": "Job", "zh": "任务"},
    "state": {"en": "State", "zh": "状态"},
    "started_by": {"en": "Started by", "zh": "发起者"},
    "by_schedule": {"en": "schedule {name}", "zh": "计划 {name}"},
    "retry_by": {"en": "retry by {name}", "zh": "{name} 重试"},
    "enqueued": {"en": "Requested (UTC)", "zh": "请求时间 (UTC)"},
    "started": {"en": "Started (UTC)", "zh": "开始时间 (UTC)"},
    "duration": {"en": "Duration", "zh": "耗时"},
    "progress": {"en": "Progress", "zh": "进度"},
    "result": {"en": "Result or error", "zh": "结果或错误"},
    "retry": {"en": "Retry", "zh": "重试"},
    "none": {"en": "No runs yet.", "zh": "暂无执行记录。"},
    "details": {"en": "Details", "zh": "详情"},
    "back": {"en": "Back to the jobs", "zh": "返回任务列表"},
    "arguments": {"en": "Arguments", "zh": "参数"},
    "acts_as": {"en": "Acts as", "zh": "执行身份"},
    "attempts": {"en": "Delivery attempts", "zh": "投递尝试次数"},
    "retry_of": {"en": "Retry of", "zh": "重试自"},
    "requested_by": {"en": "Requested by", "zh": "发起人"},
    "ended": {"en": "Ended (UTC)", "zh": "结束时间 (UTC)"},
    "queued_done": {"en": "Requested.", "zh": "已提交。"},
    "failed": {"en": "The server refused the request", "zh": "服务器拒绝了请求"},
    "done": {"en": "Done.", "zh": "完成。"},
    "working": {"en": "Working…", "zh": "处理中…"},
    "pending": {"en": "pending (outbox)", "zh": "待投递"},
    "queued": {"en": "queued", "zh": "排队中"},
    "started_state": {"en": "running", "zh": "运行中"},
    "finished": {"en": "finished", "zh": "已完成"},
    "failed_state": {"en": "failed", "zh": "失败"},
    "skipped": {"en": "skipped", "zh": "已跳过"},
}
STATE_TEXT = {"pending": "pending", "queued": "queued", "started": "started_state",
              "finished": "finished", "failed": "failed_state", "skipped": "skipped"}
JS_TEXT = ("failed", "done", "working", "queued_done")


def register(appbuilder, runtime: Runtime) -> None:
    class JobsView(BaseView):
        route_base = "/jobs"
        default_view = "jobs"
        class_permission_name = MENU
        method_permission_name = {"jobs": "read", "job": "read"}

        def _page(self, template: str, **kw):
            t = Texts(TEXT)
            sm = self.appbuilder.sm
            return self.render_template(template, t=t, lang=t.lang, js_text=t.subset(JS_TEXT),
                                        state_text={k: t(v) for k, v in STATE_TEXT.items()},
                                        can_act=sm.has_access("can_write", MENU), **kw)

        @expose("/")
        @has_access
        def jobs(self):
            ctx = service_context()
            state = request.args.get("state") or None
            if state not in (None, *jobqueue.STATES):
                state = None
            waiting = jobqueue.backlog()  # own connections first: SQLite's lock goes to one at a time
            schedules = jobqueue.schedules_overview(current_app.extensions["medtrace_schedules"],
                                                    current_language())
            runs = jobqueue.list_jobs(ctx.actor, state=state, limit=100)
            ctx.session.rollback()
            return self._page("medtrace/jobs.html", title=Texts(TEXT)("jobs"), runs=runs, state=state,
                              states=jobqueue.STATES, backlog=waiting, schedules=schedules,
                              schedule_labels={s["name"]: s["description"] for s in schedules},
                              redis=bool(current_app.config.get("REDIS_URL")))

        @expose("/<job_id>/")
        @has_access
        def job(self, job_id):
            ctx = service_context()
            try:
                run = jobqueue.get_job(ctx.actor, job_id[:64])
            except NotFound:
                abort(404)
            finally:
                ctx.session.rollback()
            return self._page("medtrace/job.html", title=f"{Texts(TEXT)('job')} {run['job_id']}", run=run)

    appbuilder.add_view(JobsView, MENU, label=lazy(TEXT["jobs"]), icon="fa-tasks", category="admin",
                        category_label=lazy(runtime.meta.modules.get("admin", {"en": "Admin", "zh": "管理"})))
