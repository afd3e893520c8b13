"""Cross-site request forgery: what a page from another site cannot make a
signed-in browser do.

* Every form POST carries flask-wtf's token (``CSRFProtect``; FAB's forms and
  the generated screens render it). Registering the extension also makes
  Flask-AppBuilder refuse ``GET .../delete/<id>`` and ``GET .../action/...``.
* The REST API is exempt from the form token (scripts use a bearer JWT), but a
  state change under ``/api/`` made with the session cookie needs a JSON body
  (``Content-Type: application/json``, which another site cannot send without a
  CORS pre-flight) or a valid ``X-CSRFToken`` header, and, where the browser
  says where the request comes from (``Origin``, else ``Referer``), this
  site's own origin. Requests carrying only a bearer token are not checked:
  a browser never adds one by itself.
* Cookies are ``HttpOnly`` and ``SameSite=Lax``; ``Secure`` with
  ``SESSION_COOKIE_SECURE`` (the remember-me cookie follows it).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, jsonify, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect, validate_csrf

from app.i18n import current_language

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TOKEN_HEADERS = ("X-CSRFToken", "X-CSRF-Token")

NEED_JSON = ("a request made with the browser session must send a JSON body "
             "(Content-Type: application/json) or the page's X-CSRFToken header",
             "使用浏览器会话发出的请求必须以 JSON 格式发送（Content-Type: application/json）或带有页面的 X-CSRFToken 请求头")
EXPIRED = ("the form's security token is missing or has expired: reload the page and try again",
           "表单安全令牌缺失或已过期：请刷新页面后重试")
CROSS_SITE = ("refused: the request comes from another site ({origin})",
              "已拒绝：请求来自其他网站（{origin}）")


def install(app: Flask) -> CSRFProtect:
    """Register CSRF protection and the API guard. Call before AppBuilder's
    ``init_app`` so the API blueprints it creates are exempted from the form token."""
    if not app.config.get("REMEMBER_COOKIE_SECURE"):
        app.config["REMEMBER_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE"))
    csrf = CSRFProtect(app)
    app.before_request(guard_api)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        if request.path.startswith("/api/") or request.is_json:
            return _refuse(EXPIRED, status=400)
        en, zh = EXPIRED
        return f"{zh if current_language() == 'zh' else en} ({exc.description})", 400
    return csrf


def _refuse(message: tuple[str, str], status: int = 403, **values):
    en, zh = (m.format(**values) for m in message)
    body = {"message": zh if current_language() == "zh" else en, "messages": {"en": en, "zh": zh}}
    return jsonify(body), status


def _cookie_authenticated() -> bool:
    """Signed in through the session cookie (or the remember-me cookie)."""
    from flask import current_app
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return bool(session.get("_user_id")) or remember in request.cookies


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def _claimed_origin() -> str | None:
    """Where the browser says the request comes from; None when it does not say."""
    origin = request.headers.get("Origin")
    if origin:
        return origin.strip().lower()
    referer = request.headers.get("Referer")
    if referer:
        return _origin_of(referer) or "null"
    return None


def _has_valid_token() -> bool:
    for header in TOKEN_HEADERS:
        token = request.headers.get(header)
        if token:
            try:
                validate_csrf(token)
                return True
            except Exception:  # wtforms ValidationError: missing, expired, wrong
                return False
    return False


def guard_api():
    """``before_request``: refuse cookie-authenticated cross-site state changes under /api/."""
    if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
        return None
    if not _cookie_authenticated():
        return None  # a bearer token or nobody: nothing a browser sends on its own
    if request.mimetype != "application/json" and not _has_valid_token():
        return _refuse(NEED_JSON)
    claimed = _claimed_origin()
    own = _origin_of(request.host_url)
    if claimed is not None and claimed != own:
        return _refuse(CROSS_SITE, origin=claimed)
    return None
