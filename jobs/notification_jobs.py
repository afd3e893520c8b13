"""E-mail delivery of notifications: one digest per user (see
``app.notifications.email``). Run after alerts or workflow notices are raised,
and on a schedule, so a digest the mail server refused is sent later."""
from __future__ import annotations

from flask import current_app

from app.alerts import catalog
from app.database import db
from app.notifications.email import MailUser, SmtpSettings, send_digests
from app.security import actor_for


def send_emails() -> dict:
    settings = SmtpSettings.from_config(current_app.config)
    if settings is None:
        return {"skipped": "SMTP_HOST is not set: no e-mail is sent"}
    rt = current_app.extensions["medtrace"]
    users = [MailUser(username=u.username, email=u.email, created_on=u.created_on,
                      context=rt.context(db.session, actor_for(db.session, rt.models, rt.meta, u)))
             for u in current_app.appbuilder.sm.get_all_users() if u.is_active and u.email]
    result = send_digests(users, catalog(current_app.extensions["medtrace_alerts"]), settings,
                          workflow_entities=frozenset(rt.workflows))
    if result["failed"]:
        raise RuntimeError(f"the mail server refused digests for {', '.join(sorted(result['failed']))}: "
                           f"{next(iter(result['failed'].values()))} (sent {result['emails']}; "
                           "the others are sent again by the next run)")
    return result
