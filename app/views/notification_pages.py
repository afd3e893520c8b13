"""The inbox (收件箱): every signed-in user's notifications, with
acknowledge, resolve, comment and mute; a bell in the top bar with the unread
count. Pages read through ``app.notifications.inbox``; the buttons act
through ``/api/v1/notifications/``."""
from __future__ import annotations

from pathlib import Path

import flask_appbuilder
from flask import abort, current_app, g, redirect, request
from flask_appbuilder import BaseView, expose
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from app.alerts import catalog
from app.alerts.sources import shown_fields
from app.domain.errors import DomainError, NotFound
from app.i18n import Texts, current_language
from app.notifications import inbox
from app.notifications.texts import TEXT
from app.runtime import Runtime
from app.web.requests import service_context

JS_TEXT = ("failed", "done", "working", "resolve_prompt", "comment_prompt")
FAB_TEMPLATES = Path(flask_appbuilder.__file__).parent / "templates"


def _kinds():
    return catalog(current_app.extensions["medtrace_alerts"])


def _signed_in() -> bool:
    user = g.get("user")
    return user is not None and user.is_authenticated


def unread_for_current_user() -> int | None:
    """The bell's number, or None when nobody is signed in."""
    if not _signed_in():
        return None
    ctx = service_context()
    try:
        return inbox.unread_count(ctx, _kinds())
    except Exception:  # the navbar must render even if the count cannot be had
        current_app.logger.exception("unread notifications could not be counted")
        return None


def register(app, appbuilder, runtime: Runtime) -> None:
    """The inbox pages, the bell and its template override."""
    workflow_entities = frozenset(runtime.workflows)

    class InboxView(BaseView):
        route_base = "/notifications"
        default_view = "inbox"

        def _page(self, template: str, **kw):
            t = Texts(TEXT)
            return self.render_template(template, t=t, lang=t.lang, js_text=t.subset(JS_TEXT), **kw)

        @expose("/")
        def inbox(self):
            if not _signed_in():
                return redirect(appbuilder.get_url_for_login)
            ctx = service_context()
            show = request.args.get("show", "unread")
            if show not in inbox.FILTERS:
                show = "unread"
            data = inbox.list_notifications(ctx, _kinds(), current_language(), show=show, limit=200,
                                            workflow_entities=workflow_entities)
            rules = inbox.rules_for(ctx, _kinds(), current_language())
            ctx.session.rollback()
            return self._page("medtrace/inbox.html", title=Texts(TEXT)("inbox"), data=data, show=show,
                              filters=inbox.FILTERS, rules=rules)

        @expose("/<int:notification_id>/")
        def detail(self, notification_id):
            if not _signed_in():
                return redirect(appbuilder.get_url_for_login)
            ctx = service_context()
            try:
                item = inbox.notification_detail(ctx, _kinds(), notification_id, current_language(),
                                                 workflow_entities)
            except (NotFound, DomainError):
                abort(404)
            finally:
                ctx.session.rollback()
            rule = current_app.extensions["medtrace_alerts"].get(item["rule"])
            entity = rule.trigger.entity if rule is not None else item["entity"]
            fields = shown_fields(runtime.meta, entity, item["data"], current_language())
            return self._page("medtrace/notification.html", title=item["rule_label"], item=item, fields=fields)

    appbuilder.add_view_no_menu(InboxView)

    # the bell: FAB's own navbar_right.html stays as it is, included after ours
    app.jinja_loader = ChoiceLoader([app.jinja_loader,
                                     PrefixLoader({"fab": FileSystemLoader(str(FAB_TEMPLATES))})])

    @app.context_processor
    def _bell():
        return {"medtrace_bell": unread_for_current_user, "medtrace_bell_text": lambda n: Texts(TEXT)("bell", n=n)}
