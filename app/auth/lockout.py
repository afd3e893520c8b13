"""Failed password attempts: each one recorded, and the account locked after
too many in a row.

Every wrong password at sign-in (form and ``POST /api/v1/security/login``), at
an electronic signature and at a password change is a row of ``auth_failure``
(append-only: who, when, which kind, from where, why). ``auth_lockout`` keeps,
per user name, the number of consecutive failures; at ``LOCKOUT_THRESHOLD`` the
account is locked for ``LOCKOUT_MINUTES`` (the counter starts again after it);
while locked every attempt is refused, even with the right password, and
recorded with reason ``locked``. A success resets the counter.

Failures are written in their own transaction, after the caller's session
transaction ends: a refused signature rolls its business transaction back,
yet the failure stays recorded (and SQLite, which lets one writer at a time,
is never asked for a second write lock while the first is held).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from app.domain.clock import utcnow
from app.domain.errors import Forbidden

log = logging.getLogger(__name__)

KINDS = ("login", "signature", "password_change")
REASONS = ("bad_password", "unknown_user", "inactive", "locked")
_DEFERRED = "medtrace_auth_writes"
_COUNTS = "medtrace_auth_counts"

_failure = sa.table("auth_failure", sa.column("at", sa.DateTime), sa.column("username"),
                    sa.column("kind"), sa.column("reason"), sa.column("remote_addr"))
_lock = sa.table("auth_lockout", sa.column("username"), sa.column("failures", sa.Integer),
                 sa.column("locked_until", sa.DateTime), sa.column("last_failure_at", sa.DateTime))


def define_tables(md: sa.MetaData) -> None:
    sa.Table(
        "auth_failure", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("username", sa.String(64), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),      # login / signature / password_change
        sa.Column("reason", sa.String(16), nullable=False),    # bad_password / unknown_user / inactive / locked
        sa.Column("remote_addr", sa.String(64)),
        info={"append_only": True},
    )
    sa.Table(
        "auth_lockout", md,
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, default=0),
        sa.Column("locked_until", sa.DateTime),
        sa.Column("last_failure_at", sa.DateTime),
    )


def account_key(username: str | None) -> str:
    """The name failures are counted under: the account's user name, lower case."""
    return (username or "").strip().lower()[:64]


class AccountLocked(Forbidden):
    """Too many failed password attempts: refused until ``until`` (UTC)."""

    def __init__(self, until: dt.datetime, just_now: bool = False):
        when = f"{until:%Y-%m-%d %H:%M} UTC"
        lead_en = "the password is not correct. " if just_now else ""
        lead_zh = "密码不正确。" if just_now else ""
        super().__init__(
            f"{lead_en}Too many failed password attempts: the account is locked until {when}; "
            "try again after that time",
            details={"locked_until": until.isoformat(timespec="seconds") + "Z"},
            zh=f"{lead_zh}密码错误次数过多：账户已锁定至 {when}，请在此时间之后再试")
        self.until = until


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int = 5          # consecutive failures that lock; 0 = never lock
    minutes: int = 15

    @classmethod
    def from_config(cls, config) -> "LockoutPolicy":
        return cls(threshold=int(config.get("LOCKOUT_THRESHOLD", 5)),
                   minutes=int(config.get("LOCKOUT_MINUTES", 15)))


class Lockout:
    """Reads through the caller's session; writes after its transaction."""

    def __init__(self, policy: LockoutPolicy, clock: Callable[[], dt.datetime] = utcnow):
        self.policy, self.clock = policy, clock

    def _state(self, session, key: str) -> tuple[int, dt.datetime | None]:
        """Consecutive failures (stored, plus those of this transaction not
        written yet) and the end of the current lock."""
        row = session.execute(sa.select(_lock.c.failures, _lock.c.locked_until)
                              .where(_lock.c.username == key)).first()
        failures, until = (row.failures or 0, row.locked_until) if row else (0, None)
        pending = _pending_counts(session).get(key)
        if pending is not None:
            failures = 0 if pending == "reset" else failures + pending
        return failures, until

    def locked_until(self, session, username: str) -> dt.datetime | None:
        """When the lock on ``username`` ends, or None when it is not locked."""
        _, until = self._state(session, account_key(username))
        return until if until is not None and until > self.clock() else None

    def failed(self, session, username: str, kind: str, reason: str,
               remote_addr: str | None = None) -> dt.datetime | None:
        """Record a failure; return when the lock ends if the account is locked now."""
        key, now = account_key(username), self.clock()
        failures, until = self._state(session, key)
        locked_now = None
        if reason != "locked" and self.policy.threshold > 0 and failures + 1 >= self.policy.threshold:
            locked_now = now + dt.timedelta(minutes=self.policy.minutes)
        row = {"at": now, "username": key or "(empty)", "kind": kind, "reason": reason,
               "remote_addr": (remote_addr or None) and remote_addr[:64]}
        if reason != "locked":
            counts = _pending_counts(session)
            counts[key] = (0 if counts.get(key) in (None, "reset") else counts[key]) + 1
            if locked_now is not None:
                counts[key] = "reset"
        _after_transaction(session, lambda conn: self._write_failure(conn, row, count=reason != "locked"))
        return locked_now

    def succeeded(self, session, username: str) -> None:
        key = account_key(username)
        failures, _ = self._state(session, key)
        if failures:
            _pending_counts(session)[key] = "reset"
            _after_transaction(session, lambda conn: conn.execute(
                _lock.update().where(_lock.c.username == key).values(failures=0)))

    def _write_failure(self, conn, row: dict, count: bool) -> None:
        conn.execute(_failure.insert().values(**row))
        if not count:
            return
        key, now = row["username"], row["at"]
        bump = (_lock.update().where(_lock.c.username == key)
                .values(failures=_lock.c.failures + 1, last_failure_at=now))
        if conn.execute(bump).rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(_lock.insert().values(username=key, failures=1, last_failure_at=now))
            except IntegrityError:  # a concurrent first failure inserted it
                conn.execute(bump)
        failures = conn.execute(sa.select(_lock.c.failures).where(_lock.c.username == key)).scalar()
        if self.policy.threshold > 0 and failures >= self.policy.threshold:
            conn.execute(_lock.update().where(_lock.c.username == key).values(
                failures=0, locked_until=now + dt.timedelta(minutes=self.policy.minutes)))


def _pending_counts(session) -> dict:
    """Failures recorded in this session's transaction and not written yet, per
    account (or "reset"), so several attempts in one transaction still count."""
    if isinstance(session, scoped_session):
        session = session()
    return session.info.setdefault(_COUNTS, {})


def _after_transaction(session, write: Callable) -> None:
    """Run ``write(connection)`` in a transaction of its own once ``session``'s
    transaction has ended (now, when it has none)."""
    if isinstance(session, scoped_session):
        session = session()
    engine = session.get_bind()

    def run():
        with engine.begin() as conn:
            write(conn)
    if session.in_transaction():
        session.info.setdefault(_DEFERRED, []).append(run)
    else:
        session.info.pop(_COUNTS, None)
        run()


@event.listens_for(Session, "after_transaction_end")
def _run_deferred(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_COUNTS, None)
    if not session.info.get(_DEFERRED):
        return
    for run in session.info.pop(_DEFERRED):
        try:
            run()
        except Exception:  # never turn a refused password into a server error
            log.exception("could not record a failed password attempt")
