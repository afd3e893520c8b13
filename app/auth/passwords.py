"""The password policy: long enough, not the user name, not a common password.

One function, ``problems``, says everything wrong with a password at once (in
English and Chinese); the security manager applies it to every way a password
is set: FAB's user add form, the reset forms, ``sm.add_user`` and
``sm.reset_password`` (so ``flask medtrace create-admin`` and ``ensure_admin``
too). The list of common passwords ships in ``common_passwords.txt``.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from app.domain.errors import ValidationFailed

DEFAULT_MIN_LENGTH = 10
MAX_LENGTH = 256
_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
_TRAILING = re.compile(r"[\d\W_]+$")


class PasswordRejected(ValidationFailed):
    """The password does not meet the policy; the message lists every reason."""


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(l.strip().lower() for l in lines if l.strip() and not l.startswith("#"))


def is_common(password: str) -> bool:
    lowered = password.lower()
    if lowered in common_passwords():
        return True
    base = _TRAILING.sub("", lowered)  # "password2024!" is "password"
    return len(base) >= 4 and base in common_passwords()


def problems(password: str | None, username: str | None = None,
             min_length: int = DEFAULT_MIN_LENGTH) -> list[tuple[str, str]]:
    """Everything wrong with ``password`` for ``username``: (English, Chinese) pairs."""
    password = password or ""
    out: list[tuple[str, str]] = []
    if len(password) < min_length:
        out.append((f"a password needs at least {min_length} characters (this one has {len(password)})",
                    f"密码至少需要 {min_length} 个字符（当前 {len(password)} 个）"))
    if len(password) > MAX_LENGTH:
        out.append((f"a password has at most {MAX_LENGTH} characters",
                    f"密码最多 {MAX_LENGTH} 个字符"))
    name = (username or "").strip().lower()
    if name and len(name) >= 3 and name in password.lower():
        out.append(("a password must not be or contain the user name",
                    "密码不能是用户名或包含用户名"))
    if password and is_common(password):
        out.append(("this password is one of the most common passwords; choose another",
                    "该密码属于最常见密码，请另选一个"))
    return out


def check(password: str | None, username: str | None = None,
          min_length: int = DEFAULT_MIN_LENGTH) -> None:
    """Raise PasswordRejected listing every problem, if there is any."""
    found = problems(password, username, min_length)
    if found:
        raise PasswordRejected("password refused: " + "; ".join(en for en, _ in found),
                               details={"problems": [en for en, _ in found]},
                               zh="密码不符合要求：" + "；".join(zh for _, zh in found))
