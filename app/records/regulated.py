"""Regulated fields: compliance-critical values (a lot's status and expiry, a
product's risk class, a warehouse's region) change only through a signed
change by the roles the metadata names (``regulated: {roles, signature}``).
A first recording (empty → value) is data capture, not a change; the system
itself (scheduled jobs) may change them. Every change is in the audit trail."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.domain.errors import Forbidden
from app.meta.model import EntityMeta
from app.records.audit import plain
from app.records.validation import link_value

PERMITTED = "medtrace_signed_fields"


def permit(session: Session, obj: Any, fields: Iterable[str]) -> None:
    """The signed-change service has checked role and signature for these fields."""
    session.info.setdefault(PERMITTED, set()).update((id(obj), name) for name in fields)


def forget(session: Session) -> None:
    session.info.pop(PERMITTED, None)


def _committed(obj: Any, column: str) -> Any:
    hist = inspect(obj).attrs[column].history
    if hist.has_changes():
        return hist.deleted[0] if hist.deleted else None
    return getattr(obj, column)


def changed_regulated(obj: Any, entity: EntityMeta) -> list[tuple[str, Any, Any]]:
    """(field, old, new) of regulated fields whose recorded value changes."""
    out = []
    for f in entity.regulated():
        old = _committed(obj, f.column)
        new = link_value(obj, f.name, f.column) if f.type == "link" else getattr(obj, f.column)
        if old is not None and plain(old) != plain(new):
            out.append((f.name, old, new))
    return out


def check_regulated(session: Session, obj: Any, entity: EntityMeta, actor: Actor) -> None:
    if actor.username == SYSTEM.username:
        return
    permitted = session.info.get(PERMITTED, set())
    for name, _old, _new in changed_regulated(obj, entity):
        if (id(obj), name) in permitted:
            continue
        f = entity.fields[name]
        roles = ", ".join(sorted(f.regulated.roles))
        signed = " with an electronic signature" if f.regulated.signature else ""
        zsigned = "并进行电子签名" if f.regulated.signature else ""
        raise Forbidden(
            f"{entity.label['en']}: {f.label['en']} is regulated: only {roles} may change it{signed}, "
            f"through a signed change (POST /api/v1/{entity.resource}/<id>/signed-change)",
            {"field": name, "roles": sorted(f.regulated.roles)},
            zh=f"{entity.label['zh']}：{f.label['zh']}为受控字段，只有 {roles} 可以通过签名变更修改{zsigned}"
               f"（POST /api/v1/{entity.resource}/<id>/signed-change）")
