"""What every record of an entity must satisfy, from its metadata: required
fields, enum options and the entity's CEL rules. Every problem is reported at
once, in English and Chinese."""
from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from app.domain.errors import ValidationFailed
from app.domain.expressions import ExpressionError, evaluate_bool
from app.meta.model import EntityMeta


def entity_of(obj: Any) -> EntityMeta | None:
    return getattr(type(obj), "__entity__", None)


def link_value(obj: Any, name: str, column: str, stand_in: bool = False) -> int | None:
    """The id a link will hold once flushed, however it was set: a changed
    relationship wins over the foreign-key column (which keeps its old value
    until the flush), a changed column over an unchanged relationship.
    ``stand_in`` gives an unflushed related object a unique negative id, so
    rules such as ``from_warehouse != to_warehouse`` stay meaningful."""
    state = inspect(obj)
    if name in state.attrs and state.attrs[name].history.has_changes():
        related = getattr(obj, name)
        if related is None:
            return None
        if related.id is None:
            return -(id(related) % 10**9) if stand_in else None
        return related.id
    value = getattr(obj, column)
    if value is None and not state.attrs[column].history.has_changes():
        related = obj.__dict__.get(name)
        if related is not None:
            return related.id if related.id is not None or not stand_in else -(id(related) % 10**9)
    return value


def record_context(obj: Any, entity: EntityMeta) -> dict:
    """The values a CEL rule sees: each field by name (links as ids)."""
    ctx: dict[str, Any] = {"id": obj.id}
    for f in entity.fields.values():
        if f.type == "table":
            continue
        if f.type == "link":
            ctx[f.name] = link_value(obj, f.name, f.column, stand_in=True)
        else:
            ctx[f.name] = getattr(obj, f.name)
    if getattr(obj, "name", None) is not None:
        ctx["name"] = obj.name
    return ctx


def check_record(obj: Any, entity: EntityMeta) -> None:
    """Raise ValidationFailed listing every problem with this record."""
    problems: list[tuple[str, str]] = []
    ctx = record_context(obj, entity)
    for f in entity.fields.values():
        value = ctx.get(f.name)
        if f.type == "table":
            continue
        if f.required and value in (None, "") and f.default is None:
            problems.append((f"{f.label['en']} ({f.name}) is required", f"{f.label['zh']}（{f.name}）为必填项"))
        if f.type == "enum" and value not in (None, "") and value not in f.options:
            options = ", ".join(f.options)
            problems.append((f"{f.name}: {value!r} is not one of {options}",
                             f"{f.label['zh']}：{value!r} 不是可选值（{options}）"))
    if not problems:
        for rule in entity.rules:
            try:
                ok = evaluate_bool(rule.expr, ctx)
            except ExpressionError:
                ok = False
            if not ok:
                problems.append((rule.message["en"], rule.message["zh"]))
    if problems:
        raise ValidationFailed(
            f"{entity.label['en']}: " + "; ".join(en for en, _ in problems),
            details={"entity": entity.name, "problems": [en for en, _ in problems]},
            zh=f"{entity.label['zh']}：" + "；".join(zh for _, zh in problems))
