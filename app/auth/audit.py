"""Security administration in the audit trail: users, roles and groups.

Creating or deleting a user, changing their name, e-mail, active flag, roles
or groups, changing a password, creating or deleting a role and changing its
permissions all leave audit rows (entity ``User`` / ``Role`` / ``Group``), with
before/after values, whichever way the change is made: FAB's screens,
``sm.add_user``, ``sm.reset_password``, ``flask medtrace`` commands. They are
collected from the session at each flush (``records.add_audit_source``), so
they land in the same hash-chained trail in the same transaction.

A password is never stored, not even hashed: the row says "password changed".
Role permissions are many; their row lists the permissions added (new value)
and removed (old value) rather than the whole set. Sign-in bookkeeping
(last login, login counts) is not security administration and is left out.
"""
from __future__ import annotations

from flask_appbuilder.security.sqla.models import Group, Role, User
from sqlalchemy import inspect

from app.records import add_audit_source
from app.records.audit import plain

PASSWORD_SET = "password set"
PASSWORD_CHANGED = "password changed"

# entity name, model, scalar columns, collections (attribute -> how an item reads)
_SPECS = (
    ("User", User, ("username", "first_name", "last_name", "email", "active"),
     {"roles": lambda r: r.name, "groups": lambda g: g.name}),
    ("Role", Role, ("name",), {"permissions": None}),
    ("Group", Group, ("name", "label", "description"),
     {"roles": lambda r: r.name, "users": lambda u: u.username}),
)


def _permission(pv) -> str:
    return f"{pv.permission.name} on {pv.view_menu.name}"


def _names(items, show) -> list[str]:
    return sorted(show(i) for i in items)


def _spec(obj):
    for spec in _SPECS:
        if isinstance(obj, spec[1]):
            return spec
    return None


def _rows_for_create(obj, spec, base) -> list[dict]:
    entity, _, columns, collections = spec
    rows = []
    for key in columns:
        value = getattr(obj, key, None)
        if value is not None:
            rows.append({**base, "field": key, "old_value": None, "new_value": plain(value)})
    if entity == "User" and obj.password:
        rows.append({**base, "field": "password", "old_value": None, "new_value": PASSWORD_SET})
    for key, show in collections.items():
        items = getattr(obj, key, None) or []
        if items:
            shown = _names(items, show or _permission)
            rows.append({**base, "field": key, "old_value": None, "new_value": ", ".join(shown)})
    return rows


def _rows_for_update(obj, spec, base) -> list[dict]:
    entity, _, columns, collections = spec
    state = inspect(obj)
    rows = []
    for key in columns:
        if key not in state.attrs:
            continue
        hist = state.attrs[key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if plain(old) != plain(new):
                rows.append({**base, "field": key, "old_value": plain(old), "new_value": plain(new)})
    if entity == "User" and state.attrs["password"].history.has_changes():
        hist = state.attrs["password"].history
        if (hist.deleted[0] if hist.deleted else None) != (hist.added[0] if hist.added else None):
            rows.append({**base, "field": "password", "old_value": None,
                         "new_value": PASSWORD_CHANGED})
    for key, show in collections.items():
        if key not in state.attrs:
            continue
        hist = state.attrs[key].history
        if not (hist.added or hist.deleted):
            continue
        if show is None:  # role permissions: what was added and removed
            added = set(_names(hist.added, _permission))
            removed = set(_names(hist.deleted, _permission))
            if added != removed:
                rows.append({**base, "field": key,
                             "old_value": ", ".join(sorted(removed - added)) or None,
                             "new_value": ", ".join(sorted(added - removed)) or None})
            continue
        before = _names([*hist.unchanged, *hist.deleted], show)
        after = _names([*hist.unchanged, *hist.added], show)
        if before != after:
            rows.append({**base, "field": key, "old_value": ", ".join(before),
                         "new_value": ", ".join(after)})
    return rows


def _rows_for_delete(obj, spec, base) -> list[dict]:
    entity, _, columns, collections = spec
    rows = [{**base, "field": key, "old_value": plain(getattr(obj, key)), "new_value": None}
            for key in columns if getattr(obj, key, None) is not None]
    for key, show in collections.items():
        if show is not None and getattr(obj, key, None):
            rows.append({**base, "field": key, "new_value": None,
                         "old_value": ", ".join(_names(getattr(obj, key), show))})
    return rows or [{**base, "field": None, "old_value": None, "new_value": None}]


def security_changes(session, actor, now) -> list:
    """The audit rows of this flush's changes to users, roles and groups."""
    out = []

    def base(entity, action):
        return {"at": now, "username": actor.username, "entity": entity, "action": action}
    for obj in list(session.new):
        spec = _spec(obj)
        if spec is not None:
            out.append((obj, lambda o, s=spec: _rows_for_create(o, s, base(s[0], "create"))))
    for obj in list(session.dirty):
        spec = _spec(obj)
        if spec is not None and session.is_modified(obj):
            rows = _rows_for_update(obj, spec, base(spec[0], "update"))
            if rows:
                out.append((obj, rows))
    for obj in list(session.deleted):
        spec = _spec(obj)
        if spec is not None:
            out.append((obj, _rows_for_delete(obj, spec, base(spec[0], "delete"))))
    return out


def install() -> None:
    add_audit_source(security_changes)
