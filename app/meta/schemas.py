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
from app.meta.files import ENTITY_NAME, IDENTIFIER, Label

FIELD_TYPES = (
    "string", "text", "int", "decimal", "bool", "date", "datetime",
    "enum", "link", "table", "json",
)
LOOKUPS = ("users",)
PERMISSIONS = ("read", "create", "write", "delete", "approve", "print", "export")
SCOPES = ("all", "regions", "warehouses")
RESERVED_FIELDS = {"id", "created_at", "created_by", "updated_at", "updated_by", "parent_id"}


class Cel(fields.String):
    """A CEL expression, compiled at load time so a typo stops start-up."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            compile_expression(value)
        except ExpressionError as exc:
            raise ValidationError(str(exc)) from exc
        return value


class Options(fields.Field):
    """An enum's options: a list of values, or values with their labels
    (``{normal: {en: Normal, zh: 普通}, urgent: {...}}``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            if not value or not all(isinstance(v, str) and v for v in value):
                raise ValidationError("must be a non-empty list of values")
            return value
        if isinstance(value, dict) and value:
            label = Label()
            return {str(k): label.deserialize(v) for k, v in value.items()}
        raise ValidationError("must be a list of values or a mapping of values to labels")


class RegulatedSchema(Schema):
    """Who may change a regulated field, and whether the change is signed."""

    class Meta:
        unknown = RAISE

    roles = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    signature = fields.String(validate=validate.OneOf(["approval", "review", "responsibility"]))


class FieldSchema(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    label = Label()
    target = fields.String()
    options = Options()
    vocabulary = fields.String(validate=validate.Regexp(IDENTIFIER))
    required = fields.Boolean()
    unique = fields.Boolean()
    index = fields.Boolean()
    length = fields.Integer(validate=validate.Range(min=1, max=4000))
    scale = fields.Integer(validate=validate.Range(min=0, max=8))
    default = fields.Raw()
    read_only = fields.Boolean()
    core = fields.Boolean()
    description = Label()
    regulated = fields.Nested(RegulatedSchema)
    # a link field's allowed targets: {target field: value or list of values}
    filter = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENTIFIER)),
                         values=fields.Raw(), validate=validate.Length(min=1))
    lookup = fields.String(validate=validate.OneOf(LOOKUPS))

    @validates_schema
    def check_type_options(self, data, **kwargs):
        kind = data.get("type")
        if kind in ("link", "table") and not data.get("target"):
            raise ValidationError(f"a {kind} field needs a target entity", "target")
        if kind not in ("link", "table") and "target" in data:
            raise ValidationError(f"only link and table fields have a target, not {kind}", "target")
        if kind == "enum" and not data.get("options") and not data.get("vocabulary"):
            raise ValidationError("an enum field needs options (a list, or values with labels) "
                                  "or a vocabulary", "options")
        if kind != "enum" and ("options" in data or "vocabulary" in data):
            raise ValidationError(f"only enum fields have options or a vocabulary, not {kind}",
                                  "options" if "options" in data else "vocabulary")
        if "options" in data and "vocabulary" in data:
            raise ValidationError("give options or a vocabulary, not both", "vocabulary")
        if kind == "enum" and "default" in data and "options" in data and data["default"] not in data["options"]:
            raise ValidationError(
                f"default {data['default']!r} is not one of the options {data['options']}", "default")
        if "length" in data and kind != "string":
            raise ValidationError("length applies to string fields only", "length")
        if "scale" in data and kind != "decimal":
            raise ValidationError("scale applies to decimal fields only", "scale")
        if "filter" in data and kind != "link":
            raise ValidationError("filter applies to link fields only", "filter")
        for key, value in (data.get("filter") or {}).items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (str, int, bool)) for v in values):
                raise ValidationError(f"{key}: give a value or a list of values", "filter")
        if "lookup" in data and kind != "string":
            raise ValidationError("lookup applies to string fields only", "lookup")


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    expr = Cel(required=True)
    message = Label(required=True)


class ScopeSchema(Schema):
    class Meta:
        unknown = RAISE

    field = fields.String()
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    # the record's warehouses are those whose stock holds it (lots, serials)
    stock = fields.Boolean()

    @validates_schema
    def one_of(self, data, **kwargs):
        given = [bool(data.get("field")), bool(data.get("fields")), bool(data.get("stock"))]
        if sum(given) != 1:
            raise ValidationError("give one of field, fields or stock: true")


class EntitySchema(Schema):
    class Meta:
        unknown = RAISE

    entity = fields.String(required=True, validate=validate.Regexp(
        ENTITY_NAME, error="entity names are CamelCase, e.g. TransferOrder"))
    label = Label(required=True)
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

    label = Label(required=True)
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

    label = Label(required=True)
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

    modules = fields.Dict(keys=fields.String(), values=Label(), required=True)


class VocabularySchema(Schema):
    class Meta:
        unknown = RAISE

    label = Label(required=True)
    values = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENTIFIER)), values=Label(),
                         required=True, validate=validate.Length(min=1))
    core = fields.List(fields.String())


class VocabulariesFileSchema(Schema):
    class Meta:
        unknown = RAISE

    vocabularies = fields.Dict(keys=fields.String(validate=validate.Regexp(IDENTIFIER)),
                               values=fields.Nested(VocabularySchema), required=True)


class PoliciesFileSchema(Schema):
    class Meta:
        unknown = RAISE

    expiry_warning_days = fields.Integer(validate=validate.Range(min=1, max=3650))
