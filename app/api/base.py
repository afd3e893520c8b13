"""What every domain API shares: parse the JSON body with a marshmallow schema,
call one service inside one transaction, map domain errors to their status."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi
from marshmallow import Schema, ValidationError

from app.domain.errors import DomainError
from app.i18n import current_language
from app.web.requests import service_context


class DomainApi(BaseApi):
    """Base for action endpoints: JSON in, one service call, JSON out."""

    allow_browser_login = True
    csrf_exempt = True

    def load(self, schema: Schema, data=None):
        if data is None:
            if not request.is_json:
                raise DomainError("send a JSON body (Content-Type: application/json)",
                                  zh="请以 JSON 格式发送请求体（Content-Type: application/json）")
            data = request.get_json(silent=True)
            if data is None:
                raise DomainError("the body is not valid JSON", zh="请求体不是合法的 JSON")
        try:
            return schema.load(data)
        except ValidationError as exc:
            raise DomainError(f"invalid input: {first_problem(exc.messages)}",
                              details={"fields": exc.messages},
                              zh=f"输入有误：{first_problem(exc.messages)}") from None

    def run(self, call, *args, status=200, schema: Schema | None = None, commit: bool = True):
        """Parse the body with ``schema`` (if given), call a service inside one
        transaction (``commit=False``: a read, rolled back) and map domain
        errors to their status."""
        ctx = service_context()
        try:
            if schema is not None:
                args = (self.load(schema), *args)
            if commit:
                with ctx.transaction():
                    body = call(ctx, *args)
            else:
                try:
                    body = call(ctx, *args)
                finally:
                    ctx.session.rollback()
        except DomainError as exc:
            return self.response(exc.status, **exc.to_dict(current_language()))
        return self.response(status, **body)


def first_problem(messages) -> str:
    """The first of marshmallow's messages, with its field (``line 2: quantity: ...``)."""
    return _first(messages)


def _first(messages) -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        inner = _first(value)
        return f"{key}: {inner}" if not str(key).isdigit() else f"line {int(key) + 1}: {inner}"
    if isinstance(messages, list):
        return _first(messages[0]) if messages else ""
    return str(messages)
