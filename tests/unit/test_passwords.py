"""The password policy (app/auth/passwords.py): pure, no database."""
from __future__ import annotations

import pytest

from app.auth import passwords
from app.auth.passwords import PasswordRejected


def test_the_test_users_password_and_a_random_one_pass():
    assert passwords.problems("Secret-pass-1", "clerk_sh") == []
    assert passwords.problems("Tr1cky-Ledger-Horse", "admin") == []


@pytest.mark.parametrize("password, username, expected", [
    ("x", "alice", "at least 10 characters"),
    ("Short-1", "alice", "at least 10 characters"),
    ("clerk_sh_2024!", "clerk_sh", "user name"),
    ("MyNameIsClerk_Sh!", "CLERK_SH", "user name"),
    ("password123", "alice", "most common"),
    ("Qwertyuiop", "alice", "most common"),
    ("iloveyou2024!!", "alice", "most common"),
    ("1234567890", "alice", "most common"),
])
def test_weak_passwords_are_refused_with_the_reason(password, username, expected):
    found = passwords.problems(password, username)
    assert any(expected in en for en, _ in found), found
    assert all(zh for _, zh in found)


def test_every_problem_is_reported_at_once_in_both_languages():
    with pytest.raises(PasswordRejected) as err:
        passwords.check("admin1", "admin")
    exc = err.value
    assert "at least 10" in exc.message and "user name" in exc.message and "common" in exc.message
    assert "至少需要 10" in exc.zh and "用户名" in exc.zh
    assert len(exc.details["problems"]) == 3


def test_minimum_length_is_configurable():
    assert passwords.problems("Abc-xyz-9", "bob", min_length=8) == []
    assert passwords.problems("Abc-xyz-9-long-enough", "bob", min_length=24)


def test_the_common_list_ships_with_the_code():
    common = passwords.common_passwords()
    assert 300 <= len(common) <= 5000
    assert {"123456", "password", "qwerty", "letmein"} <= common
