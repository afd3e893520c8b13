"""Drive the generated admin in headless Chromium: log in, open a list,
create a record through the generated form, switch to Chinese."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_login_list_create_and_switch_language(page, login, unique):
    login("admin")
    page.goto("/productview/list/")
    page.screenshot(path="/tmp/medtrace-products.png")
    assert page.get_by_text("Record Count").is_visible()
    assert page.get_by_text("CAT-0001").first.is_visible()

    page.goto("/regionview/add")
    page.fill("input[name=code]", f"B{unique}"[:16])
    page.fill("input[name=name]", "Browser region 浏览器区域")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda url: "/regionview/add" not in url)
    assert page.get_by_text("Added Row").is_visible()
    page.goto("/regionview/list/")
    assert page.get_by_text(f"B{unique}"[:16]).first.is_visible()

    page.goto("/lang/zh")
    page.goto("/productview/list/")
    body = page.inner_text("body")
    assert "物料编码" in body and "管理类别" in body and "主数据" in body
    page.screenshot(path="/tmp/medtrace-products-zh.png")
