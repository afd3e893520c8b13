"""MedTrace settings. Every setting can be overridden by an environment variable
of the same name (``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` ...)."""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("MEDTRACE_INSTANCE", BASE_DIR / "instance"))


def _env(name: str, default):
    value = os.environ.get(name)
    if value is None:
        return default
    if isinstance(default, bool):
        return value.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    return value


class Config:
    APP_NAME = "MedTrace"
    APP_ICON = ""
    # Signs session cookies and JWTs. Unset: <instance>/secret_key (run.py writes
    # one); outside debug/testing a missing, shipped or short key stops start-up.
    SECRET_KEY = _env("SECRET_KEY", "") or None
    # Embedded default: SQLite in instance/ (WAL mode). Set DATABASE_URL for PostgreSQL,
    # e.g. postgresql+psycopg://postgres@127.0.0.1:5432/medtrace
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'medtrace.db'}")
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # With REDIS_URL jobs go to RQ; without it they run inline in the web process.
    REDIS_URL = _env("REDIS_URL", "")
    RQ_QUEUE = _env("RQ_QUEUE", "medtrace")
    RQ_JOB_TIMEOUT = _env("RQ_JOB_TIMEOUT", 1800)
    # Seconds between two deliveries of the job outbox by the scheduler process.
    JOB_RELAY_INTERVAL = _env("JOB_RELAY_INTERVAL", 30)
    # run.py runs metadata/schedules.yaml in-process when REDIS_URL is empty.
    MEDTRACE_SCHEDULER = _env("MEDTRACE_SCHEDULER", True)
    # E-mail of notifications; empty SMTP_HOST sends none (the inbox still gets them).
    SMTP_HOST = _env("SMTP_HOST", "")
    SMTP_PORT = _env("SMTP_PORT", 25)
    SMTP_USERNAME = _env("SMTP_USERNAME", "")
    SMTP_PASSWORD = _env("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _env("SMTP_STARTTLS", False)
    SMTP_SSL = _env("SMTP_SSL", False)
    MAIL_FROM = _env("MAIL_FROM", "medtrace@localhost")
    MAIL_SUBJECT_PREFIX = _env("MAIL_SUBJECT_PREFIX", "[MedTrace]")
    # Links in e-mails point here.
    APP_BASE_URL = _env("APP_BASE_URL", "http://127.0.0.1:8080")
    # Where metadata/, forms/, workflows/ and reports/ are read from.
    MEDTRACE_ROOT = _env("MEDTRACE_ROOT", str(BASE_DIR))
    # Keyboard-wedge scanners often send another character instead of GS (0x1D).
    UDI_SEPARATOR_CHARS = _env("UDI_SEPARATOR_CHARS", "\x1d")
    # Where run.py serves (HOST 0.0.0.0 to listen on every interface).
    HOST = _env("HOST", "127.0.0.1")
    PORT = _env("PORT", 8080)
    # Times are stored in UTC and shown in the business's time zone (an IANA
    # name; the screens name the zone they show).
    MEDTRACE_TIMEZONE = _env("MEDTRACE_TIMEZONE", "Asia/Shanghai")

    # Flask-AppBuilder
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    FAB_ADD_SECURITY_API = False
    FAB_API_SWAGGER_UI = True
    FAB_UPDATE_PERMS = False  # permissions are synced by `flask medtrace sync`
    FAB_API_MAX_PAGE_SIZE = 500
    FAB_INDEX_VIEW = "app.views.dashboard.MedTraceIndexView"
    FAB_BASE_TEMPLATE = "medtrace/baselayout.html"  # adds the CSRF token for the pages' scripts
    BABEL_DEFAULT_LOCALE = _env("BABEL_DEFAULT_LOCALE", "en")
    BABEL_DEFAULT_FOLDER = "translations"
    LANGUAGES = {
        "en": {"flag": "gb", "name": "English"},
        "zh": {"flag": "cn", "name": "简体中文"},
    }
    WTF_CSRF_ENABLED = _env("WTF_CSRF_ENABLED", True)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Cookies: never readable by scripts, not sent on cross-site requests, and
    # Secure (HTTPS only) when SESSION_COOKIE_SECURE is on.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _env("REMEMBER_COOKIE_SECURE", False)  # on with SESSION_COOKIE_SECURE
    # Passwords and lockout (sign-in form, JWT login and e-signatures alike).
    PASSWORD_MIN_LENGTH = _env("PASSWORD_MIN_LENGTH", 10)
    LOCKOUT_THRESHOLD = _env("LOCKOUT_THRESHOLD", 5)  # consecutive failures; 0 turns lockout off
    LOCKOUT_MINUTES = _env("LOCKOUT_MINUTES", 15)
    JWT_ACCESS_TOKEN_EXPIRES = 3600
    RATELIMIT_ENABLED = False
    LOAD_DEMO = _env("MEDTRACE_LOAD_DEMO", False)
