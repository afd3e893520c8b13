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

from dataclasses import replace
from typing import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.actor import current_actor
from app.domain.clock import utcnow
from app.records import chain
from app.records.audit import audit_rows
from app.records.guard import SERVICE_WRITE, check_workflow_state
from app.records.naming import assign_name
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


def _before_flush(session: Session, flush_context, instances) -> None:
    actor = current_actor()
    # services check scope themselves (e.g. a transit location belongs to no
    # warehouse); the generic screens and APIs are checked here
    if session.info.get(SERVICE_WRITE):
        actor = replace(actor, warehouse_ids=None)
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
        check_scope(obj, entity, actor, creating=False)
        check_workflow_state(session, obj, creating=False)
        check_committed_scope(obj, entity, actor)
        if entity.audit:
            pending.append((obj, audit_rows(obj, entity, "update", actor, now)))
    for obj in list(session.deleted):
        entity = entity_of(obj)
        if entity is None:
            continue
        check_scope(obj, entity, actor, creating=False)
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


def _inside(tx, ancestor) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(session_class=Session) -> None:
    """Register the record rules on ``session_class`` (idempotent)."""
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush),
                     ("before_commit", _before_commit),
                     ("after_soft_rollback", _after_soft_rollback),
                     ("after_transaction_end", _after_transaction_end),
                     ("after_rollback", _after_rollback)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
