"""Web wiring: generated screens and APIs, purpose-built pages, the request's
actor and the mapping of domain errors to responses."""
from __future__ import annotations

from flask import Flask, g, has_request_context, jsonify
from flask_login import current_user

from app.actor import Actor, set_resolver
from app.domain.errors import DomainError
from app.runtime import Runtime
from app.security import actor_for

ANONYMOUS = Actor(username="anonymous", warehouse_ids=frozenset())


def request_language() -> str:
    """The language to answer in: the one the user picked in the UI, else what
    the client's Accept-Language prefers (scripts using JWT), else English."""
    from flask import request, session
    if session.get("locale") == "zh":
        return "zh"
    best = request.accept_languages.best_match(["en", "zh"]) if request.accept_languages else None
    return best or "en"


def _request_actor():
    if not has_request_context():
        return None
    cached = g.get("medtrace_actor")
    if cached is not None:
        return cached
    user = g.get("user") or current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return ANONYMOUS
    from flask import current_app
    from app import db
    runtime: Runtime = current_app.extensions["medtrace"]
    actor = actor_for(db.session, runtime.models, runtime.meta, user)
    g.medtrace_actor = actor
    return actor


def wire(app: Flask, appbuilder, runtime: Runtime) -> None:
    from app.api import inventory as inventory_api
    from app.api import transfers as transfers_api
    from app.meta.views import register_entities
    from app.views import inventory_pages, pages, transfer_pages

    set_resolver(_request_actor)
    register_entities(appbuilder, runtime.models)
    inventory_api.register(appbuilder)
    transfers_api.register(appbuilder)
    pages.register(appbuilder, runtime)
    # (menu name, entity, permission) of each purpose-built page, for permission sync
    runtime.settings["pages"] = (inventory_pages.register(appbuilder, runtime)
                                 + transfer_pages.register(appbuilder, runtime))

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        from app import db
        db.session.rollback()
        return jsonify(exc.to_dict(request_language())), exc.status
