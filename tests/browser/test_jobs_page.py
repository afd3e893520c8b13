"""The Jobs page in headless Chromium: an admin sees the schedules and recent
runs, retries a failed run, and runs a schedule now."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_admin_retries_a_failed_run_and_runs_a_schedule_now(page, login, live_server, unique):
    from app.jobqueue import enqueue
    live_server.config["REDIS_URL"] = ""
    with live_server.app_context():
        failed = enqueue(live_server, "jobs.stock_jobs.expiry_report", days=f"x{unique}")
    assert failed.state == "failed"
    login("admin")
    page.goto("/jobs/")
    expect(page.locator('#mt-schedules [data-schedule="alert.lot_expiring"]')).to_contain_text("0 2 * * *")
    row = page.locator(f'#mt-runs tr[data-job="{failed.id}"]')
    expect(row).to_have_attribute("data-state", "failed")
    expect(row).to_contain_text("ValueError")
    row.locator("button.mt-retry").click()
    expect(page.locator("#mt-message")).to_contain_text("Requested")
    # the retry is a new run, recorded as a retry by admin (it fails again: same arguments)
    expect(page.locator("#mt-runs")).to_contain_text("retry by admin")
    page.locator('#mt-schedules [data-schedule="alert.approval_waiting"] button.mt-run-now').click()
    expect(page.locator("#mt-message")).to_contain_text("finished")
    expect(page.locator('#mt-schedules [data-schedule="alert.approval_waiting"]')).to_contain_text("finished")
    page.screenshot(path="/tmp/medtrace-jobs.png", full_page=True)
