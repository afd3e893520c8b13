"""Who must hear about a document now, for the ``notify_approvers`` and
``notify_requester`` tasks every workflow may name: the users whose roles may
take an action from the current state, within the warehouse that action
belongs to; or the document's creator."""
from __future__ import annotations

from app.context import ServiceContext
from app.documents.engine import entity_meta, scope_field, title_of, workflow_of
from app.documents.registry import Registry


def recipients(ctx: ServiceContext, document, requester: bool) -> dict:
    entity = type(document).__entity__.name
    wf = workflow_of(ctx, entity)
    state = getattr(document, wf.state_field)
    base = {"document": title_of(document), "entity": entity, "state": state}
    if requester:
        return {**base, "notify": [document.created_by] if document.created_by else []}
    meta = entity_meta(ctx, entity)
    found = set()
    users = ctx.directory.users_with_roles if ctx.directory else None
    for t in wf.transitions_from(state):
        field = scope_field(wf, meta, t)
        warehouse = getattr(document, meta.fields[field].column) if field and field != "id" else None
        for username, scope in (users(t.roles) if users else []):
            if username != document.created_by and (scope is None or warehouse is None or warehouse in scope):
                found.add(username)
    return {**base, "notify": sorted(found)}


def register(registry: Registry) -> None:
    registry.effect("notify_approvers", lambda ctx, doc, details: recipients(ctx, doc, requester=False))
    registry.effect("notify_requester", lambda ctx, doc, details: recipients(ctx, doc, requester=True))
