"""Transfer orders: create, read with allowed actions, take actions, pick,
receive, resolve exceptions, print the transfer note."""
from __future__ import annotations

from flask import Response, request
from flask_appbuilder.api import expose, protect, safe
from marshmallow import Schema, fields, validate

from app.api.base import DomainApi
from app.api.documents import parse_action
from app.documents.engine import take_action
from app.domain.errors import DomainError
from app.i18n import current_language
from app.transfers.exceptions import resolve_exception
from app.transfers.note import render_transfer_note
from app.transfers.picking import pick_by_scan
from app.transfers.reads import transfer_detail
from app.transfers.receiving import receive_transfer
from app.transfers.requests import ENTITY, create_transfer, get_transfer
from app.web.requests import service_context

Qty = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731


class TransferLineSchema(Schema):
    product = fields.Raw(required=True)
    quantity = Qty(required=True)
    lot = fields.String()
    serial = fields.String()


class TransferSchema(Schema):
    from_warehouse = fields.Raw(required=True)
    to_warehouse = fields.Raw(required=True)
    priority = fields.String(validate=validate.OneOf(["normal", "urgent"]))
    requested_date = fields.Date()
    reason = fields.String(validate=validate.Length(max=2000))
    reason_code = fields.String()
    strategy = fields.String()
    lines = fields.List(fields.Nested(TransferLineSchema), required=True,
                        validate=validate.Length(min=1, max=1000))


class PickSchema(Schema):
    barcode = fields.String()
    product = fields.Raw()
    lot = fields.String()
    serial = fields.String()
    location = fields.String()
    quantity = Qty()


class ReceiveLineSchema(Schema):
    barcode = fields.String()
    product = fields.Raw()
    lot = fields.String()
    serial = fields.String()
    quantity = Qty()
    damaged = Qty()


class ReceiveSchema(Schema):
    location = fields.Raw()
    complete = fields.Boolean(load_default=True)
    comment = fields.String()
    lines = fields.List(fields.Nested(ReceiveLineSchema), load_default=list)


class ResolveSchema(Schema):
    resolution = fields.String(required=True, validate=validate.OneOf(
        ["write_off", "return_to_source", "accept"]))
    note = fields.String(validate=validate.Length(max=2000))
    password = fields.String(validate=validate.Length(max=200))


def lang() -> str:
    return current_language()


class TransferActionsApi(DomainApi):
    resource_name = "transfers"
    class_permission_name = "TransferOrder"
    method_permission_name = {"create": "create", "detail": "read",
                              # who may take which action or step is the workflow's
                              # roles, the entity permission and the scope (the engine)
                              "action": "read", "pick": "read", "receive": "read", "resolve": "read",
                              "note_pdf": "print"}
    openapi_spec_tag = "Transfer"

    def _detail(self, ctx, transfer):
        return transfer_detail(ctx, transfer, lang())

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def create(self):
        """Create a draft transfer with lines.
        ---
        post:
          responses:
            201: {description: the transfer, with allowed actions}
            403: {description: source warehouse outside your scope}
            422: {description: invalid input}
        """
        return self.run(lambda ctx, data: self._detail(ctx, create_transfer(ctx, data)),
                        status=201, schema=TransferSchema())

    @expose("/<ref>", methods=["GET"])
    @protect()
    @safe
    def detail(self, ref):
        """A transfer with lines, state, history and the caller's allowed actions.
        ---
        get:
          responses:
            200: {description: the transfer}
            404: {description: unknown or outside your scope}
        """
        return self.run(lambda ctx: self._detail(ctx, get_transfer(ctx, ref)))

    @expose("/<ref>/actions/<action>", methods=["POST"])
    @protect()
    @safe
    def action(self, ref, action):
        """Take a workflow action (submit, approve, reject, start_picking, ship, close, cancel).
        ---
        post:
          responses:
            200: {description: the new state}
            403: {description: role or scope does not allow it}
            409: {description: the current state does not allow it}
            422: {description: a condition, rule or required comment/signature fails}
        """
        def call(ctx):
            body = parse_action(ctx, ENTITY, action, request.get_json(silent=True))
            return self._detail(ctx, take_action(ctx, ENTITY, ref, action, **body))
        return self.run(call)

    @expose("/<ref>/pick", methods=["POST"])
    @protect()
    @safe
    def pick(self, ref):
        """Confirm a pick by scanning (or product/lot/serial); mismatches are refused.
        ---
        post:
          responses:
            200: {description: updated pick list}
        """
        return self.run(lambda ctx, data: pick_by_scan(ctx, ref, data), schema=PickSchema())

    @expose("/<ref>/receive", methods=["POST"])
    @protect()
    @safe
    def receive(self, ref):
        """Receive (fully or partly) with damaged quantities; leftovers become exceptions.
        ---
        post:
          responses:
            200: {description: the transfer}
        """
        return self.run(lambda ctx, data: self._detail(ctx, receive_transfer(ctx, ref, data)),
                        schema=ReceiveSchema())

    @expose("/<ref>/exceptions/<int:exception_id>/resolve", methods=["POST"])
    @protect()
    @safe
    def resolve(self, ref, exception_id):
        """Resolve a receiving exception: write_off, return_to_source or accept.
        ---
        post:
          responses:
            200: {description: the transfer}
        """
        def call(ctx, data):
            resolve_exception(ctx, ref, exception_id, data)
            return self._detail(ctx, get_transfer(ctx, ref))
        return self.run(call, schema=ResolveSchema())

    @expose("/<ref>/note.pdf", methods=["GET"])
    @protect()
    @safe
    def note_pdf(self, ref):
        """The transfer note (调拨单) as PDF.
        ---
        get:
          responses:
            200: {description: PDF}
        """
        ctx = service_context()
        try:
            transfer = get_transfer(ctx, ref)
            pdf = render_transfer_note(ctx, transfer, lang())
        except DomainError as exc:
            return self.response(exc.status, **exc.to_dict(lang()))
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f"inline; filename={transfer.name}.pdf"})


def register(appbuilder) -> None:
    appbuilder.add_api(TransferActionsApi)
