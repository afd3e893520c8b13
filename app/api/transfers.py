"""Transfer orders: create, read with allowed actions, take actions, pick,
receive, resolve exceptions, print the transfer note."""
from __future__ import annotations

from flask import Response
from flask_appbuilder.api import expose, protect, safe
from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.base import DomainApi
from app.domain.errors import DomainError
from app.i18n import current_language
from app.reports import render_transfer_note
from app.services import transfers
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
    reason = fields.String()
    strategy = fields.String(validate=validate.OneOf(["fefo", "fifo", "closest_bin", "manual_lot"]))
    lines = fields.List(fields.Nested(TransferLineSchema), required=True,
                        validate=validate.Length(min=1, max=1000))


class ActionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    comment = fields.String(validate=validate.Length(max=2000))
    password = fields.String()
    carrier = fields.Raw()
    vehicle = fields.String(validate=validate.Length(max=32))
    tracking_no = fields.String(validate=validate.Length(max=64))
    expected_arrival = fields.Date()


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
    note = fields.String()


def lang() -> str:
    return current_language()


class TransferActionsApi(DomainApi):
    resource_name = "transfers"
    class_permission_name = "TransferOrder"
    method_permission_name = {"create": "create", "detail": "read",
                              # who may take which action is the workflow's roles and scope
                              "action": "read",
                              "pick": "write", "receive": "write", "resolve": "write",
                              "note_pdf": "print"}
    openapi_spec_tag = "Transfer"

    def _detail(self, ctx, transfer):
        return transfers.transfer_detail(ctx, transfer, lang())

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
        return self.run(lambda ctx, data: self._detail(ctx, transfers.create_transfer(ctx, data)),
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
        return self.run(lambda ctx: self._detail(ctx, transfers.get_transfer(ctx, ref)))

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
        def call(ctx, data):
            details = {k: data[k] for k in ("carrier", "vehicle", "tracking_no", "expected_arrival")
                       if k in data}
            transfer = transfers.take_action(ctx, ref, action, comment=data.get("comment"),
                                             password=data.get("password"), details=details)
            return self._detail(ctx, transfer)
        return self.run(call, schema=ActionSchema())

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
        return self.run(lambda ctx, data: transfers.pick_by_scan(ctx, ref, data), schema=PickSchema())

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
        return self.run(lambda ctx, data: self._detail(ctx, transfers.receive_transfer(ctx, ref, data)),
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
            transfers.resolve_exception(ctx, ref, exception_id, data)
            return self._detail(ctx, transfers.get_transfer(ctx, ref))
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
            transfer = transfers.get_transfer(ctx, ref)
            pdf = render_transfer_note(ctx, transfer, lang())
        except DomainError as exc:
            return self.response(exc.status, **exc.to_dict())
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f"inline; filename={transfer.name}.pdf"})


def register(appbuilder) -> None:
    appbuilder.add_api(TransferActionsApi)
