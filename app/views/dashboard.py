"""The home page: a dashboard of what the signed-in user may see."""
from __future__ import annotations

from flask import current_app, g, redirect, url_for
from flask_appbuilder import IndexView, expose

from app.actor import current_actor


class MedTraceIndexView(IndexView):
    route_base = ""
    index_template = "medtrace/index.html"

    @expose("/")
    def index(self):
        user = g.get("user")
        if user is None or not user.is_authenticated:
            return redirect(url_for("AuthDBView.login"))
        from app import db
        from app.services.dashboard import dashboard_figures
        runtime = current_app.extensions["medtrace"]
        figures = dashboard_figures(db.session, runtime.models, current_actor())
        return self.render_template(self.index_template, appbuilder=self.appbuilder,
                                    figures=figures)
