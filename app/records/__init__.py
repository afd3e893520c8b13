"""Rules that hold for every write of a metadata entity, whoever makes it.

``install`` registers one ``before_flush`` hook that covers the generated
screens, the REST API and the services alike: naming series, required fields
and enum options, CEL rules, warehouse scope, the workflow state guard and the
append-only audit trail. ``create_app`` installs it explicitly.
"""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.actor import current_actor
from app.domain.clock import utcnow
from app.records.audit import audit_rows, write_rows
from app.records.guard import check_workflow_state, forget, is_authorized
from app.records.naming import assign_name
from app.records.regulated import check_regulated
from app.records.regulated import forget as forget_signed
from app.records.scope import check_committed_scope, check_scope
from app.records.validation import check_record, entity_of

# Rows to audit are collected before the flush (while history is available)
# and written after it (when new rows have their ids).
_PENDING = "medtrace_pending_audit"
# entity -> (recompute(session, document), line fields that call for it)
_DERIVATIONS: dict = {}


def _derive(session: Session) -> None:
    """Recompute derived values of every document added, or whose lines are
    added, removed or changed in a field the derivation reads, in this flush,
    before the rules check them: a total never goes stale."""
    if not _DERIVATIONS:
        return
    documents = {}
    for obj in (*session.new, *session.deleted):
        _collect(session, obj, documents)
    for obj in session.dirty:
        entity = entity_of(obj)
        if entity is None or not entity.table_of:
            continue
        parent = getattr(obj, "parent", None)
        rule = _DERIVATIONS.get(entity_of(parent).name) if parent is not None else None
        if rule and any(inspect(obj).attrs[f].history.has_changes() for f in rule[1]):
            _collect(session, obj, documents)
    for document in documents.values():
        _DERIVATIONS[entity_of(document).name][0](session, document)


def _collect(session: Session, obj, documents: dict) -> None:
    entity = entity_of(obj)
    if entity is None:
        return
    target = getattr(obj, "parent", None) if entity.table_of else obj
    if target is not None and entity_of(target).name in _DERIVATIONS and target not in session.deleted:
        documents[id(target)] = target


def _before_flush(session: Session, flush_context, instances) -> None:
    _derive(session)
    actor = current_actor()
    now = utcnow()
    pending = session.info.setdefault(_PENDING, [])
    for obj in list(session.new):
        entity = entity_of(obj)
        if entity is None:
            continue
        obj.created_by = obj.created_by or actor.username
        obj.updated_by = actor.username
        if entity.naming and not getattr(obj, "name", None):
            assign_name(session, obj, entity.naming, now)
        check_record(obj, entity)
        if not is_authorized(session, obj):
            check_scope(obj, entity, actor, creating=True)
        check_workflow_state(session, obj, creating=True)
        if entity.audit:
            pending.append((obj, entity, None))
    for obj in list(session.dirty):
        entity = entity_of(obj)
        if entity is None or not session.is_modified(obj, include_collections=False):
            continue
        obj.updated_by = actor.username
        check_record(obj, entity)
        check_regulated(session, obj, entity, actor)
        if not is_authorized(session, obj):  # the engine checked the action's own scope
            check_scope(obj, entity, actor, creating=False, session=session)
            check_committed_scope(obj, entity, actor)
        check_workflow_state(session, obj, creating=False)
        if entity.audit:
            pending.append((obj, entity, audit_rows(obj, entity, "update", actor, now)))
    for obj in list(session.deleted):
        entity = entity_of(obj)
        if entity is None:
            continue
        if not is_authorized(session, obj):
            check_scope(obj, entity, actor, creating=False, session=session)
        check_workflow_state(session, obj, creating=False)
        if entity.audit:
            pending.append((obj, entity, audit_rows(obj, entity, "delete", actor, now)))


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return
    actor = current_actor()
    now = utcnow()
    rows: list[dict] = []
    table = None
    for obj, entity, prepared in pending:
        if prepared is None:  # a creation: the new row has its id only now
            prepared = audit_rows(obj, entity, "create", actor, now)
        table = type(obj).metadata.tables["audit_log"]
        rows.extend({**r, "record_id": obj.id} for r in prepared)
    if table is not None:
        write_rows(session.connection(), table, rows)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        forget(session)
        forget_signed(session)


def install(session_class=Session, derivations: dict | None = None) -> None:
    """Register the record rules on ``session_class`` (idempotent), with the
    derivations the concepts registered."""
    _DERIVATIONS.update(derivations or {})
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush),
                     ("after_rollback", _after_rollback),
                     ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
