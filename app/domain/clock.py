"""The one clock. Times are stored as naive UTC (the database columns carry no
zone); they are shown in the user's zone and sent over the API with ``Z``."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, as naive UTC: what every timestamp column stores."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def today() -> dt.date:
    """Today's date in UTC, the date expiry and overdue checks compare against."""
    return utcnow().date()
