"""Marshmallow schemas for every kind of metadata file.

They check shape and types; cross-file checks (a link to a missing entity, a
form column that is not a field) happen in ``loader.py`` once everything is read.
"""
from __future__ import annotations

import re

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from app.domain.expressions import ExpressionError, compile_expression

FIELD_TYPES = (
    "string", "text", "int", "decimal", "bool", "date", "datetime",
    "enum", "link", "table", "json",
)
PERMISSIONS = ("read", "create", "write", "delete", "approve", "print", "export")
SCOPES = ("all", "regions", "warehouses")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
RESERVED_FIELDS = {"id", "created_at", "created_by", "updated_at", "updated_by", "parent_id"}


class Label(Schema):
    class Meta:
        unknown = RAISE

    en = fields.String(required=True, validate=validate.Length(min=1))
    zh = fields.String(required=True, validate=validate.Length(min=1))


class Cel(fields.String):
    """A CEL expression, compiled at load time so a typo stops start-up."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            compile_expression(value)
        except ExpressionError as exc:
            raise ValidationError(str(exc)) from exc
        return value


class FieldSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    label = fields.Nested(Label)
    target = fields.String()
    options = fields.List(fields.String(), validate=validate.Length(min=1))
    required = fields.Boolean()
    unique = fields.Boolean()
    index = fields.Boolean()
    length = fields.Integer(validate=validate.Range(min=1, max=4000))
    scale = fields.Integer(validate=validate.Range(min=0, max=8))
    default = fields.Raw()
    read_only = fields.Boolean()
    core = fields.Boolean()
    description = fields.Nested(Label)

    @validates_schema
    def check_type_options(self, data, **kwargs):
        kind = data.get("type")
        if kind in ("link", "table") and not data.get("target"):
            raise ValidationError(f"a {kind} field needs a target entity", "target")
        if kind not in ("link", "table") and "target" in data:
            raise ValidationError(f"only link and table fields have a target, not {kind}", "target")
        if kind == "enum" and not data.get("options"):
            raise ValidationError("an enum field needs a list of options", "options")
        if kind == "enum" and "default" in data and data["default"] not in data["options"]:
            raise ValidationError(
                f"default {data['default']!r} is not one of the options {data['options']}", "default")
        if "length" in data and kind != "string":
            raise ValidationError("length applies to string fields only", "length")
        if "scale" in data and kind != "decimal":
            raise ValidationError("scale applies to decimal fields only", "scale")


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    expr = Cel(required=True)
    message = fields.Nested(Label, required=True)


class ScopeSchema(Schema):
    class Meta:
        unknown = RAISE

    field = fields.String()
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")

    @validates_schema
    def one_of(self, data, **kwargs):
        if bool(data.get("field")) == bool(data.get("fields")):
            raise ValidationError("give either field or fields")


class EntitySchema(Schema):
    class Meta:
        unknown = RAISE

    entity = fields.String(required=True, validate=validate.Regexp(
        ENTITY_NAME, error="entity names are CamelCase, e.g. TransferOrder"))
    label = fields.Nested(Label, required=True)
    module = fields.String(validate=validate.Regexp(IDENTIFIER))
    naming = fields.String()
    title = fields.String()
    table_of = fields.String()
    core = fields.Boolean()
    audit = fields.Boolean()
    # false: records are created by a service (posting), screens and API only read them
    editable = fields.Boolean()
    fields_ = fields.Dict(keys=fields.String(), values=fields.Nested(FieldSchema),
                          data_key="fields", attribute="fields", required=True)
    rules = fields.List(fields.Nested(RuleSchema))
    scope = fields.Nested(ScopeSchema)
    unique_together = fields.List(fields.List(fields.String(), validate=validate.Length(min=2)))

    @validates("fields_")
    def check_field_names(self, value, **kwargs):
        for name in value:
            if not IDENTIFIER.match(name):
                raise ValidationError(f"field name {name!r} must be snake_case")
            if name in RESERVED_FIELDS:
                raise ValidationError(f"field name {name!r} is reserved by MedTrace")

    @validates("naming")
    def check_naming(self, value, **kwargs):
        if not re.search(r"\{#+\}", value):
            raise ValidationError("a naming series needs a counter such as {#####}")


class FormSectionSchema(Schema):
    class Meta:
        unknown = RAISE

    label = fields.Nested(Label, required=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields", required=True)


class FormSchema(Schema):
    class Meta:
        unknown = RAISE

    form = fields.String(required=True)
    list_columns = fields.List(fields.String())
    search_columns = fields.List(fields.String())
    order = fields.List(fields.String(), validate=validate.Length(equal=2))
    sections = fields.List(fields.Nested(FormSectionSchema))
    read_only = fields.List(fields.String())
    show_if = fields.Dict(keys=fields.String(), values=Cel())


class RoleSchema(Schema):
    class Meta:
        unknown = RAISE

    label = fields.Nested(Label, required=True)
    scope = fields.String(validate=validate.OneOf(SCOPES))
    permissions = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String(validate=validate.OneOf(PERMISSIONS))),
    )


class RolesFileSchema(Schema):
    class Meta:
        unknown = RAISE

    roles = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENTIFIER)),
                        values=fields.Nested(RoleSchema), required=True)


class ModulesFileSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    modules = fields.Dict(keys=fields.String(), values=fields.Nested(Label), required=True)
