"""Signed changes of regulated fields (a lot released from quarantine, a
product's risk class, a warehouse's region): the roles the metadata names, a
reason, the user's password re-entered where a signature is required, and a
record of who signed what, when and with which meaning, beside the audit trail's
before and after values (21 CFR Part 11 §11.50, §11.200)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents.engine import ADMIN_ROLE, allows, entity_meta, find_document
from app.domain.errors import Forbidden, ValidationFailed
from app.meta.model import FieldMeta
from app.records.audit import plain
from app.records.regulated import permit
from app.records.signatures import content_hash


def define_tables(md: sa.MetaData) -> None:
    sa.Table(
        "signed_change", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("signed_by", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime, nullable=False),
        sa.Column("signature_meaning", sa.String(32)),
        sa.Column("signed_hash", sa.String(64)),   # the record as signed (content_hash)
        sa.Index("ix_signed_change_record", "entity", "record_id"),
        info={"append_only": True},
    )


def may_change(ctx: ServiceContext, f: FieldMeta) -> bool:
    roles = set(f.regulated.roles)
    return bool(roles & set(ctx.actor.roles)) or ("admin" in roles and ADMIN_ROLE in ctx.actor.roles)


def _value(ctx: ServiceContext, f: FieldMeta, raw: Any) -> Any:
    """``raw`` as the field's type, or a ValidationFailed naming the field."""
    def bad(expected: str, zh: str):
        return ValidationFailed(f"{f.name}: {raw!r} is not {expected}", {"field": f.name},
                                zh=f"{f.label['zh']}：{raw!r} 不是{zh}")
    if raw is None:
        if f.required:
            raise ValidationFailed(f"{f.name} is required", {"field": f.name}, zh=f"{f.label['zh']}为必填项")
        return None
    if f.type == "date":
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            raise bad("a date (YYYY-MM-DD)", "日期（YYYY-MM-DD）") from None
    if f.type == "enum":
        if raw not in f.options:
            raise bad(f"one of {', '.join(f.options)}", f"可选值之一（{'、'.join(f.options)}）")
        return raw
    if f.type == "bool":
        if not isinstance(raw, bool):
            raise bad("true or false", "true 或 false")
        return raw
    if f.type == "link":
        target = entity_meta(ctx, f.target)
        key = target.title_field if target.title_field != "id" else "id"
        return ctx.find(f.target, raw, key=key, what=f.name)
    if f.type in ("decimal", "int"):
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            raise bad("a number", "数字") from None
        if f.type == "int" and number != number.to_integral():
            raise bad("a whole number", "整数")
        return int(number) if f.type == "int" else number
    if not isinstance(raw, str) or (f.length and len(raw) > f.length):
        raise bad(f"a text of at most {f.length or 140} characters", f"不超过 {f.length or 140} 个字符的文本")
    return raw


def change_regulated(ctx: ServiceContext, entity: str, ref: Any, changes: dict, *,
                     reason: str | None, password: str | None, meaning: str | None = None):
    """Change regulated fields of one record with a signature; returns the record."""
    meta = entity_meta(ctx, entity)
    record = find_document(ctx, entity, ref, lock=True)
    if not changes:
        raise ValidationFailed("nothing to change: give the fields and their new values",
                               zh="没有要修改的内容：请给出字段及其新值")
    fields = []
    for name in changes:
        f = meta.fields.get(name)
        if f is None or f.regulated is None:
            raise ValidationFailed(f"{name} is not a regulated field of {meta.label['en']}; edit it as usual",
                                   {"field": name}, zh=f"{name} 不是{meta.label['zh']}的受控字段，请直接编辑")
        if not may_change(ctx, f):
            roles = ", ".join(sorted(f.regulated.roles))
            raise Forbidden(f"only {roles} may change {f.label['en']}", {"field": name},
                            zh=f"只有 {roles} 可以修改{f.label['zh']}")
        fields.append(f)
    if not allows(ctx, entity, "write"):
        raise Forbidden(f"your roles do not grant the write permission on {meta.label['en'].lower()}s",
                        zh=f"您的角色没有{meta.label['zh']}的「write」权限")
    if not (reason or "").strip():
        raise ValidationFailed("a signed change needs a reason", {"field": "reason"},
                               zh="签名变更必须填写原因")
    needed = next((f.regulated.signature for f in fields if f.regulated.signature), None)
    if needed:
        if not password:
            raise ValidationFailed(f"this change needs your electronic signature with the meaning "
                                   f"'{needed}': re-enter your password", {"meaning": needed},
                                   zh=f"此修改需要电子签名，签名含义为「{needed}」：请重新输入密码")
        if meaning is not None and meaning != needed:
            raise ValidationFailed(f"this signature means {needed!r}, not {meaning!r}", {"meaning": needed},
                                   zh=f"此签名的含义为「{needed}」，而不是「{meaning}」")
        if ctx.directory is None or not ctx.directory.verify_password(ctx.actor.username, password):
            raise Forbidden("electronic signature refused: the password is not correct",
                            zh="电子签名被拒绝：密码不正确")
    now = ctx.now()
    rows = []
    for f in fields:
        new = _value(ctx, f, changes[f.name])
        old = getattr(record, f.name)
        setattr(record, f.name, new)
        rows.append({"entity": entity, "record_id": record.id, "field": f.name,
                     "old_value": plain(getattr(old, "id", old)), "new_value": plain(getattr(new, "id", new)),
                     "reason": reason.strip(), "signed_by": ctx.actor.username, "signed_at": now,
                     "signature_meaning": needed})
    permit(ctx.session, record, [f.name for f in fields])
    ctx.session.flush()
    signed_hash = content_hash(record, meta) if needed else None
    ctx.session.execute(ctx.models.table("signed_change").insert(),
                        [{**row, "signed_hash": signed_hash} for row in rows])
    return record


def signed_changes_of(ctx: ServiceContext, entity: str, record_id: int) -> list[dict]:
    t = ctx.models.table("signed_change")
    rows = ctx.session.execute(sa.select(t).where(t.c.entity == entity, t.c.record_id == record_id)
                               .order_by(t.c.id)).mappings()
    return [{**dict(r), "signed_at": r["signed_at"].isoformat() + "Z"} for r in rows]
