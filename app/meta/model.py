"""The validated, merged view of all metadata: plain dataclasses, no Flask."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Regulated:
    """A compliance-critical field: only these roles change it (``admin`` is
    FAB's Admin), with an electronic signature of this meaning where given."""

    roles: frozenset[str]
    signature: str | None = None


@dataclass(frozen=True)
class FieldMeta:
    name: str
    type: str
    label: dict[str, str]
    target: str | None = None
    options: tuple[str, ...] = ()
    required: bool = False
    unique: bool = False
    index: bool = False
    length: int | None = None
    scale: int = 4
    default: Any = None
    read_only: bool = False
    core: bool = False
    vocabulary: str | None = None
    regulated: Regulated | None = None
    # enum options' labels, {option: {en, zh}}, from the field or its vocabulary
    option_labels: dict[str, dict[str, str]] = field(default_factory=dict, hash=False, compare=False)
    # a link's allowed targets, {target field: value or [values]}: e.g. a
    # carrier is a Partner of kind carrier ({kind: carrier})
    filter: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # where a string field's values come from: "users" (a user name)
    lookup: str | None = None

    def option_label(self, option: str) -> dict[str, str]:
        return self.option_labels.get(option) or {"en": option, "zh": option}

    @property
    def column(self) -> str | None:
        """The database column that stores this field (None for table fields)."""
        if self.type == "table":
            return None
        return f"{self.name}_id" if self.type == "link" else self.name


@dataclass(frozen=True)
class RuleMeta:
    expr: str
    message: dict[str, str]


@dataclass(frozen=True)
class EntityMeta:
    name: str
    label: dict[str, str]
    fields: dict[str, FieldMeta]
    source: str
    module: str = "other"
    naming: str | None = None
    title: str | None = None
    table_of: str | None = None
    core: bool = False
    audit: bool = True
    editable: bool = True
    rules: tuple[RuleMeta, ...] = ()
    scope_fields: tuple[str, ...] = ()
    # the record belongs to the warehouses whose stock holds it (lots, serials)
    scope_by_stock: bool = False
    unique_together: tuple[tuple[str, ...], ...] = ()

    @property
    def table(self) -> str:
        return snake_case(self.name)

    @property
    def resource(self) -> str:
        """URL segment of the generated REST API: /api/v1/<resource>/."""
        return self.table

    @property
    def title_field(self) -> str:
        if self.title:
            return self.title
        if self.naming:
            return "name"
        for candidate in ("name", "code"):
            if candidate in self.fields:
                return candidate
        return "id"

    def links(self) -> list[FieldMeta]:
        return [f for f in self.fields.values() if f.type == "link"]

    def tables(self) -> list[FieldMeta]:
        return [f for f in self.fields.values() if f.type == "table"]

    def regulated(self) -> list[FieldMeta]:
        return [f for f in self.fields.values() if f.regulated is not None]


@dataclass(frozen=True)
class FormSection:
    label: dict[str, str]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class FormMeta:
    entity: str
    source: str
    list_columns: tuple[str, ...] = ()
    search_columns: tuple[str, ...] = ()
    order: tuple[str, str] | None = None
    sections: tuple[FormSection, ...] = ()
    read_only: tuple[str, ...] = ()
    show_if: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RoleMeta:
    name: str
    label: dict[str, str]
    scope: str
    permissions: dict[str, frozenset[str]]

    def allows(self, entity: str, permission: str) -> bool:
        return permission in self.permissions.get(entity, frozenset())


@dataclass(frozen=True)
class Vocabulary:
    """A list of values with one label each, declared once in
    ``metadata/vocabularies.yaml`` and used by fields, API schemas and pages.
    ``core`` values are the ones the code relies on: they cannot be removed."""

    name: str
    label: dict[str, str]
    values: dict[str, dict[str, str]]
    core: tuple[str, ...] = ()

    def label_of(self, value: str, lang: str) -> str:
        label = self.values.get(value)
        return (label.get(lang) or label.get("en") or value) if label else value


@dataclass(frozen=True)
class Policies:
    """Thresholds shared by screens, dashboard and jobs (``metadata/policies.yaml``)."""

    expiry_warning_days: int = 90


@dataclass
class Metadata:
    """Everything the compiler needs, validated and cross-checked."""

    entities: dict[str, EntityMeta]
    forms: dict[str, FormMeta]
    roles: dict[str, RoleMeta]
    modules: dict[str, dict[str, str]]
    vocabularies: dict[str, Vocabulary] = field(default_factory=dict)
    policies: Policies = field(default_factory=Policies)
    fingerprint: str = ""

    def entity(self, name: str) -> EntityMeta:
        return self.entities[name]

    def form(self, entity: str) -> FormMeta:
        return self.forms.get(entity) or FormMeta(entity=entity, source="(default)")
