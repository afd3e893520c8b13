"""Rules that hold for every write of a metadata entity, whoever makes it.

``install`` registers one ``before_flush`` hook that covers the generated
screens, the REST API and the services alike: naming series, required fields
and enum options, CEL rules, warehouse scope, the workflow state guard and the
append-only audit trail. ``create_app`` installs it explicitly.

Audit rows are collected at each flush and written, hash-chained, when the
transaction commits (``chain.write`` at ``before_commit``); a rolled-back
savepoint drops the rows it collected. Other modules add audited changes of
their own objects (FAB's users and roles) with ``add_audit_source``.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.actor import current_actor
from app.domain.clock import utcnow
from app.records import chain
from app.records.audit import audit_rows
from app.records.guard import check_workflow_state, forget, is_authorized
from app.records.naming import assign_name
from app.records.regulated import check_regulated
from app.records.regulated import forget as forget_signed
from app.records.scope import check_committed_scope, check_scope
from app.records.validation import check_record, entity_of

# Rows to audit are collected before the flush (while history is available),
# completed after it (when new rows have their ids) and written at commit.
_PENDING = "medtrace_pending_audit"
_BUFFER = "medtrace_audit_rows"

# An audit source: (session, actor, now) -> [(obj, rows or rows_factory(obj))]
AuditSource = Callable[[Session, object, object], list]
_sources: list[AuditSource] = []


def add_audit_source(source: AuditSource) -> None:
    """Audit more than metadata entities: ``source`` is called at each flush and
    returns (object, rows) pairs; rows may be a function of the flushed object
    (for creations, whose id exists only after the flush). Idempotent."""
    if source not in _sources:
        _sources.append(source)

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
            pending.append((obj, lambda o, e=entity: audit_rows(o, e, "create", actor, now)))
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
            pending.append((obj, audit_rows(obj, entity, "update", actor, now)))
    for obj in list(session.deleted):
        entity = entity_of(obj)
        if entity is None:
            continue
        if not is_authorized(session, obj):
            check_scope(obj, entity, actor, creating=False, session=session)
        check_workflow_state(session, obj, creating=False)
        if entity.audit:
            pending.append((obj, audit_rows(obj, entity, "delete", actor, now)))
    for source in _sources:
        pending.extend(source(session, actor, now))


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return
    owner = session.get_nested_transaction() or session.get_transaction()
    buffer = session.info.setdefault(_BUFFER, [])
    for obj, prepared in pending:
        if callable(prepared):  # a creation: the new row has its id only now
            prepared = prepared(obj)
        buffer.extend((owner, {**r, "record_id": obj.id}) for r in prepared)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the rows are written with the real commit
    session.flush()  # collect the last changes' rows first
    rows = session.info.pop(_BUFFER, None)
    if rows:
        chain.write(session.connection(), [r for _, r in rows])


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    rows = session.info.get(_BUFFER)
    if rows:
        rows[:] = [(t, r) for t, r in rows if not _inside(t, previous_transaction)]


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # committed (rows written) or rolled back
        session.info.pop(_BUFFER, None)
        forget(session)           # the engine's authorizations last one transaction
        forget_signed(session)    # and so do signed-change permissions


def _inside(tx, ancestor) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(session_class=Session, derivations: dict | None = None) -> None:
    """Register the record rules on ``session_class`` (idempotent), with the
    derivations the concepts registered."""
    _DERIVATIONS.update(derivations or {})
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush),
                     ("before_commit", _before_commit),
                     ("after_soft_rollback", _after_soft_rollback),
                     ("after_transaction_end", _after_transaction_end),
                     ("after_rollback", _after_rollback)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
