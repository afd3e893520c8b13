"""Stock housekeeping jobs: expire lots past their date, list what expires soon.

Run nightly from the scheduler or on demand, e.g.
``enqueue(app, "jobs.stock_jobs.expire_lots")``.
"""
from __future__ import annotations

import datetime as dt

from app.context import ServiceContext
from app.jobqueue import job_context
from app.stock.expiry import expire_past_lots, lots_expiring


def expire_lots(today: str | None = None) -> dict:
    """Mark available lots whose expiry date has passed as expired."""
    ctx = job_context()
    return expire_past_lots(ctx, _date(ctx, today))


def expiry_report(days: int | None = None, today: str | None = None) -> dict:
    """Lots expiring within ``days`` (default: the expiry warning window of
    metadata/policies.yaml) or already expired that are still on hand, with the
    quantity in each warehouse the actor may see."""
    ctx = job_context()
    window = int(days) if days is not None else ctx.models.meta.policies.expiry_warning_days
    return lots_expiring(ctx, _date(ctx, today), window)


def _date(ctx: ServiceContext, value: str | None) -> dt.date:
    return dt.date.fromisoformat(value) if value else ctx.now().date()
