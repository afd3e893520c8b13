"""What a service call needs: the session, the compiled models, the actor, and
typed collaborators for what lies outside the database (passwords, the user
directory, the job queue). Built by the web layer, a job or a command through
``Runtime.context``; services never reach for Flask themselves."""
from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.actor import Actor, current_actor
from app.domain.clock import utcnow
from app.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed


class Directory(Protocol):
    """The users behind the roles: who may sign, who must be told."""

    def verify_password(self, username: str, password: str) -> bool: ...

    def users_with_roles(self, roles) -> list[tuple[str, frozenset[int] | None]]: ...


class JobQueue(Protocol):
    """Where services ask for work to run after their transaction commits."""

    def after_commit(self, session, func_path: str, *args: Any, **kwargs: Any) -> str: ...


@dataclass(frozen=True)
class Settings:
    """The settings services read (from ``config.py`` / the environment)."""

    root: Path
    udi_separator_chars: str = "\x1d"
    # the IANA zone times are shown in (MEDTRACE_TIMEZONE); stored times are UTC
    timezone: str = "UTC"


@dataclass
class ServiceContext:
    session: Any
    models: Any
    actor: Actor = field(default_factory=current_actor)
    settings: Settings = field(default_factory=lambda: Settings(root=Path(".")))
    workflows: dict = field(default_factory=dict)
    # the document effects registry (app.documents.registry.Registry)
    documents: Any = None
    directory: Directory | None = None
    jobs: JobQueue | None = None
    clock: Callable[[], dt.datetime] = utcnow

    def now(self) -> dt.datetime:
        return self.clock()

    @contextlib.contextmanager
    def transaction(self):
        """Commit what the block did, or roll all of it back: a document posts
        whole or not at all. Two requests that race to create the same record
        (a new lot, a naming number) or deadlock: the loser is told to retry."""
        try:
            yield
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise Conflict("another request changed the same records at the same time "
                           f"({_constraint(exc)}); nothing was saved: try again",
                           zh="另一请求同时修改了相同的记录，本次未保存：请重试") from None
        except DBAPIError as exc:
            self.session.rollback()
            if _is_retryable(exc):
                raise Conflict("the database was busy with the same records; nothing was saved: try again",
                               zh="数据库正在处理相同的记录，本次未保存：请重试") from None
            raise
        except BaseException:
            self.session.rollback()
            raise

    # -- lookups by id or business key, with messages a clerk can act on --------
    def find(self, entity: str, ref: Any, *, key: str, what: str | None = None):
        model = self.models[entity]
        what = what or entity.lower()
        if ref is None or ref == "":
            raise ValidationFailed(f"{what} is required", zh=f"{what} 为必填项")
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise ValidationFailed(f"{what} must be an id or a code, not {ref!r}",
                                   zh=f"{what} 必须是编号或编码，而不是 {ref!r}")
        obj = None
        if isinstance(ref, int) or (ref.isascii() and ref.isdigit() and key != "code"):
            if -2**31 <= int(ref) < 2**31:
                obj = self.session.get(model, int(ref))
        else:
            obj = self.session.execute(sa.select(model).where(getattr(model, key) == ref)).scalar_one_or_none()
            if obj is None and ref.isascii() and ref.isdigit() and -2**31 <= int(ref) < 2**31:
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


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name or str(exc.orig).splitlines()[0][:120]


def _is_retryable(exc: DBAPIError) -> bool:
    """Deadlock or serialization failure (PostgreSQL), or a busy SQLite."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01") or "database is locked" in str(exc.orig)
