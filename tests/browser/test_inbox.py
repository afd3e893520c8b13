"""The bell and the inbox in headless Chromium: a warehouse manager sees the
unread count in the top bar, opens the inbox, acknowledges a notification and
sees the count go down; in Chinese too."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def expiring(live_server, unique):
    """An expiry alert for SH01, raised by the rule as the scheduler would."""
    from alerting import notifications, receive
    from app.jobqueue import run_scheduled
    live_server.config["REDIS_URL"] = ""
    lot_id = receive(live_server, "SH01", f"BELL{unique}", dt.date.today() + dt.timedelta(days=45))
    assert run_scheduled(live_server, "alert.lot_expiring").state == "finished"
    [alert] = notifications(live_server, "lot_expiring", record_id=lot_id)
    return alert


def bell_count(page) -> int:
    badge = page.locator("#mt-bell-count")
    return int(badge.inner_text()) if badge.count() else 0


def test_manager_sees_the_bell_and_acknowledges(page, login, expiring):
    login("manager_sh")
    page.goto("/")
    expect(page.locator("#mt-bell")).to_be_visible()
    before = bell_count(page)
    assert before >= 1
    expect(page.locator(f'#alert-panel [data-notification="{expiring["id"]}"]')).to_be_visible()

    page.click("#mt-bell")
    page.wait_for_url("**/notifications/")
    item = page.locator(f'[data-notification="{expiring["id"]}"]')
    expect(item).to_contain_text(expiring["message"]["en"])
    page.screenshot(path="/tmp/medtrace-inbox.png", full_page=True)
    item.locator("button.mt-ack").click()
    expect(page.locator("#mt-message")).to_contain_text("Done")
    assert bell_count(page) == before - 1
    # acknowledged: no longer among the unread ones; still there under "All", marked acknowledged
    expect(page.locator(f'[data-notification="{expiring["id"]}"]')).to_have_count(0)
    page.goto("/notifications/?show=all")
    expect(page.locator(f'[data-notification="{expiring["id"]}"]')).to_have_attribute("data-acknowledged", "1")


def test_inbox_in_chinese(page, login, expiring):
    login("qa_user")
    page.goto("/lang/zh")
    page.goto("/notifications/?show=all")
    expect(page.locator("h2")).to_contain_text("通知")
    item = page.locator(f'[data-notification="{expiring["id"]}"]')
    expect(item).to_contain_text(expiring["message"]["zh"])
    expect(item.locator("button.mt-ack")).to_have_text("确认已阅")
    page.screenshot(path="/tmp/medtrace-inbox-zh.png", full_page=True)
