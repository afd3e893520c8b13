"""What a service call needs: the session, the compiled models, the actor and
settings. Built by the web layer, a job or a command; services never reach for
Flask themselves."""
from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.actor import Actor, current_actor
from app.domain.errors import Forbidden, NotFound, ValidationFailed

# session.info keys: a service is writing (documents past their first state may
# change), and which objects a workflow transition is moving.
SERVICE_WRITE = "medtrace_service_write"
WORKFLOW_WRITES = "medtrace_workflow_writes"


@dataclass
class ServiceContext:
    session: Any
    models: Any
    actor: Actor = field(default_factory=current_actor)
    settings: dict = field(default_factory=dict)
    workflows: dict = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

    @contextlib.contextmanager
    def transaction(self):
        """Commit what the block did, or roll all of it back: a document posts
        whole or not at all."""
        self.session.info[SERVICE_WRITE] = True
        try:
            yield
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        finally:
            self.session.info.pop(SERVICE_WRITE, None)
            self.session.info.pop(WORKFLOW_WRITES, None)

    # -- lookups by id or business key, with messages a clerk can act on --------
    def find(self, entity: str, ref: Any, *, key: str, what: str | None = None):
        model = self.models[entity]
        what = what or entity.lower()
        if ref is None or ref == "":
            raise ValidationFailed(f"{what} is required")
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and key != "code"):
            obj = self.session.get(model, int(ref))
        else:
            obj = self.session.execute(sa.select(model).where(getattr(model, key) == ref)).scalar_one_or_none()
            if obj is None and isinstance(ref, str) and ref.isdigit():
                obj = self.session.get(model, int(ref))
        if obj is None:
            raise NotFound(f"unknown {what} {ref!r}", zh=f"{ref!r} 不存在（{what}）")
        return obj

    def warehouse_in_scope(self, ref: Any, what: str = "warehouse"):
        wh = self.find("Warehouse", ref, key="code", what=what)
        if not self.actor.sees_warehouse(wh.id):
            raise Forbidden(f"{what} {wh.code} is outside your data scope; "
                            "ask an administrator for a data access grant",
                            zh=f"仓库 {wh.code} 不在您的数据权限范围内，请联系管理员授予数据权限")
        return wh
