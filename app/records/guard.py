"""A document's state moves only through a workflow transition, and once it
has left its first state only the engine and the document's services change it."""
from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app.domain.errors import Conflict
from app.records.validation import entity_of

# session.info keys: a service is writing (documents past their first state may
# change), and which objects a workflow transition is moving.
SERVICE_WRITE = "medtrace_service_write"
WORKFLOW_WRITES = "medtrace_workflow_writes"


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
    if session.info.get(SERVICE_WRITE):
        if target is obj and inspect(obj).attrs[field].history.has_changes() and \
                id(obj) not in session.info.get(WORKFLOW_WRITES, set()):
            raise Conflict(f"the state of {workflow.entity} changes only through a workflow action",
                           zh="单据状态只能通过工作流操作改变")
        return
    state = inspect(target).attrs[field]
    if target is obj and state.history.has_changes():
        raise Conflict(f"the state of {workflow.entity} changes only through a workflow action "
                       "(POST .../actions/<action>), not by editing the field",
                       zh="单据状态只能通过工作流操作（POST .../actions/<action>）改变，不能直接编辑")
    committed = state.history.deleted[0] if state.history.deleted else getattr(target, field)
    if committed != workflow.initial:
        raise Conflict(f"{getattr(target, 'name', '') or workflow.entity} is {committed}: "
                       f"only a {workflow.initial} document can be edited",
                       zh=f"{getattr(target, 'name', '') or workflow.entity} 当前状态为 {committed}：只有 {workflow.initial} 状态的单据可以编辑")
