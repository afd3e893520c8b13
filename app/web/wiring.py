"""Register everything the web serves: the generated screens and APIs, the
domain APIs, the purpose-built pages, and the mapping of errors to answers."""
from __future__ import annotations

from flask import Flask, jsonify

from app.actor import set_resolver
from app.api import documents as documents_api
from app.api import entry as entry_api
from app.api import inventory as inventory_api
from app.api import jobs as jobs_api
from app.api import notifications as notifications_api
from app.api import regulated as regulated_api
from app.api import transfers as transfers_api
from app.crud import register_entities
from app.database import db
from app.domain.errors import DomainError
from app.i18n import current_language
from app.runtime import Runtime
from app.views import (
    audit_pages, document_pages, inventory_pages, jobs_pages, notification_pages, putaway_pages,
    receipt_pages, shipment_pages, signed_change_pages, site, transfer_entry, transfer_pages,
)
from app.web.requests import request_actor


def wire(app: Flask, appbuilder, runtime: Runtime) -> None:
    set_resolver(request_actor)
    register_entities(appbuilder, runtime.models)
    inventory_api.register(appbuilder)
    transfers_api.register(appbuilder)
    entry_api.register(appbuilder)
    documents_api.register(appbuilder, runtime.workflows, runtime.meta)
    regulated_api.register(appbuilder, runtime.meta)
    audit_pages.register(appbuilder, runtime)
    signed_change_pages.register(appbuilder, runtime)
    jobs_api.register(appbuilder)
    notifications_api.register(appbuilder)
    jobs_pages.register(appbuilder, runtime)
    notification_pages.register(app, appbuilder, runtime)
    runtime.pages = (inventory_pages.register(appbuilder, runtime)
                     + putaway_pages.register(appbuilder, runtime)
                     + shipment_pages.register(appbuilder, runtime)
                     + receipt_pages.register(appbuilder, runtime)
                     + transfer_pages.register(appbuilder, runtime)
                     + transfer_entry.register(appbuilder, runtime)
                     # transfers have purpose-built pages; every other workflow document the generic ones
                     + document_pages.register(appbuilder, runtime, skip={"TransferOrder"}))
    pages_first(appbuilder, {page for page, _, _ in runtime.pages})
    site.register(app, appbuilder, runtime.meta)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        return jsonify(exc.to_dict(current_language())), exc.status


def pages_first(appbuilder, pages: set[str]) -> None:
    """In each menu, the purpose-built pages (where the day's work is done) come
    before the generated lists, in the order they were registered."""
    for category in appbuilder.menu.get_list():
        if category.childs:
            category.childs.sort(key=lambda item: item.name not in pages)
