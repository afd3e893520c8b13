"""Alert rules (``metadata/alerts/*.yaml``, one rule a file), read and
validated in the style of every metadata file (``app.meta.files``): every
problem of a file at once, naming the file, the key and what is wrong.

    alert: lot_expiring                       # the rule's name (the file's stem is a good one)
    label: {en: Lot expiring soon, zh: 近效期}
    severity: warning                         # info | warning | critical, or per threshold
    regulatory: true                          # optional: nobody may mute it
    trigger:                                  # exactly one of:
      days_before: {entity: Lot, field: expiry_date, days: [180, 90, 30], schedule: "0 2 * * *"}
      cron: {query: stock_below_minimum, schedule: "0 * * * *"}
      on_change: {entity: Lot, field: status, to: [recalled]}
    condition: "quantity > 0"                 # optional CEL over the rule's fields
    recipients: {roles: [warehouse_manager, qa]}   # or {role_field: approver_role}
    dedup: [id, warehouse_id, threshold]      # raised once per these values while it holds
    message: {en: "Lot {lot_number} ...", zh: "批次 {lot_number} ……"}

What a trigger reads, and so which names ``condition``, ``dedup`` and the
message may use, is given by the caller (``app.alerts``): entity fields for
``days_before`` and ``on_change``, a named query's columns for ``cron``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.domain.expressions import ExpressionError, compile_expression
from app.meta.files import IDENTIFIER, Label, MetadataError, load_document, read_yaml
from app.meta.model import Metadata
from app.meta.schedules import cron_problem

SEVERITIES = ("info", "warning", "critical")
TRIGGERS = ("days_before", "cron", "on_change")


@dataclass(frozen=True)
class Trigger:
    kind: str
    entity: str | None = None
    field: str | None = None
    days: tuple[int, ...] = ()
    query: str | None = None
    to: tuple[str, ...] = ()
    schedule: str | None = None
    warehouse: str | None = None


@dataclass(frozen=True)
class AlertRule:
    name: str
    label: dict[str, str]
    trigger: Trigger
    message: dict[str, str]
    dedup: tuple[str, ...]
    roles: tuple[str, ...] = ()
    role_field: str | None = None
    severity: str = "warning"
    # days_before rules may grade severity by threshold: {30: critical, 90: warning}
    severity_by_threshold: dict[int, str] = field(default_factory=dict, hash=False, compare=False)
    regulatory: bool = False
    condition: str | None = None
    description: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    columns: tuple[str, ...] = ()
    source: str = ""

    @property
    def schedule(self) -> str | None:
        return self.trigger.schedule

    def severity_for(self, threshold) -> str:
        return self.severity_by_threshold.get(threshold, self.severity) if threshold is not None else self.severity


class _Strict(Schema):
    class Meta:
        unknown = RAISE


_NAME = validate.Regexp(IDENTIFIER, error="must be lower_snake_case (a-z, 0-9, _)")


class _DaysBefore(_Strict):
    entity = fields.String(required=True)
    field_ = fields.String(required=True, data_key="field", attribute="field")
    days = fields.List(fields.Integer(validate=validate.Range(min=0, max=3650)), required=True,
                       validate=validate.Length(min=1, max=10))
    schedule = fields.String()
    warehouse = fields.String(validate=_NAME)


class _Cron(_Strict):
    query = fields.String(required=True)
    schedule = fields.String(required=True)


class _OnChange(_Strict):
    entity = fields.String(required=True)
    field_ = fields.String(required=True, data_key="field", attribute="field")
    to = fields.List(fields.Raw(), validate=validate.Length(min=1))
    warehouse = fields.String(validate=_NAME)


class _TriggerSchema(_Strict):
    days_before = fields.Nested(_DaysBefore)
    cron = fields.Nested(_Cron)
    on_change = fields.Nested(_OnChange)

    @validates_schema
    def exactly_one(self, data, **kwargs):
        if len(data) != 1:
            raise ValidationError(f"give exactly one trigger: {', '.join(TRIGGERS)}")


class _Severity(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            if value not in SEVERITIES:
                raise ValidationError(f"must be one of {', '.join(SEVERITIES)}")
            return value
        if isinstance(value, dict) and value:
            out = {}
            for k, v in value.items():
                if not isinstance(k, int) or v not in SEVERITIES:
                    raise ValidationError(f"per threshold: {{days: {' | '.join(SEVERITIES)}}}")
                out[k] = v
            return out
        raise ValidationError(f"must be one of {', '.join(SEVERITIES)}, or one per threshold")


class _Recipients(_Strict):
    roles = fields.List(fields.String(), validate=validate.Length(min=1))
    role_field = fields.String()

    @validates_schema
    def one(self, data, **kwargs):
        if bool(data.get("roles")) == bool(data.get("role_field")):
            raise ValidationError("give roles, or role_field (a field holding the role)")


class _RuleSchema(_Strict):
    alert = fields.String(required=True, validate=_NAME)
    label = Label(required=True)
    description = Label()
    severity = _Severity(required=True)
    regulatory = fields.Boolean()
    trigger = fields.Nested(_TriggerSchema, required=True)
    condition = fields.String()
    recipients = fields.Nested(_Recipients, required=True)
    dedup = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    message = Label(required=True)


def load_alert_rules(folder: Path, meta: Metadata, *, queries: Mapping[str, tuple[str, ...]],
                     columns_for: Callable[[str, str, str | None], tuple[str, ...]],
                     condition_problem: Callable[[str, tuple[str, ...]], str | None],
                     placeholders: Callable[[str], list[str]],
                     known_roles: set[str]) -> dict[str, "AlertRule"]:
    """Every rule in ``folder``. ``queries`` maps each named query to its
    columns; ``columns_for(entity, kind, warehouse)`` gives an entity trigger's."""
    rules: dict[str, AlertRule] = {}
    if not folder.exists():
        return rules
    for path in sorted(folder.glob("*.yaml")):
        rule = _load_one(path, meta, queries, columns_for, condition_problem, placeholders, known_roles)
        if rule.name in rules:
            raise MetadataError(str(path), "alert", f"{rule.name!r} is already defined in {rules[rule.name].source}")
        rules[rule.name] = rule
    return rules


def _load_one(path: Path, meta: Metadata, queries, columns_for, condition_problem, placeholders,
              known_roles) -> AlertRule:
    source = str(path)
    doc = load_document(_RuleSchema(), read_yaml(path) or {}, source)
    problems: list[tuple[str, str]] = []
    kind, spec = next(iter(doc["trigger"].items()))
    at = f"trigger.{kind}"
    trigger = Trigger(kind=kind, entity=spec.get("entity"), field=spec.get("field"),
                      days=tuple(sorted(set(spec.get("days", ())))), query=spec.get("query"),
                      to=tuple(spec.get("to", ())), schedule=spec.get("schedule"),
                      warehouse=spec.get("warehouse"))
    columns: tuple[str, ...] = ()
    if kind == "cron":
        if trigger.query not in queries:
            problems.append((f"{at}.query", f"unknown query {trigger.query!r}; known queries: "
                                            f"{', '.join(sorted(queries))}"))
        else:
            columns = queries[trigger.query]
    else:
        entity = meta.entities.get(trigger.entity)
        if entity is None:
            problems.append((f"{at}.entity", f"{trigger.entity!r} is not a defined entity"))
        else:
            f = entity.fields.get(trigger.field)
            if f is None or f.type == "table":
                problems.append((f"{at}.field", f"{trigger.field!r} is not a field of {entity.name}"))
            elif kind == "days_before" and f.type not in ("date", "datetime"):
                problems.append((f"{at}.field", f"{trigger.field!r} is a {f.type} field; days_before "
                                                "needs a date"))
            elif kind == "on_change" and f.options:
                for j, value in enumerate(trigger.to):
                    if value not in f.options:
                        problems.append((f"{at}.to[{j}]", f"{value!r} is not one of {trigger.field}'s "
                                                          f"values: {', '.join(f.options)}"))
            if trigger.warehouse and (trigger.warehouse not in entity.fields
                                      or entity.fields[trigger.warehouse].target != "Warehouse"):
                problems.append((f"{at}.warehouse", f"{trigger.warehouse!r} is not a warehouse field "
                                                    f"of {entity.name}"))
            columns = columns_for(entity.name, kind, trigger.warehouse)
    if kind == "days_before" and trigger.schedule is None:
        trigger = Trigger(**{**trigger.__dict__, "schedule": "0 2 * * *"})
    if trigger.schedule is not None:
        bad = cron_problem(trigger.schedule)
        if bad:
            problems.append((f"{at}.schedule", bad))
    if columns:
        if doc.get("condition"):
            if kind == "on_change":
                try:
                    compile_expression(doc["condition"])
                except ExpressionError as exc:
                    problems.append(("condition", str(exc)))
            else:
                bad = condition_problem(doc["condition"], columns)
                if bad:
                    problems.append(("condition", bad))
        for i, name in enumerate(doc["dedup"]):
            if name not in columns:
                problems.append((f"dedup[{i}]", f"{name!r} is not one of this rule's fields: "
                                                f"{', '.join(columns)}"))
        for lang, text in doc["message"].items():
            try:
                used = placeholders(text)
            except ValueError as exc:
                problems.append((f"message.{lang}", f"not a valid template: {exc}"))
                continue
            for name in used:
                if name not in columns:
                    problems.append((f"message.{lang}", f"{{{name}}} is not one of this rule's fields: "
                                                        f"{', '.join(columns)}"))
    recipients = doc["recipients"]
    for j, role in enumerate(recipients.get("roles", ())):
        if role not in known_roles:
            problems.append((f"recipients.roles[{j}]", f"unknown role {role!r}; known roles: "
                                                       f"{', '.join(sorted(known_roles))}"))
    if recipients.get("role_field") and columns and recipients["role_field"] not in columns:
        problems.append(("recipients.role_field", f"{recipients['role_field']!r} is not one of this "
                                                  f"rule's fields: {', '.join(columns)}"))
    severity = doc["severity"]
    by_threshold = {}
    if isinstance(severity, dict):
        if kind != "days_before":
            problems.append(("severity", "one severity per threshold needs a days_before trigger"))
        else:
            by_threshold = severity
            for k in severity:
                if k not in trigger.days:
                    problems.append((f"severity.{k}", f"{k} is not one of the trigger's days"))
        severity = max(severity.values(), key=SEVERITIES.index)
    if problems:
        raise MetadataError(source, problems=problems)
    return AlertRule(
        name=doc["alert"], label=doc["label"], description=doc.get("description") or {},
        trigger=trigger, message=doc["message"], dedup=tuple(doc["dedup"]),
        roles=tuple(recipients.get("roles", ())), role_field=recipients.get("role_field"),
        severity=severity, severity_by_threshold=by_threshold,
        regulatory=bool(doc.get("regulatory", False)), condition=doc.get("condition"),
        columns=columns, source=source)
