"""The signed-in user's notifications (every user has an inbox; what it
holds follows from their roles, warehouses and mutes):

- ``GET  /api/v1/notifications/?show=unread|open|resolved|all&rule=&severity=&page=&page_size=``
- ``GET  /api/v1/notifications/unread``: ``{"count": n}`` (the bell)
- ``GET  /api/v1/notifications/<id>``: with its comments and who acknowledged it
- ``POST /api/v1/notifications/<id>/acknowledge`` ``{"comment": ...}``: seen, for me
- ``POST /api/v1/notifications/<id>/resolve`` ``{"comment": ...}``: dealt with, for everyone
  (a regulatory one needs a comment)
- ``POST /api/v1/notifications/<id>/comments`` ``{"text": ...}``
- ``GET  /api/v1/notifications/rules``: the rules I receive and which I muted
- ``POST``/``DELETE /api/v1/notifications/rules/<rule>/mute``: regulatory rules answer 403
"""
from __future__ import annotations

import functools

from flask import current_app, g, request
from flask_appbuilder.api import expose, safe
from flask_jwt_extended import verify_jwt_in_request
from flask_login import current_user
from marshmallow import Schema, fields, validate

from app.alerts import catalog
from app.api.base import DomainApi
from app.api.paging import page_args
from app.i18n import current_language
from app.notifications import inbox
from app.web.requests import runtime


def signed_in(view):
    """Any signed-in user (session cookie or JWT): the inbox is everyone's."""
    @functools.wraps(view)
    def wrapped(self, *args, **kwargs):
        if not current_user.is_authenticated:
            try:
                verify_jwt_in_request()
            except Exception:
                return self.response_401()
        user = g.get("user") or current_user
        if user is None or not getattr(user, "is_active", False):
            return self.response_401()
        return view(self, *args, **kwargs)
    return wrapped


class CommentBody(Schema):
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class TextBody(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


def kinds() -> dict:
    return catalog(current_app.extensions["medtrace_alerts"])


def workflow_entities() -> frozenset:
    return frozenset(runtime().workflows)


class NotificationsApi(DomainApi):
    resource_name = "notifications"
    openapi_spec_tag = "Notifications"

    def body(self, schema):
        return self.load(schema(), request.get_json(silent=True) if request.data else {})

    @expose("/", methods=["GET"])
    @signed_in
    @safe
    def list_items(self):
        """My notifications.
        ---
        get:
          responses:
            200: {description: notifications, most severe and newest first}
            401: {description: not signed in}
        """
        def call(ctx):
            limit, offset = page_args()
            return inbox.list_notifications(
                ctx, kinds(), current_language(), show=request.args.get("show", "unread"),
                rule=request.args.get("rule") or None, severity=request.args.get("severity") or None,
                limit=limit, offset=offset, workflow_entities=workflow_entities())
        return self.run(call, commit=False)

    @expose("/unread", methods=["GET"])
    @signed_in
    @safe
    def unread(self):
        """How many notifications I have not acknowledged.
        ---
        get:
          responses:
            200: {description: the count}
        """
        return self.run(lambda ctx: {"count": inbox.unread_count(ctx, kinds())}, commit=False)

    @expose("/rules", methods=["GET"])
    @signed_in
    @safe
    def rules(self):
        """The rules I receive, and which I muted.
        ---
        get:
          responses:
            200: {description: rules}
        """
        return self.run(lambda ctx: {"rules": inbox.rules_for(ctx, kinds(), current_language())},
                        commit=False)

    @expose("/rules/<rule>/mute", methods=["POST", "DELETE"])
    @signed_in
    @safe
    def mute(self, rule):
        """Mute (POST) or unmute (DELETE) a rule for myself.
        ---
        post:
          responses:
            200: {description: muted}
            403: {description: a regulatory rule}
            404: {description: unknown rule}
        delete:
          responses:
            200: {description: unmuted}
        """
        if request.method == "DELETE":
            return self.run(lambda ctx: inbox.unmute(ctx, kinds(), rule))
        return self.run(lambda ctx: inbox.mute(ctx, kinds(), rule))

    @expose("/<int:notification_id>", methods=["GET"])
    @signed_in
    @safe
    def detail(self, notification_id):
        """One notification with its comments.
        ---
        get:
          responses:
            200: {description: the notification}
            404: {description: unknown, or not mine}
        """
        return self.run(lambda ctx: inbox.notification_detail(
            ctx, kinds(), notification_id, current_language(), workflow_entities()), commit=False)

    @expose("/<int:notification_id>/acknowledge", methods=["POST"])
    @signed_in
    @safe
    def acknowledge(self, notification_id):
        """I have seen it.
        ---
        post:
          responses:
            200: {description: acknowledged}
            404: {description: unknown, or not mine}
        """
        return self.run(lambda ctx: inbox.acknowledge(ctx, kinds(), notification_id,
                                                      self.body(CommentBody).get("comment")))

    @expose("/<int:notification_id>/resolve", methods=["POST"])
    @signed_in
    @safe
    def resolve(self, notification_id):
        """It is dealt with (for everyone).
        ---
        post:
          responses:
            200: {description: resolved}
            404: {description: unknown, or not mine}
            422: {description: a regulatory notification needs a comment}
        """
        return self.run(lambda ctx: inbox.resolve(ctx, kinds(), notification_id,
                                                  self.body(CommentBody).get("comment")))

    @expose("/<int:notification_id>/comments", methods=["POST"])
    @signed_in
    @safe
    def add_comment(self, notification_id):
        """Add a comment.
        ---
        post:
          responses:
            200: {description: added}
            422: {description: no text}
        """
        return self.run(lambda ctx: inbox.comment(ctx, kinds(), notification_id,
                                                  self.body(TextBody)["text"]))


def register(appbuilder) -> None:
    appbuilder.add_api(NotificationsApi)
