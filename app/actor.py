"""Who is acting: the user behind a request, a job or a command.

Kept in a context variable so that the session hooks (audit, scope, rules) and
the services see the same actor without importing Flask.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    username: str
    user_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # Warehouse ids this actor may see; None means every warehouse.
    warehouse_ids: frozenset[int] | None = None

    def sees_warehouse(self, warehouse_id: int | None) -> bool:
        return self.warehouse_ids is None or warehouse_id in self.warehouse_ids


SYSTEM = Actor(username="system")
_current: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("medtrace_actor", default=None)


_resolver = None


def set_resolver(fn) -> None:
    """The web layer registers how to find the actor of the current request
    (its user is known only once FAB has checked the session or the JWT)."""
    global _resolver
    _resolver = fn


def current_actor() -> Actor:
    """The actor in charge now; outside a request or job this is the system."""
    actor = _current.get()
    if actor is not None:
        return actor
    if _resolver is not None:
        actor = _resolver()
        if actor is not None:
            return actor
    return SYSTEM


def set_actor(actor: Actor | None) -> contextvars.Token:
    return _current.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor):
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)
