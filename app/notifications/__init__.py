"""Notifications: what MedTrace tells people, and how it reaches them.

One kind of item for alert rules (``app.alerts``) and workflow notices
(``notify_approvers``, ``notify_requester``): a ``notification`` row about a
record in a warehouse, with a bilingual message. Who sees it is decided when
it is read: the rule's recipient roles within the user's warehouse scope, or
the users it was addressed to. Each user acknowledges for themselves and may
mute a rule (never a regulatory one); resolving and comments are shared.

- ``tables``   the tables
- ``raising``  writing notifications (one, or a set from an alert rule)
- ``inbox``    what a user sees and does: list, unread count, acknowledge,
               resolve, comment, mute; the dashboard panel
- ``email``    delivery by e-mail, one digest per user, when SMTP is configured
- ``links``    where a notification's record is shown
"""
from app.notifications.tables import define_tables

__all__ = ["define_tables"]
