"""Alert rules: metadata (``metadata/alerts/*.yaml``, loaded by
``app.meta.alerts``) turned into notifications.

- ``sources``     the rows a rule looks at, one SQL query each
- ``conditions``  a rule's CEL condition as SQL (set-based, no per-row Python)
- ``evaluation``  one scheduled evaluation: raise what is new, clear what stopped holding
- ``changes``     ``on_change`` rules, raised in the transaction that changes the field

``load`` reads the rules at start-up (a bad file stops it) together with the
schedule entry of each scheduled rule (``alert.<name>``).
"""
from __future__ import annotations

from pathlib import Path

from app.alerts.conditions import condition_problem
from app.alerts.sources import QUERIES, entity_columns
from app.meta.alerts import AlertRule, load_alert_rules
from app.meta.model import Metadata
from app.meta.schedules import Schedule
from app.notifications.raising import WORKFLOW_KINDS, placeholders

EVALUATE_JOB = "jobs.alert_jobs.evaluate_rule"


def load(root: Path, meta: Metadata) -> dict[str, AlertRule]:
    return load_alert_rules(
        Path(root) / "metadata" / "alerts", meta,
        queries={name: q.columns for name, q in QUERIES.items()},
        columns_for=lambda entity, kind, warehouse: entity_columns(meta, entity, kind, warehouse),
        condition_problem=condition_problem, placeholders=placeholders,
        known_roles=set(meta.roles) | {"admin"})


def schedules_of(rules: dict[str, AlertRule]) -> list[Schedule]:
    """One schedule entry per rule evaluated on a schedule."""
    return [Schedule(name=f"alert.{r.name}", job=EVALUATE_JOB, cron=r.schedule, args=(r.name,),
                     description={lang: f"{text}" for lang, text in r.label.items()}, source=r.source)
            for r in rules.values() if r.trigger.kind != "on_change" and r.schedule]


def catalog(rules: dict[str, AlertRule]) -> dict:
    """Every kind of notification the inbox knows: the rules and the workflow notices."""
    return {**WORKFLOW_KINDS, **rules}
