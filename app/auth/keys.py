"""The secret key that signs session cookies and JWTs.

Whoever knows it can forge any user's session, so outside debug and testing
the app refuses to start with a missing key, a key that was ever shipped in
this repository, or a short one. ``SECRET_KEY`` (environment) wins; else the
key kept in ``<instance>/secret_key``, which ``run.py`` writes once with a
random value (mode 0600) so the quick start stays one command.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

MIN_LENGTH = 32
KEY_FILE = "secret_key"
# Keys that were ever written in this repository: public, so never acceptable.
SHIPPED_KEYS = frozenset({"change-me-in-production-medtrace"})


class SecretKeyError(RuntimeError):
    """The configured secret key cannot be used; the message says how to set one."""


def _how_to(instance_path: Path) -> str:
    return (
        "Set a random value of at least {n} characters in the environment variable SECRET_KEY "
        "(e.g. SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')), "
        "or write one to {file} (mode 0600; `python run.py` creates it on first start). / "
        "请在环境变量 SECRET_KEY 中设置至少 {n} 个字符的随机密钥，或写入 {file}（权限 0600；"
        "首次运行 `python run.py` 会自动生成）。"
    ).format(n=MIN_LENGTH, file=instance_path / KEY_FILE)


def problem_with(key: str | None) -> str | None:
    """What is wrong with ``key`` (None when it is usable)."""
    if not key:
        return "no secret key is set / 未设置密钥"
    if key in SHIPPED_KEYS:
        return "the secret key is the one shipped in the source code, which anyone can read / 密钥为源代码中公开的默认值"
    if len(key) < MIN_LENGTH:
        return (f"the secret key has {len(key)} characters; at least {MIN_LENGTH} are needed / "
                f"密钥只有 {len(key)} 个字符，至少需要 {MIN_LENGTH} 个")
    return None


def read_instance_key(instance_path: Path) -> str | None:
    path = Path(instance_path) / KEY_FILE
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def ensure_instance_key(instance_path: Path) -> Path:
    """Create ``<instance>/secret_key`` with a random key (mode 0600) unless it
    exists; return its path. For ``run.py`` and first-time installs."""
    path = Path(instance_path) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(48) + "\n")
    log.info("generated a secret key in %s", path)
    return path


def configure_secret_key(app) -> None:
    """Resolve ``SECRET_KEY`` (config/environment, else the instance file) and
    refuse an unusable one outside debug and testing. ``JWT_SECRET_KEY`` follows
    ``SECRET_KEY`` (Flask-JWT-Extended falls back to it) unless set; when set it
    must pass the same checks."""
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_instance_key(instance)
    relaxed = app.debug or app.testing
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        key = app.config.get(name)
        if name == "JWT_SECRET_KEY" and not key:
            continue
        problem = problem_with(key)
        if problem is None:
            continue
        if not relaxed:
            raise SecretKeyError(f"{name}: {problem}. {_how_to(instance)}")
        if not key:
            # debug/testing without a key: a random one for this process only
            app.config[name] = secrets.token_urlsafe(48)
        log.warning("%s: %s (accepted only because debug/testing is on)", name, problem)
    app.secret_key = app.config["SECRET_KEY"]

