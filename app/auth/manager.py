"""MedTrace's Flask-AppBuilder security manager: FAB's, with

* lockout and recorded failures on every password check (``auth_user_db``
  serves the sign-in form and the JWT login; ``verify_password_attempt`` serves
  electronic signatures and password changes);
* the password policy on every way a password is set (``add_user``,
  ``reset_password`` and the user add / reset forms);
* "reset my password" that asks for the current password, and an admin reset
  that cannot be used on one's own account (which would skip that question);
* the administrators' screen and API of failed attempts.

The view classes keep FAB's class names, so endpoints (``AuthDBView.login``)
and permission names (``ResetMyPasswordView``...) stay what roles were granted.
"""
from __future__ import annotations

from flask import current_app, g, has_request_context, request
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import AuthDBView as FabAuthDBView
from flask_appbuilder.security.views import (
    ResetMyPasswordView as FabResetMyPasswordView,
)
from flask_appbuilder.security.views import ResetPasswordView as FabResetPasswordView
from flask_appbuilder.security.views import UserDBModelView as FabUserDBModelView
from flask_appbuilder.views import expose
from werkzeug.security import check_password_hash
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from app.auth import passwords
from app.auth.lockout import AccountLocked, Lockout, LockoutPolicy
from app.auth.views import register as register_failure_views
from app.domain.clock import utcnow
from app.i18n import current_language, lazy

_REFUSAL = "medtrace_auth_refusal"  # g: why the sign-in was refused (AccountLocked)


def _remote_addr() -> str | None:
    return request.remote_addr if has_request_context() else None


def _t(en: str, zh: str) -> str:
    return zh if current_language() == "zh" else en


# ----------------------------------------------------------------- form validators
class PasswordPolicy:
    """A new password meets the policy for the account it is for."""

    def __call__(self, form, field):
        found = passwords.problems(field.data, _target_username(form),
                                   current_app.config.get("PASSWORD_MIN_LENGTH",
                                                          passwords.DEFAULT_MIN_LENGTH))
        if found:
            raise ValidationError("; ".join(_t(en, zh) for en, zh in found))


def _target_username(form) -> str | None:
    if getattr(form, "username", None) is not None and form.username.data:
        return form.username.data  # the user add form
    pk = request.args.get("pk")
    if pk:  # an administrator resetting someone's password
        user = current_app.appbuilder.sm.get_user_by_id(pk)
        return user.username if user else None
    user = g.get("user")
    return user.username if user is not None and user.is_authenticated else None


class CurrentPassword:
    """The signed-in user's current password: counted like any password attempt."""

    def __call__(self, form, field):
        try:
            ok = current_app.appbuilder.sm.verify_password_attempt(
                g.user.username, field.data, kind="password_change")
        except AccountLocked as exc:
            raise ValidationError(exc.in_language(current_language())) from None
        if not ok:
            raise ValidationError(_t("the current password is not correct", "当前密码不正确"))


class DiffersFromCurrent:
    def __call__(self, form, field):
        if field.data and check_password_hash(g.user.password, field.data):
            raise ValidationError(_t("the new password must differ from the current one",
                                     "新密码不能与当前密码相同"))


class NotOwnAccount:
    """The administrators' reset is for other accounts: one's own password is
    changed through "reset my password", which asks for the current one."""

    def __call__(self, form, field):
        user = g.get("user")
        if user is not None and str(request.args.get("pk")) == str(user.id):
            raise ValidationError(_t(
                "to change your own password use \"Reset my password\", which asks for your current password",
                "修改自己的密码请使用“重置我的密码”，需要输入当前密码"))


def _password_field(*validators):
    return PasswordField(lazy({"en": "New password", "zh": "新密码"}),
                         validators=[DataRequired(), *validators], widget=BS3PasswordFieldWidget())


def _confirm_field():
    return PasswordField(lazy({"en": "Confirm password", "zh": "确认密码"}),
                         validators=[EqualTo("password", message=lazy(
                             {"en": "Passwords must match", "zh": "两次输入的密码不一致"}))],
                         widget=BS3PasswordFieldWidget())


class ChangeMyPasswordForm(DynamicForm):
    current_password = PasswordField(lazy({"en": "Current password", "zh": "当前密码"}),
                                     validators=[DataRequired(), CurrentPassword()],
                                     widget=BS3PasswordFieldWidget())
    password = _password_field(PasswordPolicy(), DiffersFromCurrent())
    conf_password = _confirm_field()


class AdminResetPasswordForm(DynamicForm):
    password = _password_field(NotOwnAccount(), PasswordPolicy())
    conf_password = _confirm_field()


# ------------------------------------------------------------------------- views
class ResetMyPasswordView(FabResetMyPasswordView):
    form = ChangeMyPasswordForm
    form_title = lazy({"en": "Change my password", "zh": "修改我的密码"})


class ResetPasswordView(FabResetPasswordView):
    form = AdminResetPasswordForm


class UserDBModelView(FabUserDBModelView):
    add_form_extra_fields = {
        **FabUserDBModelView.add_form_extra_fields,
        "password": PasswordField(lazy({"en": "Password", "zh": "密码"}),
                                  validators=[DataRequired(), PasswordPolicy()],
                                  widget=BS3PasswordFieldWidget()),
    }


class AuthDBView(FabAuthDBView):
    @property
    def invalid_login_message(self):
        refusal = g.get(_REFUSAL)
        if refusal is not None:
            return refusal.in_language(current_language())
        return _t("Invalid login. Please try again.", "用户名或密码错误，请重试。")


class SecurityApi(FabSecurityApi):
    @expose("/login", methods=["POST"])
    def login(self):
        response = super().login()
        refusal = g.get(_REFUSAL)
        if refusal is not None:
            response = self.response(refusal.status, **refusal.to_dict(current_language()))
            response.headers["Retry-After"] = str(max(1, int(
                (refusal.until - _utcnow()).total_seconds())))
        return response


def _utcnow():
    return utcnow()


# -------------------------------------------------------------- security manager
class MedTraceSecurityManager(SecurityManager):
    userdbmodelview = UserDBModelView
    authdbview = AuthDBView
    resetmypasswordview = ResetMyPasswordView
    resetpasswordview = ResetPasswordView
    security_api = SecurityApi

    @property
    def lockout(self) -> Lockout:
        return Lockout(LockoutPolicy.from_config(current_app.config))

    # -- the password policy, wherever a password is set ------------------------------
    def check_password_policy(self, password: str, username: str | None) -> None:
        passwords.check(password, username, current_app.config.get(
            "PASSWORD_MIN_LENGTH", passwords.DEFAULT_MIN_LENGTH))

    def add_user(self, username, first_name, last_name, email, role=None, password="",
                 hashed_password="", **kwargs):
        if password and not hashed_password:
            self.check_password_policy(password, username)
        return super().add_user(username, first_name, last_name, email, role,
                                password=password, hashed_password=hashed_password, **kwargs)

    def reset_password(self, userid, password):
        user = self.get_user_by_id(userid)
        self.check_password_policy(password, user.username if user else None)
        super().reset_password(userid, password)

    # -- password attempts -----------------------------------------------------------
    def _account(self, name: str | None):
        if not name:
            return None
        return self.find_user(username=name) or self.find_user(email=name)

    def auth_user_db(self, username, password):
        """Sign-in (form and JWT): refused while locked; every failure recorded."""
        user = self._account(username)
        key = user.username if user else username
        lockout = self.lockout
        until = lockout.locked_until(self.session, key)
        if until is not None:
            lockout.failed(self.session, key, "login", "locked", _remote_addr())
            g.setdefault(_REFUSAL, AccountLocked(until))
            return None
        result = super().auth_user_db(username, password)
        if result:
            lockout.succeeded(self.session, key)
            return result
        reason = ("unknown_user" if user is None else
                  "inactive" if not user.is_active else "bad_password")
        locked = lockout.failed(self.session, key, "login", reason, _remote_addr())
        if locked is not None:
            g.setdefault(_REFUSAL, AccountLocked(locked, just_now=True))
        return None

    def verify_password_attempt(self, username: str, password: str | None,
                                kind: str = "signature") -> bool:
        """Re-check a signed-in user's password (an electronic signature, a
        password change). Returns whether it is right; raises AccountLocked
        (a Forbidden, 403) while the account is locked, including when this
        failure locks it. Every failure is recorded."""
        user = self.find_user(username=username)
        key = user.username if user else username
        lockout = self.lockout
        until = lockout.locked_until(self.session, key)
        if until is not None:
            lockout.failed(self.session, key, kind, "locked", _remote_addr())
            raise AccountLocked(until)
        if user is not None and user.is_active and password and \
                check_password_hash(user.password, password):
            lockout.succeeded(self.session, key)
            return True
        reason = ("unknown_user" if user is None else
                  "inactive" if not user.is_active else "bad_password")
        locked = lockout.failed(self.session, key, kind, reason, _remote_addr())
        if locked is not None:
            raise AccountLocked(locked, just_now=True)
        return False

    def register_views(self):
        super().register_views()
        register_failure_views(self.appbuilder)
