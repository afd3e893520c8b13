"""Writing notifications: one at a time (workflow notices, a field's change),
each in the caller's transaction; alert rules write theirs in sets
(``app.alerts.evaluation``). A key already open for the rule is not raised
again (``uq_notification_open_key`` holds it under concurrency too)."""
from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from app.domain.quantities import format_quantity


@dataclass(frozen=True)
class NoticeKind:
    """What the inbox knows of a kind of notification that is not an alert rule."""

    name: str
    label: dict[str, str]
    roles: tuple[str, ...] = ()
    regulatory: bool = False
    severity: str = "info"
    description: dict[str, str] = field(default_factory=dict)


WORKFLOW_KINDS = {
    "notify_approvers": NoticeKind("notify_approvers", {"en": "Waiting for your approval", "zh": "待您审批"}),
    "notify_requester": NoticeKind("notify_requester", {"en": "Your request was decided", "zh": "您的申请已处理"}),
}


def display_value(value: Any) -> str:
    """How a record's value reads inside a message."""
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return format_quantity(value)
    if isinstance(value, float):
        return format_quantity(Decimal(str(value)))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ", timespec="minutes") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


_PLAIN = (str, int, bool, type(None))


def jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Decimal):
        return format_quantity(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


class _Values(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def placeholders(template: str) -> list[str]:
    """The ``{field}`` names a message template uses."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def render(template: Mapping[str, str], values: Mapping[str, Any],
           names: Iterable[str] | None = None) -> dict[str, str]:
    """The message in every language, with the record's values filled in
    (``names``: the placeholders the template uses, when known)."""
    keys = values.keys() if names is None else names
    shown = _Values({k: display_value(values.get(k)) for k in keys})
    return {lang: text.format_map(shown) for lang, text in template.items()}


def raise_notification(conn, tables: Mapping[str, sa.Table], *, rule: str, kind: str, severity: str,
                       message: Mapping[str, str], dedup_key: str, now: dt.datetime,
                       entity: str | None = None, record_id: int | None = None,
                       record_name: str | None = None, warehouse_id: int | None = None,
                       data: Mapping[str, Any] | None = None, regulatory: bool = False,
                       role: str | None = None, recipients: Iterable[str] = ()) -> int | None:
    """Insert one notification (and whom it is addressed to) on ``conn`` (the
    caller's transaction), unless the rule's key is already open. Returns its
    id, or None when it was already there."""
    N, R = tables["notification"], tables["notification_recipient"]
    open_key = sa.select(N.c.id).where(N.c.rule == rule, N.c.dedup_key == dedup_key[:255],
                                       N.c.cleared_at.is_(None))
    if conn.execute(open_key).first() is not None:
        return None
    try:
        with conn.begin_nested():
            new_id = conn.execute(N.insert().values(
                rule=rule, kind=kind, severity=severity, regulatory=regulatory,
                dedup_key=dedup_key[:255], entity=entity, record_id=record_id,
                record_name=(record_name or "")[:128] or None, warehouse_id=warehouse_id, role=role,
                data={k: jsonable(v) for k, v in (data or {}).items()}, message=dict(message),
                raised_at=now, state="open")).inserted_primary_key[0]
            names = sorted(set(recipients))
            if names:
                conn.execute(R.insert(), [{"notification_id": new_id, "username": u} for u in names])
    except sa.exc.IntegrityError:
        return None  # raised at the same moment by another transaction
    return new_id


def resolve_open(conn, tables: Mapping[str, sa.Table], *, entity: str, record_id: int,
                 rules: Iterable[str], by: str, now: dt.datetime, keep_prefix: str | None = None) -> int:
    """Resolve the open notifications of ``rules`` about one record (its
    document moved on: the approval they asked for is no longer waiting);
    keys starting with ``keep_prefix`` (the state it is in now) stay."""
    N = tables["notification"]
    where = [N.c.entity == entity, N.c.record_id == record_id, N.c.rule.in_(list(rules)),
             N.c.state == "open"]
    if keep_prefix:
        where.append(~N.c.dedup_key.startswith(keep_prefix, autoescape=True))
    done = conn.execute(N.update().where(*where).values(state="resolved", resolved_by=by, resolved_at=now,
                                    cleared_at=now))
    return done.rowcount
