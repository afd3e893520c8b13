"""What every record of an entity must satisfy, from its metadata: required
fields, enum options, the targets a link may point at (its ``filter``) and the
entity's CEL rules. Every problem is reported at
once, in English and Chinese."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect

from app.domain.errors import ValidationFailed
from app.domain.expressions import ExpressionError, evaluate_bool
from app.meta.model import EntityMeta, FieldMeta


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


@dataclass(frozen=True)
class Problem:
    """What is wrong with a record, and the field it is about (None: the record)."""

    field: str | None
    en: str
    zh: str
    code: str = "rule"  # required, option, link or rule


_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NAMES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def rule_field(expr: str, entity: EntityMeta) -> str | None:
    """The field a rule's message belongs next to: the last one it names
    (``from_warehouse != to_warehouse`` → to_warehouse)."""
    names = [n for n in _NAMES.findall(_STRINGS.sub("", expr)) if n in entity.fields]
    return names[-1] if names else None


def link_target(obj: Any, f: FieldMeta):
    """The record a link points at, however it was set (object or id)."""
    related = getattr(obj, f.name, None)
    if related is None and getattr(obj, f.column, None) is not None:
        state = inspect(obj)
        if state.session is not None:
            model = state.mapper.relationships[f.name].mapper.class_
            related = state.session.get(model, getattr(obj, f.column))
    return related


def _filter_problem(obj: Any, f: FieldMeta) -> Problem | None:
    related = link_target(obj, f)
    if related is None:
        return None
    target = entity_of(related)
    for key, allowed in f.filter.items():
        values = allowed if isinstance(allowed, list) else [allowed]
        if getattr(related, key, None) in values:
            continue
        tf = target.fields[key] if target is not None else None
        labels = {lang: " / ".join((tf.option_label(str(v)).get(lang) if tf else None) or str(v)
                                   for v in values) for lang in ("en", "zh")}
        what = {lang: (tf.label.get(lang) if tf else key) for lang in ("en", "zh")}
        return Problem(f.name,
                       f"{f.label['en']}: {related} cannot be chosen here ({what['en']} must be {labels['en']})",
                       f"{f.label['zh']}：不能选择 {related}（{what['zh']}必须为{labels['zh']}）", "link")
    return None


def record_problems(obj: Any, entity: EntityMeta) -> list[Problem]:
    """Every problem with this record: required fields, enum options and link
    targets first; the entity's CEL rules when those hold."""
    problems: list[Problem] = []
    ctx = record_context(obj, entity)
    for f in entity.fields.values():
        value = ctx.get(f.name)
        if f.type == "table":
            continue
        if f.required and value in (None, "") and f.default is None:
            problems.append(Problem(f.name, f"{f.label['en']} ({f.name}) is required",
                                    f"{f.label['zh']}（{f.name}）为必填项", "required"))
        if f.type == "enum" and value not in (None, "") and value not in f.options:
            options = ", ".join(f.options)
            problems.append(Problem(f.name, f"{f.name}: {value!r} is not one of {options}",
                                    f"{f.label['zh']}：{value!r} 不是可选值（{options}）", "option"))
        if f.type == "link" and f.filter and value is not None:
            problem = _filter_problem(obj, f)
            if problem is not None:
                problems.append(problem)
    if not problems:
        for rule in entity.rules:
            try:
                ok = evaluate_bool(rule.expr, ctx)
            except ExpressionError:
                ok = False
            if not ok:
                problems.append(Problem(rule_field(rule.expr, entity), rule.message["en"],
                                        rule.message["zh"]))
    return problems


def check_record(obj: Any, entity: EntityMeta) -> None:
    """Raise ValidationFailed listing every problem with this record; details
    name the field each problem is about (``fields``), for forms."""
    problems = record_problems(obj, entity)
    if problems:
        fields: dict[str, list[str]] = {}
        for p in problems:
            if p.field:
                fields.setdefault(p.field, []).append(p.en)
        raise ValidationFailed(
            f"{entity.label['en']}: " + "; ".join(p.en for p in problems),
            details={"entity": entity.name, "problems": [p.en for p in problems], "fields": fields},
            zh=f"{entity.label['zh']}：" + "；".join(p.zh for p in problems))
