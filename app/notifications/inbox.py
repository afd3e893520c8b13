"""What a user sees and does in the inbox.

A user sees a notification when it is addressed to them, or when its rule's
recipient roles (or the record's own recipient role) include one of theirs
and its warehouse is in their scope. A rule they muted is left out, unless it
is regulatory. "Unread" means not yet acknowledged by them and not resolved.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import Forbidden, NotFound, ValidationFailed
from app.notifications.links import inbox_path, record_path
from app.notifications.tables import SEVERITIES

ADMIN_ROLE = "Admin"
FILTERS = ("unread", "open", "resolved", "all")
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
SEVERITY_LABELS = {
    "info": {"en": "Info", "zh": "提示"},
    "warning": {"en": "Warning", "zh": "警告"},
    "critical": {"en": "Critical", "zh": "严重"},
}


def tables(ctx: ServiceContext) -> dict[str, sa.Table]:
    return {name: ctx.models.table(name) for name in (
        "notification", "notification_recipient", "notification_ack", "notification_event",
        "notification_mute", "notification_email")}


def user_roles(ctx: ServiceContext) -> set[str]:
    roles = set(ctx.actor.roles)
    if ADMIN_ROLE in roles:
        roles.add("admin")  # as workflow and alert files name it
    return roles


def muted_rules(ctx: ServiceContext, username: str | None = None) -> set[str]:
    M = ctx.models.table("notification_mute")
    return set(ctx.session.execute(sa.select(M.c.rule).where(
        M.c.username == (username or ctx.actor.username))).scalars())


def visible(ctx: ServiceContext, catalog: Mapping[str, Any], *, include_muted: bool = False):
    """The SQL condition: notifications the actor may see."""
    t = tables(ctx)
    N, R = t["notification"], t["notification_recipient"]
    roles = user_roles(ctx)
    rules = [name for name, kind in catalog.items() if set(kind.roles) & roles]
    scope = ctx.actor.warehouse_ids
    in_scope = sa.true() if scope is None else N.c.warehouse_id.in_(sorted(scope))
    by_role = sa.and_(sa.or_(N.c.rule.in_(rules), N.c.role.in_(sorted(roles))), in_scope)
    addressed = sa.exists(sa.select(R.c.id).where(R.c.notification_id == N.c.id,
                                                  R.c.username == ctx.actor.username))
    condition = sa.or_(by_role, addressed)
    if not include_muted:
        muted = muted_rules(ctx)
        if muted:
            condition = sa.and_(condition, sa.or_(N.c.regulatory, N.c.rule.notin_(sorted(muted))))
    return condition


def _acked_by_me(ctx: ServiceContext):
    t = tables(ctx)
    A, N = t["notification_ack"], t["notification"]
    return sa.exists(sa.select(A.c.id).where(A.c.notification_id == N.c.id,
                                             A.c.username == ctx.actor.username))


def unread_condition(ctx: ServiceContext):
    N = tables(ctx)["notification"]
    return sa.and_(N.c.state != "resolved", ~_acked_by_me(ctx))


def unread_count(ctx: ServiceContext, catalog: Mapping[str, Any]) -> int:
    N = tables(ctx)["notification"]
    return ctx.session.execute(sa.select(sa.func.count()).select_from(N).where(
        visible(ctx, catalog), unread_condition(ctx))).scalar_one()


def list_notifications(ctx: ServiceContext, catalog: Mapping[str, Any], lang: str, *,
                       show: str = "unread", rule: str | None = None, severity: str | None = None,
                       limit: int = 50, offset: int = 0, workflow_entities=frozenset()) -> dict:
    """The actor's notifications, most severe and newest first."""
    if show not in FILTERS:
        raise ValidationFailed(f"show must be one of {', '.join(FILTERS)}",
                               zh=f"show 必须是以下之一：{'、'.join(FILTERS)}")
    if severity is not None and severity not in SEVERITIES:
        raise ValidationFailed(f"severity must be one of {', '.join(SEVERITIES)}",
                               zh=f"severity 必须是以下之一：{'、'.join(SEVERITIES)}")
    N = tables(ctx)["notification"]
    q = sa.select(N).where(visible(ctx, catalog))
    if show == "unread":
        q = q.where(unread_condition(ctx))
    elif show == "open":
        q = q.where(N.c.state != "resolved")
    elif show == "resolved":
        q = q.where(N.c.state == "resolved")
    if rule:
        q = q.where(N.c.rule == rule)
    if severity:
        q = q.where(N.c.severity == severity)
    total = ctx.session.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rank = sa.case({s: SEVERITY_ORDER[s] for s in SEVERITIES}, value=N.c.severity, else_=0)
    rows = ctx.session.execute(q.order_by(rank.desc(), N.c.raised_at.desc(), N.c.id.desc())
                               .limit(limit).offset(offset)).mappings().all()
    return {"count": total, "unread": unread_count(ctx, catalog),
            "items": describe(ctx, catalog, rows, lang, workflow_entities)}


def describe(ctx: ServiceContext, catalog: Mapping[str, Any], rows, lang: str,
             workflow_entities=frozenset()) -> list[dict]:
    """Rows as the API and the pages show them."""
    if not rows:
        return []
    t = tables(ctx)
    A, W = t["notification_ack"], ctx.models["Warehouse"]
    ids = [r["id"] for r in rows]
    acks: dict[int, list[str]] = {}
    for nid, username in ctx.session.execute(sa.select(A.c.notification_id, A.c.username).where(
            A.c.notification_id.in_(ids)).order_by(A.c.at)):
        acks.setdefault(nid, []).append(username)
    wh_ids = {r["warehouse_id"] for r in rows if r["warehouse_id"] is not None}
    codes = dict(ctx.session.execute(sa.select(W.id, W.code).where(W.id.in_(wh_ids))).all()) if wh_ids else {}
    muted = muted_rules(ctx)
    out = []
    for r in rows:
        kind = catalog.get(r["rule"])
        message = r["message"] or {}
        out.append({
            "id": r["id"], "rule": r["rule"], "kind": r["kind"],
            "rule_label": (kind.label.get(lang) or kind.label["en"]) if kind else r["rule"],
            "severity": r["severity"], "severity_label": SEVERITY_LABELS.get(r["severity"], {}).get(lang, r["severity"]),
            "regulatory": bool(r["regulatory"]),
            "message": message.get(lang) or message.get("en", ""), "messages": message,
            "entity": r["entity"], "record_id": r["record_id"], "record_name": r["record_name"],
            "link": record_path(r["entity"], r["record_id"], r["record_name"], workflow_entities),
            "url": inbox_path(r["id"]),
            "warehouse": codes.get(r["warehouse_id"]), "warehouse_id": r["warehouse_id"],
            "raised_at": _iso(r["raised_at"]), "state": r["state"],
            "resolved_by": r["resolved_by"], "resolved_at": _iso(r["resolved_at"]),
            "acknowledged": ctx.actor.username in acks.get(r["id"], []),
            "acknowledged_by": acks.get(r["id"], []),
            "muted": r["rule"] in muted and not r["regulatory"],
            "data": r["data"] or {},
        })
    return out


def find_visible(ctx: ServiceContext, catalog: Mapping[str, Any], notification_id: int, *,
                 lock: bool = False):
    N = tables(ctx)["notification"]
    if not isinstance(notification_id, int) or not 0 < notification_id < 2**31:
        raise NotFound(f"unknown notification {notification_id!r}", zh=f"通知 {notification_id!r} 不存在")
    q = sa.select(N).where(N.c.id == notification_id, visible(ctx, catalog, include_muted=True))
    if lock and ctx.session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(of=N)
    row = ctx.session.execute(q).mappings().first()
    if row is None:
        raise NotFound(f"unknown notification {notification_id}", zh=f"通知 {notification_id} 不存在")
    return row


def notification_detail(ctx: ServiceContext, catalog: Mapping[str, Any], notification_id: int,
                        lang: str, workflow_entities=frozenset()) -> dict:
    row = find_visible(ctx, catalog, notification_id)
    out = describe(ctx, catalog, [row], lang, workflow_entities)[0]
    E = tables(ctx)["notification_event"]
    out["events"] = [{"at": _iso(e.at), "by": e.username, "action": e.action, "comment": e.comment}
                     for e in ctx.session.execute(sa.select(E).where(E.c.notification_id == row["id"])
                                                  .order_by(E.c.at, E.c.id))]
    return out


def _event(ctx: ServiceContext, notification_id: int, action: str, comment: str | None) -> None:
    ctx.session.execute(tables(ctx)["notification_event"].insert().values(
        notification_id=notification_id, username=ctx.actor.username, at=ctx.now(),
        action=action, comment=comment))


def _comment_text(comment: Any, required: bool) -> str | None:
    if comment is None or (isinstance(comment, str) and not comment.strip()):
        if required:
            raise ValidationFailed("write a comment", zh="请填写评论")
        return None
    if not isinstance(comment, str) or len(comment) > 2000:
        raise ValidationFailed("a comment is text of at most 2000 characters",
                               zh="评论须为不超过 2000 个字符的文本")
    return comment.strip()


def acknowledge(ctx: ServiceContext, catalog: Mapping[str, Any], notification_id: int,
                comment: str | None = None) -> dict:
    """The actor has seen it and takes note (for themselves: others still see it unread)."""
    row = find_visible(ctx, catalog, notification_id)
    A = tables(ctx)["notification_ack"]
    text = _comment_text(comment, required=False)
    already = ctx.session.execute(sa.select(A.c.id).where(
        A.c.notification_id == row["id"], A.c.username == ctx.actor.username)).first()
    if already is None:
        ctx.session.execute(A.insert().values(notification_id=row["id"], username=ctx.actor.username,
                                              at=ctx.now()))
        _event(ctx, row["id"], "acknowledge", text)
    return {"id": row["id"], "acknowledged": True}


def resolve(ctx: ServiceContext, catalog: Mapping[str, Any], notification_id: int,
            comment: str | None = None) -> dict:
    """Dealt with, for everyone; the comment says how."""
    row = find_visible(ctx, catalog, notification_id, lock=True)
    text = _comment_text(comment, required=bool(row["regulatory"]))
    if row["state"] == "resolved":
        return {"id": row["id"], "state": "resolved", "resolved_by": row["resolved_by"]}
    N, A = tables(ctx)["notification"], tables(ctx)["notification_ack"]
    now = ctx.now()
    ctx.session.execute(N.update().where(N.c.id == row["id"]).values(
        state="resolved", resolved_by=ctx.actor.username, resolved_at=now))
    if ctx.session.execute(sa.select(A.c.id).where(A.c.notification_id == row["id"],
                                                   A.c.username == ctx.actor.username)).first() is None:
        ctx.session.execute(A.insert().values(notification_id=row["id"], username=ctx.actor.username, at=now))
    _event(ctx, row["id"], "resolve", text)
    return {"id": row["id"], "state": "resolved", "resolved_by": ctx.actor.username}


def comment(ctx: ServiceContext, catalog: Mapping[str, Any], notification_id: int, text: Any) -> dict:
    row = find_visible(ctx, catalog, notification_id)
    _event(ctx, row["id"], "comment", _comment_text(text, required=True))
    return {"id": row["id"], "commented": True}


def rules_for(ctx: ServiceContext, catalog: Mapping[str, Any], lang: str) -> list[dict]:
    """The kinds of notification the actor receives, and which they muted."""
    roles = user_roles(ctx)
    muted = muted_rules(ctx)
    out = []
    for name, kind in sorted(catalog.items()):
        if kind.roles and not set(kind.roles) & roles and not getattr(kind, "role_field", None):
            continue
        out.append({"rule": name, "label": kind.label.get(lang) or kind.label["en"],
                    "severity": getattr(kind, "severity_name", None) or getattr(kind, "severity", "info"),
                    "regulatory": bool(kind.regulatory), "muted": name in muted and not kind.regulatory,
                    "can_mute": not kind.regulatory})
    return out


def mute(ctx: ServiceContext, catalog: Mapping[str, Any], rule: Any) -> dict:
    kind = _kind(catalog, rule)
    if kind.regulatory:
        raise Forbidden(f"{rule} is a regulatory alert: nobody may mute it",
                        zh=f"{kind.label['zh']} 属于法规要求的提醒，任何人都不能屏蔽")
    M = tables(ctx)["notification_mute"]
    if ctx.session.execute(sa.select(M.c.id).where(M.c.username == ctx.actor.username,
                                                   M.c.rule == rule)).first() is None:
        ctx.session.execute(M.insert().values(username=ctx.actor.username, rule=rule, at=ctx.now()))
    return {"rule": rule, "muted": True}


def unmute(ctx: ServiceContext, catalog: Mapping[str, Any], rule: Any) -> dict:
    _kind(catalog, rule)
    M = tables(ctx)["notification_mute"]
    ctx.session.execute(M.delete().where(M.c.username == ctx.actor.username, M.c.rule == rule))
    return {"rule": rule, "muted": False}


def _kind(catalog: Mapping[str, Any], rule: Any):
    if not isinstance(rule, str) or rule not in catalog:
        raise NotFound(f"unknown alert rule {rule!r}", zh=f"提醒规则 {rule!r} 不存在")
    return catalog[rule]


def alert_panel(ctx: ServiceContext, catalog: Mapping[str, Any], lang: str, limit: int = 8,
                workflow_entities=frozenset()) -> dict:
    """The dashboard's panel: open notifications by severity, the latest unread ones."""
    N = tables(ctx)["notification"]
    counts = dict(ctx.session.execute(sa.select(N.c.severity, sa.func.count()).where(
        visible(ctx, catalog), N.c.state != "resolved").group_by(N.c.severity)).all())
    latest = list_notifications(ctx, catalog, lang, show="unread", limit=limit,
                                workflow_entities=workflow_entities)
    return {"open": {s: counts.get(s, 0) for s in reversed(SEVERITIES)},
            "unread": latest["unread"], "items": latest["items"]}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
