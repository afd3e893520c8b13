"""The generic workflow API: every entity with a workflow file gets, with no
Python of its own,

- ``GET  /api/v1/<resource>/<id>/actions``: the actions the user may take now,
  and for the others why not;
- ``POST /api/v1/<resource>/<id>/actions/<action>`` with ``{"comment": ...,
  "signature": {"password": ..., "meaning": ...}}`` (plus what the action's
  effects read, e.g. a carrier): 200 with the new state, 403/409/422 with a
  message in the user's language;
- ``GET  /api/v1/<resource>/<id>/history``: transitions with who, when, comment
  and signature.
"""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from app.api.base import DomainApi, first_problem
from app.documents import engine
from app.domain.errors import ValidationFailed
from app.i18n import current_language
from app.meta.model import EntityMeta


class SignatureBody(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    meaning = fields.String(validate=validate.Length(max=32))


class ActionBody(Schema):
    """What every action takes; the action's effects may read more (``details``)."""

    class Meta:
        unknown = INCLUDE

    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))
    signature = fields.Nested(SignatureBody)
    password = fields.String(validate=validate.Length(max=200))  # shorthand for signature.password


def parse_action(ctx, entity: str, action: str, payload) -> dict:
    """The body of an action request: comment, signature and the details its
    effects read, each validated; an unknown field is refused by name."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ValidationFailed("the body must be a JSON object", zh="请求体必须是 JSON 对象")
    try:
        data = ActionBody().load(payload)
    except ValidationError as exc:
        raise ValidationFailed(f"invalid input: {first_problem(exc.messages)}",
                               details={"fields": exc.messages},
                               zh=f"输入有误：{first_problem(exc.messages)}") from None
    base = set(ActionBody().fields)
    rest = {k: v for k, v in data.items() if k not in base}
    wf = engine.workflow_of(ctx, entity)
    schemas = [ctx.documents.effects[name].schema for t in wf.transitions if t.action == action
               for name in t.effects if ctx.documents.effects[name].schema is not None]
    details: dict = {}
    known: set[str] = set()
    for schema in schemas:
        instance = schema()
        known |= {f.data_key or n for n, f in instance.fields.items()}
        try:
            details.update(instance.load({k: v for k, v in rest.items() if k in instance.fields}))
        except ValidationError as exc:
            raise ValidationFailed(f"invalid input: {first_problem(exc.messages)}",
                                   details={"fields": exc.messages},
                                   zh=f"输入有误：{first_problem(exc.messages)}") from None
    unknown = sorted(set(rest) - known)
    if unknown:
        raise ValidationFailed(f"unknown field(s) for {action}: {', '.join(unknown)}",
                               details={"fields": {k: ["Unknown field."] for k in unknown}},
                               zh=f"操作「{action}」不接受字段：{'、'.join(unknown)}")
    signature = data.get("signature") or {}
    return {"comment": data.get("comment"),
            "password": signature.get("password") or data.get("password"),
            "meaning": signature.get("meaning"), "details": details}


def build_document_api(entity: EntityMeta) -> type:
    """The workflow endpoints of one entity, beside its generated CRUD API."""

    def actions(self, pk):
        """The actions the current user may take now, and why the others are not possible.
        ---
        get:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: string}}
          responses:
            200: {description: the state and every action with allowed / reason}
            404: {description: unknown, or outside your data scope}
        """
        return self.run(lambda ctx: engine.summary(ctx, entity.name, engine.find_document(
            ctx, entity.name, pk), current_language()), commit=False)

    def act(self, pk, action):
        """Take a workflow action.
        ---
        post:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: string}}
          - {in: path, name: action, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    comment: {type: string, maxLength: 2000}
                    signature:
                      type: object
                      properties: {password: {type: string}, meaning: {type: string}}
          responses:
            200: {description: the new state and the next actions}
            403: {description: role, permission, scope, self-approval or signature refused}
            404: {description: unknown, or outside your data scope}
            409: {description: the current state does not allow it}
            422: {description: a condition fails, or a comment or signature is missing}
        """
        def call(ctx):
            body = parse_action(ctx, entity.name, action, request.get_json(silent=True))
            document = engine.take_action(ctx, entity.name, pk, action, **body)
            return engine.summary(ctx, entity.name, document, current_language())
        return self.run(call)

    def history(self, pk):
        """Transitions with who, when, comment and electronic signature.
        ---
        get:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: string}}
          responses:
            200: {description: the history, oldest first}
            404: {description: unknown, or outside your data scope}
        """
        def call(ctx):
            document = engine.find_document(ctx, entity.name, pk)
            rows = engine.history_of(ctx, entity.name, document, current_language())
            return {"result": [{**h, "at": h["at"].isoformat() + "Z",
                                "signed_at": h["signed_at"].isoformat() + "Z" if h["signed_at"] else None}
                               for h in rows]}
        return self.run(call, commit=False)

    attrs = {
        "resource_name": entity.resource,
        "class_permission_name": entity.name,
        # who may take which action is decided by the engine (roles, permission, scope)
        "method_permission_name": {"actions": "read", "act": "read", "history": "read"},
        "openapi_spec_tag": entity.name,
        "actions": expose("/<pk>/actions", methods=["GET"])(protect()(safe(actions))),
        "act": expose("/<pk>/actions/<action>", methods=["POST"])(protect()(safe(act))),
        "history": expose("/<pk>/history", methods=["GET"])(protect()(safe(history))),
    }
    return type(f"{entity.name}WorkflowApi", (DomainApi,), attrs)


def register(appbuilder, workflows: dict, meta) -> None:
    for name in sorted(workflows):
        appbuilder.add_api(build_document_api(meta.entities[name]))
