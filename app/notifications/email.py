"""E-mail delivery: one digest per user of what their inbox received since
the last one, when SMTP is configured (``SMTP_HOST``).

Each user has a cursor (``notification_email.last_id``): the digest lists the
notifications they may see (roles, scope, mutes: the inbox's own rule) above
it, and the cursor moves before sending; if the server refuses, it moves back,
so the next run sends them again and two runs never send the same twice.
Notifications raised before the user existed are not sent. Messages carry both
languages.
"""
from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from app.context import ServiceContext
from app.notifications import inbox
from app.notifications.links import inbox_path

LISTED = 50  # items written out in one digest; the rest are counted


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    ssl: bool = False
    sender: str = "medtrace@localhost"
    subject_prefix: str = "[MedTrace]"
    base_url: str = "http://127.0.0.1:8080"
    timeout: int = 20

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "SmtpSettings | None":
        if not config.get("SMTP_HOST"):
            return None
        return cls(host=config["SMTP_HOST"], port=int(config.get("SMTP_PORT", 25)),
                   username=config.get("SMTP_USERNAME", ""), password=config.get("SMTP_PASSWORD", ""),
                   starttls=bool(config.get("SMTP_STARTTLS")), ssl=bool(config.get("SMTP_SSL")),
                   sender=config.get("MAIL_FROM", "medtrace@localhost"),
                   subject_prefix=config.get("MAIL_SUBJECT_PREFIX", "[MedTrace]"),
                   base_url=config.get("APP_BASE_URL", "http://127.0.0.1:8080").rstrip("/"))


@dataclass(frozen=True)
class MailUser:
    """Someone who may receive e-mail: their address and what they may see."""
    username: str
    email: str
    created_on: dt.datetime | None
    context: ServiceContext  # the inbox's view of them (roles, scope)


def send_digests(users: Iterable[MailUser], catalog: Mapping[str, Any], settings: SmtpSettings,
                 workflow_entities=frozenset()) -> dict:
    """Send each user their digest; returns counts and the users it failed for."""
    sent, items, failed = 0, 0, {}
    for user in users:
        try:
            n = _send_one(user, catalog, settings, workflow_entities)
        except (smtplib.SMTPException, OSError) as exc:
            failed[user.username] = f"{type(exc).__name__}: {exc}"
            continue
        if n:
            sent += 1
            items += n
    return {"emails": sent, "notifications": items, "failed": failed}


def _send_one(user: MailUser, catalog, settings: SmtpSettings, workflow_entities) -> int:
    ctx = user.context
    t = inbox.tables(ctx)
    N, C = t["notification"], t["notification_email"]
    last = ctx.session.execute(sa.select(C.c.last_id).where(C.c.username == user.username)).scalar()
    since = last or 0
    q = sa.select(N).where(inbox.visible(ctx, catalog), N.c.id > since, N.c.state != "resolved")
    if user.created_on is not None:
        q = q.where(N.c.raised_at >= user.created_on)
    found = q.subquery()
    count, top = ctx.session.execute(sa.select(sa.func.count(), sa.func.max(found.c.id))).one()
    if not count:
        ctx.session.rollback()
        return 0
    rows = ctx.session.execute(q.order_by(N.c.id).limit(LISTED)).mappings().all()
    listed = inbox.describe(ctx, catalog, rows, "en", workflow_entities)
    # move the cursor first: a concurrent run finds nothing new for this user
    if last is None:
        claimed = _insert_cursor(ctx, C, user.username, top)
    else:
        claimed = ctx.session.execute(C.update().where(C.c.username == user.username, C.c.last_id == last)
                                      .values(last_id=top, sent_at=ctx.now())).rowcount == 1
    ctx.session.commit()
    if not claimed:
        return 0
    try:
        _deliver(settings, user.email, _compose(settings, user, listed, count))
    except Exception as exc:
        ctx.session.execute(C.update().where(C.c.username == user.username, C.c.last_id == top)
                            .values(last_id=since, last_error=f"{type(exc).__name__}: {exc}"[:2000]))
        ctx.session.commit()
        raise
    ctx.session.execute(C.update().where(C.c.username == user.username).values(last_error=None))
    ctx.session.commit()
    return count


def _insert_cursor(ctx, C, username: str, top: int) -> bool:
    try:
        with ctx.session.begin_nested():
            ctx.session.execute(C.insert().values(username=username, last_id=top, sent_at=ctx.now()))
        return True
    except sa.exc.IntegrityError:
        return False


def _compose(settings: SmtpSettings, user: MailUser, items: list[dict], count: int) -> EmailMessage:
    msg = EmailMessage()
    if count == 1:
        one = items[0]["messages"]
        subject = f"{one.get('en', '')} / {one.get('zh', '')}"
    else:
        subject = f"{count} new notifications / {count} 条新通知"
    msg["Subject"] = f"{settings.subject_prefix} {subject}"[:250]
    msg["From"] = settings.sender
    msg["To"] = user.email
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="medtrace")
    lines = [f"Hello {user.username},", "", f"{count} new notification(s) for you in MedTrace:",
             f"MedTrace 有 {count} 条新通知：", ""]
    for item in items:
        mark = " [regulatory / 法规要求]" if item["regulatory"] else ""
        lines.append(f"* [{item['severity'].upper()}]{mark} {item['messages'].get('en', '')}")
        lines.append(f"  {item['messages'].get('zh', '')}")
        if item["warehouse"]:
            lines.append(f"  Warehouse / 仓库: {item['warehouse']}")
        lines.append(f"  {settings.base_url}{inbox_path(item['id'])}")
        if item["link"]:
            lines.append(f"  {settings.base_url}{item['link']}")
        lines.append("")
    if count > len(items):
        lines.append(f"... and {count - len(items)} more / 另有 {count - len(items)} 条: "
                     f"{settings.base_url}/notifications/")
    lines += ["", "Acknowledge, resolve or mute them in your inbox / 请在收件箱中确认、处理或屏蔽：",
              f"{settings.base_url}/notifications/"]
    msg.set_content("\n".join(lines))
    return msg


def _deliver(settings: SmtpSettings, to: str, msg: EmailMessage) -> None:
    cls = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    with cls(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls and not settings.ssl:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password)
        smtp.send_message(msg, to_addrs=[to])
