"""The home page: a dashboard of what the signed-in user may see."""
from __future__ import annotations

from flask import current_app, g, redirect, url_for
from flask_appbuilder import IndexView, expose

from app.actor import current_actor
from app.alerts import catalog
from app.dashboard import alert_panel, dashboard_figures
from app.i18n import Texts, current_language
from app.notifications.texts import TEXT as INBOX_TEXT
from app.database import db
from app.web.requests import runtime, service_context


class MedTraceIndexView(IndexView):
    route_base = ""
    index_template = "medtrace/index.html"

    @expose("/")
    def index(self):
        user = g.get("user")
        if user is None or not user.is_authenticated:
            return redirect(url_for("AuthDBView.login"))
        rt = runtime()
        figures = dashboard_figures(db.session, rt.models, current_actor(), rt.workflows)
        panel = alert_panel(service_context(), catalog(current_app.extensions["medtrace_alerts"]),
                            current_language(), workflow_entities=frozenset(rt.workflows))
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    figures=figures, panel=panel, it=Texts(INBOX_TEXT))
