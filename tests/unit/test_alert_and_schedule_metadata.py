"""Alert rules and schedules are validated at load like every metadata file:
a bad cron, an unknown job, a bad field or condition stops start-up naming
the file and the key. Conditions become SQL that agrees with CEL."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import alerts
from app.alerts.conditions import condition_problem, to_sql
from app.domain.expressions import evaluate_bool
from app.jobqueue import resolve_job_function
from app.meta.files import MetadataError
from app.meta.loader import MetadataLoader
from app.meta.schedules import cron_problem, load_schedules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def meta():
    return MetadataLoader(ROOT).load()


@pytest.fixture
def project(tmp_path):
    """A copy of the shipped metadata to break."""
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    return tmp_path


def test_shipped_rules_and_schedules_load(meta):
    rules = alerts.load(ROOT, meta)
    assert {"lot_expiring", "expired_stock_available", "stock_below_minimum", "transfer_overdue",
            "quarantine_too_long", "approval_waiting", "lot_recalled"} <= set(rules)
    assert rules["expired_stock_available"].regulatory and not rules["lot_expiring"].regulatory
    assert rules["lot_expiring"].severity_for(30) == "critical" and rules["lot_expiring"].severity_for(180) == "info"
    schedules = load_schedules(ROOT, resolve_job_function, extra=alerts.schedules_of(rules))
    assert schedules["alert.lot_expiring"].job == "jobs.alert_jobs.evaluate_rule"
    assert schedules["alert.lot_expiring"].args == ("lot_expiring",)
    assert "alert.lot_recalled" not in schedules  # on_change: raised by the change itself


@pytest.mark.parametrize("expr, problem", [
    ("0 0 31 2 *", "never fires"), ("61 * * * *", "not a valid"), ("* * *", "5 fields"),
    ("every day", "5 fields")])
def test_cron_problems(expr, problem):
    assert problem in cron_problem(expr)


def test_a_bad_schedule_stops_start_up_naming_file_and_key(project):
    (project / "metadata" / "schedules.yaml").write_text(
        "schedules:\n"
        "  nightly:\n"
        "    job: jobs.stock_jobs.no_such_job\n"
        "    cron: \"0 0 31 2 *\"\n"
        "    description: {en: x, zh: x}\n"
        "  report:\n"
        "    job: jobs.stock_jobs.expiry_report\n"
        "    cron: \"0 1 * * *\"\n"
        "    args: [90, 1, 2, 3]\n"
        "    description: {en: x, zh: x}\n"
        "  typo:\n"
        "    job: jobs.stock_jobs.expire_lots\n"
        "    cron: \"0 1 * * *\"\n"
        "    descripton: {en: x, zh: x}\n", encoding="utf-8")
    with pytest.raises(MetadataError) as err:
        load_schedules(project, resolve_job_function)
    text = str(err.value)
    assert "schedules.yaml" in text
    assert "schedules.typo.descripton: unknown key" in text and "schedules.typo.description: missing" in text
    with pytest.raises(MetadataError) as err:
        (project / "metadata" / "schedules.yaml").write_text(
            (project / "metadata" / "schedules.yaml").read_text().split("  typo:")[0], encoding="utf-8")
        load_schedules(project, resolve_job_function)
    problems = dict(err.value.problems)
    assert "never fires" in problems["schedules.nightly.cron"]
    assert "no job function 'no_such_job'" in problems["schedules.nightly.job"]
    assert "does not accept these arguments" in problems["schedules.report.args"]


RULE = """alert: broken
label: {en: Broken, zh: 坏}
severity: warning
trigger:
  days_before: {entity: Lot, field: expiry_date, days: [30], schedule: "0 0 30 2 *"}
condition: "quantiy > 0"
recipients: {roles: [warehouse_manager, nobody]}
dedup: [id, warehouse_idd]
message: {en: "Lot {lot_number} {nope}", zh: "批次 {lot_number}"}
"""


def test_a_bad_rule_reports_every_problem_with_file_and_key(project, meta):
    path = project / "metadata" / "alerts" / "broken.yaml"
    path.write_text(RULE, encoding="utf-8")
    with pytest.raises(MetadataError) as err:
        alerts.load(project, meta)
    assert err.value.source.endswith("broken.yaml")
    problems = dict(err.value.problems)
    assert "never fires" in problems["trigger.days_before.schedule"]
    assert "unknown name quantiy" in problems["condition"] and "quantity" in problems["condition"]
    assert "unknown role 'nobody'" in problems["recipients.roles[1]"]
    assert "'warehouse_idd' is not one of this rule's fields" in problems["dedup[1]"]
    assert "{nope} is not one of this rule's fields" in problems["message.en"]


@pytest.mark.parametrize("change, key, problem", [
    ({"trigger": "trigger:\n  days_before: {entity: Lot, field: lot_number, days: [30]}\n"},
     "trigger.days_before.field", "needs a date"),
    ({"trigger": "trigger:\n  cron: {query: no_query, schedule: \"0 * * * *\"}\n"},
     "trigger.cron.query", "unknown query 'no_query'"),
    ({"trigger": "trigger:\n  on_change: {entity: Lot, field: status, to: [lost]}\n"},
     "trigger.on_change.to[0]", "'lost' is not one of status's values"),
    ({"condition": "condition: \"size(lot_number) > 3\"\n"}, "condition", "not supported"),
    ({"condition": "condition: \"quantity >\"\n"}, "condition", "invalid CEL"),
    ({"severity": "severity: urgent\n"}, "severity", "must be one of"),
])
def test_each_kind_of_mistake(project, meta, change, key, problem):
    good = {"trigger": "trigger:\n  days_before: {entity: Lot, field: expiry_date, days: [30]}\n",
            "condition": "condition: \"quantity > 0\"\n", "severity": "severity: warning\n"}
    good.update(change)
    text = ("alert: one\nlabel: {en: One, zh: 一}\n" + good["severity"] + good["trigger"] + good["condition"]
            + "recipients: {roles: [qa]}\ndedup: [id]\nmessage: {en: x, zh: x}\n")
    (project / "metadata" / "alerts" / "one.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(MetadataError) as err:
        alerts.load(project, meta)
    problems = dict(err.value.problems)
    assert problem in problems[key], problems


ROWS = [
    {"quantity": 5, "days_left": 20, "status": "available", "warehouse": "SH01", "expiry_date": "2027-01-10"},
    {"quantity": 0, "days_left": 90, "status": "quarantine", "warehouse": "BJ01", "expiry_date": "2027-03-10"},
    {"quantity": 12.5, "days_left": 200, "status": "available", "warehouse": None, "expiry_date": "2027-08-01"},
]


@pytest.mark.parametrize("expr", [
    "quantity > 0", "quantity > 0 && days_left <= 30", "!(status == 'available') || quantity >= 10",
    "status in ['quarantine', 'on_hold']", "warehouse == null", "warehouse != null && quantity * 2 > 9",
    "days_left - 10 < 15 || (quantity > 1 && status != 'available')", "expiry_date < '2027-02-01'",
    "-quantity < -1", "days_left % 30 == 0",
])
def test_conditions_as_sql_agree_with_cel(expr):
    assert condition_problem(expr, ROWS[0].keys()) is None
    engine = sa.create_engine("sqlite://")
    md = sa.MetaData()
    t = sa.Table("r", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("quantity", sa.Float),
                 sa.Column("days_left", sa.Integer), sa.Column("status", sa.String),
                 sa.Column("warehouse", sa.String), sa.Column("expiry_date", sa.Date))
    md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{**r, "id": i, "expiry_date": dt.date.fromisoformat(r["expiry_date"])}
                                  for i, r in enumerate(ROWS)])
        where = to_sql(expr, {c.name: c for c in t.c}, dt.date(2026, 12, 1))
        by_sql = set(conn.execute(sa.select(t.c.id).where(where)).scalars())
    by_cel = set()
    for i, r in enumerate(ROWS):
        try:
            if evaluate_bool(expr, r):
                by_cel.add(i)
        except Exception:
            pass  # CEL refuses a missing value; SQL's NULL comparison is false
    assert by_sql == by_cel


def test_due_times_follow_the_cron_in_server_time():
    from app.meta.schedules import Schedule
    nightly = Schedule(name="n", job="jobs.stock_jobs.expire_lots", cron="15 0 * * *",
                       description={"en": "x", "zh": "x"})
    now = dt.datetime(2026, 12, 1, 9, 30)
    nxt, last = nightly.next_after(now), nightly.last_due(now)
    assert nxt > now >= last and (nxt - last) == dt.timedelta(days=1)
    local = (nxt.replace(tzinfo=dt.timezone.utc).astimezone())
    assert (local.hour, local.minute) == (0, 15)
    assert nightly.last_due(last) == last  # due exactly now counts as due
    assert nightly.next_after(last) == nxt
