"""Signed changes of regulated fields, for every entity that has some:
``POST /api/v1/<resource>/<id>/signed-change`` with ``{"changes": {field: value},
"reason": ..., "signature": {"password": ..., "meaning": ...}}`` and
``GET /api/v1/<resource>/<id>/signed-changes``."""
from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from marshmallow import Schema, fields, validate

from app.api.base import DomainApi
from app.api.documents import SignatureBody
from app.documents.engine import find_document
from app.documents.signed_changes import change_regulated, signed_changes_of
from app.meta.model import EntityMeta


class SignedChangeBody(Schema):
    changes = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), values=fields.Raw(allow_none=True),
                          required=True, validate=validate.Length(min=1, max=20))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    signature = fields.Nested(SignatureBody)


def build_signed_change_api(entity: EntityMeta) -> type:
    def change(self, pk):
        """Change regulated fields with a reason and an electronic signature.
        ---
        post:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: string}}
          responses:
            200: {description: the signed changes of the record}
            403: {description: role, permission, scope or signature refused}
            404: {description: unknown record}
            422: {description: not a regulated field, a bad value, no reason or no signature}
        """
        def call(ctx, data):
            signature = data.get("signature") or {}
            record = change_regulated(ctx, entity.name, pk, data["changes"], reason=data["reason"],
                                      password=signature.get("password"), meaning=signature.get("meaning"))
            return {"id": record.id, "result": signed_changes_of(ctx, entity.name, record.id)}
        return self.run(call, schema=SignedChangeBody())

    def history(self, pk):
        """Signed changes of one record, oldest first.
        ---
        get:
          parameters:
          - {in: path, name: pk, required: true, schema: {type: string}}
          responses:
            200: {description: who changed what, why, when and with which meaning}
            404: {description: unknown record}
        """
        def call(ctx):
            record = find_document(ctx, entity.name, pk)
            return {"id": record.id, "result": signed_changes_of(ctx, entity.name, record.id)}
        return self.run(call, commit=False)

    return type(f"{entity.name}SignedChangeApi", (DomainApi,), {
        "resource_name": entity.resource, "class_permission_name": entity.name,
        "method_permission_name": {"change": "write", "history": "read"},
        "openapi_spec_tag": entity.name,
        "change": expose("/<pk>/signed-change", methods=["POST"])(protect()(safe(change))),
        "history": expose("/<pk>/signed-changes", methods=["GET"])(protect()(safe(history))),
    })


def register(appbuilder, meta) -> None:
    for entity in sorted(meta.entities.values(), key=lambda e: e.name):
        if entity.regulated():
            appbuilder.add_api(build_signed_change_api(entity))
