"""Alert rule evaluation, one job per rule (each scheduled rule is a schedule
entry ``alert.<rule>``; see ``app.alerts``)."""
from __future__ import annotations

import datetime as dt

from flask import current_app

from app.alerts.evaluation import evaluate
from app.jobqueue import job_context, report_progress
from app.notifications.delivery import email_configured
from jobs.notification_jobs import send_emails


def evaluate_rule(rule: str, today: str | None = None) -> dict:
    """Raise what ``rule`` finds new, clear what stopped holding; then e-mail
    the new alerts (when SMTP is configured)."""
    rules = current_app.extensions["medtrace_alerts"]
    if rule not in rules:
        raise LookupError(f"unknown alert rule {rule!r}; known: {', '.join(sorted(rules))}")
    ctx = job_context()
    result = evaluate(ctx, rules[rule], today=dt.date.fromisoformat(today) if today else None,
                      progress=report_progress)
    ctx.session.commit()
    if result["raised"] and email_configured():
        try:
            result["email"] = send_emails()
        except RuntimeError as exc:  # the alerts stand; the e-mail schedule sends them later
            result["email"] = {"error": str(exc)}
    return result
