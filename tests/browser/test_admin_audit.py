"""A QA manager and an auditor read the audit trail in headless Chromium:
labels in their language, records by their title linked to their page, values
as labels, local minutes with the zone named; they filter it and export it as
CSV and Excel (formula injection neutralised). A clerk may not open it."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest

from app.exports import read_xlsx
from scenes import day_of_work

pytestmark = pytest.mark.browser

MINUTES = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


def rows_of(page) -> list[dict]:
    head = [h.strip() for h in page.locator("#audit-rows thead th").all_inner_texts()]
    out = []
    for tr in page.locator("#audit-rows tbody tr").all():
        cells = [c.strip() for c in tr.locator("td").all_inner_texts()]
        out.append(dict(zip(head, cells)))
    return out


def test_qa_manager_reads_filters_and_exports_the_audit_trail(page, login, live_server, unique):
    day = day_of_work(live_server)
    # a value a spreadsheet would run as a formula, typed into a partner's name
    day["as_"]("admin").post("/api/v1/partner/", json={
        "code": f"F{unique}", "name": "=HYPERLINK(\"http://evil\",\"x\")", "kind": "supplier"})
    login("qa_user")
    page.goto("/")
    page.click("a.dropdown-toggle:has-text('Administration')")
    page.click("a:has-text('Audit trail')")
    page.wait_for_url(re.compile(r"/auditlogview/list/"))

    page.fill("#f-record", day["shipped"])
    page.click("#audit-filters button[type=submit]")
    page.wait_for_load_state()
    header = page.locator("#audit-rows thead").inner_text()
    assert "When (Asia/Shanghai, UTC+08:00)" in header
    rows = rows_of(page)
    assert rows and all(MINUTES.match(r["When (Asia/Shanghai, UTC+08:00)"]) for r in rows)
    states = [(r["Who"], r["Old value"], r["New value"]) for r in rows
              if r["Entity"] == "Transfer order" and r["Field"] == "State" and r["Action"] == "Changed"]
    assert ("clerk_sh", "Draft", "Submitted") in states
    assert ("manager_sh", "Submitted", "Approved") in states
    assert ("clerk_sh", "Picking", "Shipped (in transit)") in states
    # a line reads as its document and product, values as labels and titles
    lines = [r for r in rows if r["Entity"] == "Transfer line"]
    assert lines and all(r["Record"] == f"{day['shipped']} · GLV-0004" for r in lines)
    assert {"Product": "GLV-0004", "Lot (optional)": day["lot"]}.items() <= {
        r["Field"]: r["New value"] for r in lines if r["Action"] == "Created"}.items()
    carrier = next(r for r in rows if r["Field"] == "Carrier")
    assert carrier["New value"] == "CAR-SF"
    body = page.inner_text("#audit-rows")
    for raw in ("from_warehouse_id", "lot_id", "carrier_id", "TransferOrder", "near_expiry", "urgent",
                "picking", "shipped", "None", ".0000"):
        assert not re.search(rf"(?<![\w.]){re.escape(raw)}(?!\w)", body), raw
    # the record links to the transfer's page
    page.locator(f"#audit-rows a:text-is('{day['shipped']}')").first.click()
    page.wait_for_url(re.compile(r"/transfers/\d+/$"))
    assert day["shipped"] in page.inner_text("h2")
    page.go_back()

    # by user and date: only that user's changes
    page.fill("#f-record", "")
    page.select_option("#f-user", "clerk_hz")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_load_state()
    who = {r["Who"] for r in rows_of(page)}
    assert who == {"clerk_hz"}
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    page.fill("#f-from", (today - dt.timedelta(days=1)).isoformat())
    page.fill("#f-to", (today - dt.timedelta(days=1)).isoformat())
    page.click("#audit-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#audit-none").is_visible()
    page.fill("#f-to", today.isoformat())
    page.click("#audit-filters button[type=submit]")
    page.wait_for_load_state()
    assert {r["Who"] for r in rows_of(page)} == {"clerk_hz"}
    page.screenshot(path="/tmp/medtrace-audit-qa.png", full_page=True)

    # exports: what the filters select, as labels; CSV and Excel
    with page.expect_download() as info:
        page.click("#export-csv")
    text = info.value.path().read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["When (Asia/Shanghai, UTC+08:00)", "Who", "Entity", "Record", "Action",
                        "Field", "Old value", "New value"]
    assert len(table) > 1 and {r[1] for r in table[1:]} == {"clerk_hz"}
    assert any(r[2] == "Receiving exception" and r[5] == "Kind" and r[7] == "Damaged" for r in table[1:])

    page.goto("/auditlogview/list/?entity=Partner&record=F" + unique)
    with page.expect_download() as info:
        page.click("#export-xlsx")
    cells = read_xlsx(info.value.path().read_bytes())
    assert cells[0][0] == "When (Asia/Shanghai, UTC+08:00)"
    names = [r[7] for r in cells[1:] if r[5] == "Name"]
    assert names == ["'=HYPERLINK(\"http://evil\",\"x\")"]  # shown as text, never run


def test_auditor_reads_it_in_chinese_and_a_clerk_cannot_open_it(page, login, live_server):
    day = day_of_work(live_server)
    login("auditor")
    page.goto("/lang/zh")
    page.goto(f"/auditlogview/list/?record={day['shipped']}")
    header = page.locator("#audit-rows thead").inner_text()
    assert "时间（Asia/Shanghai, UTC+08:00）" in header and "操作人" in header
    rows = rows_of(page)
    assert any(r["对象"] == "调拨单" and r["字段"] == "状态" and r["原值"] == "草稿" and r["新值"] == "已提交"
               for r in rows)
    assert any(r["字段"] == "优先级" and r["新值"] == "紧急" for r in rows)
    assert page.locator("#export-xlsx").count() == 1
    page.screenshot(path="/tmp/medtrace-audit-zh.png", full_page=True)
    page.goto("/lang/en")
    page.goto("/logout/")

    login("clerk_sh")
    r = page.request.get("/auditlogview/list/", max_redirects=0)
    assert r.status in (302, 403)
    r = page.request.get("/auditlogview/export.csv", max_redirects=0)
    assert r.status in (302, 403) and "When" not in r.text()
    page.goto("/")
    assert page.locator("a:has-text('Audit trail')").count() == 0
