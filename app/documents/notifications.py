"""Who must hear about a document now, for the ``notify_approvers`` and
``notify_requester`` tasks every workflow may name: the users whose roles may
take an action from the current state, within the warehouse that action
belongs to; or the document's creator. They are told through the
notification channels: their inbox, and e-mail when SMTP is configured."""
from __future__ import annotations

from app.context import ServiceContext
from app.documents.engine import entity_meta, scope_field, title_of, workflow_of
from app.documents.registry import Registry
from app.notifications.delivery import latest_transition_id, notify_users

MESSAGES = {
    "notify_approvers": {"en": "{label} {name} is waiting for your approval ({state})",
                         "zh": "{label} {name} 待您审批（{state}）"},
    "notify_requester": {"en": "{label} {name} is now {state}",
                         "zh": "{label} {name} 当前状态：{state}"},
}


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


def notify(ctx: ServiceContext, document, requester: bool) -> dict:
    """Tell the recipients: one notice in their inboxes (e-mailed after the commit)."""
    out = recipients(ctx, document, requester)
    entity = out["entity"]
    wf, meta = workflow_of(ctx, entity), entity_meta(ctx, entity)
    rule = "notify_requester" if requester else "notify_approvers"
    values = {lang: {"label": meta.label[lang], "name": out["document"],
                     "state": wf.state_label(out["state"], lang)} for lang in ("en", "zh")}
    message = {lang: MESSAGES[rule][lang].format(**values[lang]) for lang in ("en", "zh")}
    field = scope_field(wf, meta, None)
    warehouse = getattr(document, meta.fields[field].column) if field and field != "id" else None
    step = latest_transition_id(ctx, entity, document.id)
    out["notification"] = notify_users(
        ctx, rule=rule, message=message, dedup_key=f"{entity}:{document.id}:{out['state']}:{step}",
        recipients=[u for u in out["notify"] if u and u != "system"], entity=entity,
        record_id=document.id, record_name=out["document"], warehouse_id=warehouse,
        data={"document": out["document"], "state": out["state"]},
        severity="warning" if not requester else "info")
    return out


def register(registry: Registry) -> None:
    registry.effect("notify_approvers", lambda ctx, doc, details: notify(ctx, doc, requester=False))
    registry.effect("notify_requester", lambda ctx, doc, details: notify(ctx, doc, requester=True))
