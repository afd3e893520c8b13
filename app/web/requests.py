"""Who is asking, and the ServiceContext their request works with.

Views and APIs call ``service_context()``; the actor is resolved once per
request from the FAB session or JWT user, with their roles and warehouse scope.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context
from flask_login import current_user

from app.actor import Actor, current_actor
from app.context import ServiceContext
from app.database import db
from app.runtime import Runtime
from app.security import actor_for

ANONYMOUS = Actor(username="anonymous", warehouse_ids=frozenset())


def runtime() -> Runtime:
    return current_app.extensions["medtrace"]


def request_actor() -> Actor | None:
    """The actor of the current request (cached on ``g``); None outside a request."""
    if not has_request_context():
        return None
    cached = g.get("medtrace_actor")
    if cached is not None:
        return cached
    user = g.get("user") or current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    rt = runtime()
    actor = actor_for(db.session, rt.models, rt.meta, user)
    g.medtrace_actor = actor
    return actor


def service_context() -> ServiceContext:
    return runtime().context(db.session, current_actor())
