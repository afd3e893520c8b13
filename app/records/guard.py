"""A document's state moves only through a workflow transition, and once it
has left its first state it changes only inside an action the document engine
has authorized (a transition or a step, whose role, permission and scope it
has checked). Generic screens and APIs edit documents in their first state."""
from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app.domain.errors import Conflict
from app.records.validation import entity_of

# session.info keys: documents the engine has authorized in this transaction, and
# the ones whose state a transition is moving right now.
AUTHORIZED = "medtrace_authorized"
WORKFLOW_WRITES = "medtrace_workflow_writes"


def authorize(session: Session, document: Any) -> None:
    """The engine has checked the actor may act on ``document`` now: for this
    transaction its writes (and its lines') pass the scope and state rules."""
    session.info.setdefault(AUTHORIZED, {})[id(document)] = document


def is_authorized(session: Session, obj: Any) -> bool:
    authorized = session.info.get(AUTHORIZED)
    if not authorized:
        return False
    if id(obj) in authorized:
        return True
    entity = entity_of(obj)
    parent = getattr(obj, "parent", None) if entity is not None and entity.table_of else None
    return parent is not None and id(parent) in authorized


def moving_state(session: Session, document: Any) -> None:
    """A transition is about to set ``document``'s state field."""
    session.info.setdefault(WORKFLOW_WRITES, set()).add(id(document))


def forget(session: Session) -> None:
    """Authorizations last one transaction."""
    session.info.pop(AUTHORIZED, None)
    session.info.pop(WORKFLOW_WRITES, None)


def check_workflow_state(session: Session, obj: Any, creating: bool) -> None:
    # a line (table_of entity) follows its document's state
    parent = getattr(obj, "parent", None) if entity_of(obj).table_of else None
    target = parent if parent is not None else obj
    workflow = getattr(type(target), "__workflow__", None)
    if workflow is None:
        return
    field = workflow.state_field
    if creating and target is obj:
        if getattr(obj, field) in (None, ""):
            setattr(obj, field, workflow.initial)
        elif getattr(obj, field) != workflow.initial:
            raise Conflict(f"a new {workflow.entity} starts in state {workflow.initial}; "
                           "its state changes only through workflow actions",
                           zh=f"新建单据的状态为 {workflow.initial}；状态只能通过工作流操作改变")
        return
    state = inspect(target).attrs[field]
    if target is obj and state.history.has_changes() and \
            id(obj) not in session.info.get(WORKFLOW_WRITES, ()):
        raise Conflict(f"the state of {workflow.entity} changes only through a workflow action "
                       "(POST .../actions/<action>), not by editing the field",
                       zh="单据状态只能通过工作流操作（POST .../actions/<action>）改变，不能直接编辑")
    if is_authorized(session, obj):
        return
    committed = state.history.deleted[0] if state.history.deleted else getattr(target, field)
    if committed != workflow.initial:
        name = getattr(target, "name", "") or workflow.entity
        raise Conflict(f"{name} is {committed}: only a {workflow.initial} document can be edited",
                       zh=f"{name} 当前状态为 {committed}：只有 {workflow.initial} 状态的单据可以编辑")
