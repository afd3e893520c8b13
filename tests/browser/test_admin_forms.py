"""The admin's generated forms in headless Chromium: choice lists are selects of
labels (both languages), a bad value is refused next to its field with every
other input kept, on add and on edit; links offer only sensible targets; edit
is offered only where it can succeed, and a refused one says why."""
from __future__ import annotations


import pytest
import sqlalchemy as sa

from scenes import day_of_work, record_id

pytestmark = pytest.mark.browser


def choose(page, field: str, label: str) -> None:
    """Pick ``label`` in the searchable select (select2) of ``field``, as a person does."""
    page.click(f'[aria-labelledby="select2-{field}-container"]')
    page.fill(".select2-container--open .select2-search__field", label[:4])
    page.click(f'li.select2-results__option:text-is("{label}")')


def field_row(page, name: str):
    return page.locator(f"tr:has([name={name}])")


def product(app, sku: str):
    from app import db
    with app.app_context():
        P = app.extensions["medtrace"].models["Product"]
        row = db.session.execute(sa.select(P.sku, P.risk_class, P.tracking, P.shelf_life_days)
                                 .where(P.sku == sku)).first()
        db.session.remove()
        return row


def test_admin_picks_enums_and_a_bad_value_is_refused_next_to_its_field(page, login, live_server, unique):
    sku = f"BRW-{unique}"
    login("admin")
    page.goto("/productview/add")
    # every choice list is a select of labels, not a text box of keys
    options = page.locator("select[name=risk_class] option").all_inner_texts()
    assert options == ["Class I", "Class II", "Class III"]
    assert "By lot and serial number" in page.locator("select[name=tracking] option").all_inner_texts()
    assert "First expiry, first out (FEFO)" in page.locator(
        "select[name=allocation_strategy] option").all_inner_texts()
    assert page.locator("input[name=risk_class]").count() == 0

    page.fill("input[name=sku]", sku)
    page.fill("input[name=name]", "Browser catheter")
    choose(page, "risk_class", "Class III")
    choose(page, "tracking", "By serial number")
    page.fill("input[name=shelf_life_days]", "-5")
    page.fill("input[name=storage_temp_min]", "8")
    page.fill("input[name=storage_temp_max]", "2")
    page.click("#model_form button[type=submit]")
    page.wait_for_load_state()

    assert page.url.endswith("/productview/add")
    assert "Database Error" not in page.inner_text("body")
    assert "Shelf life must be a positive number of days" in \
        field_row(page, "shelf_life_days").locator(".alert-danger").inner_text()
    assert "Minimum storage temperature must not exceed the maximum" in \
        field_row(page, "storage_temp_max").locator(".alert-danger").inner_text()
    assert field_row(page, "sku").locator(".alert-danger").count() == 0
    # what was typed and chosen is still there
    assert page.input_value("input[name=sku]") == sku
    assert page.input_value("input[name=name]") == "Browser catheter"
    assert page.input_value("select[name=risk_class]") == "III"
    assert page.input_value("select[name=tracking]") == "serial"
    assert page.input_value("input[name=shelf_life_days]") == "-5"
    page.screenshot(path="/tmp/medtrace-admin-form-errors.png", full_page=True)
    assert product(live_server, sku) is None

    page.fill("input[name=shelf_life_days]", "730")
    page.fill("input[name=storage_temp_max]", "25")
    page.click("#model_form button[type=submit]")
    page.wait_for_url(lambda url: "/productview/add" not in url)
    assert "Added Row" in page.inner_text("body")
    assert tuple(product(live_server, sku)) == (sku, "III", "serial", 730)
    page.goto("/productview/list/")
    # the list shows labels, not keys or True/False
    cells = [c.strip() for c in page.locator(f"tr:has-text('{sku}') td").all_inner_texts()]
    assert {"Class III", "By serial number", "Yes"} <= set(cells)
    assert not {"III", "serial", "True", "False", "None"} & set(cells)

    # on edit too: refused next to the field, input kept, nothing changed
    pk = record_id(live_server, "Product", sku=sku)
    page.goto(f"/productview/edit/{pk}")
    page.fill("input[name=name]", "Renamed catheter")
    page.fill("input[name=shelf_life_days]", "0")
    page.click("#model_form button[type=submit]")
    page.wait_for_load_state()
    assert "Database Error" not in page.inner_text("body")
    assert "Shelf life must be a positive number of days" in \
        field_row(page, "shelf_life_days").locator(".alert-danger").inner_text()
    assert page.input_value("input[name=name]") == "Renamed catheter"
    assert page.input_value("input[name=shelf_life_days]") == "0"
    assert tuple(product(live_server, sku)) == (sku, "III", "serial", 730)

    # the same form in Chinese: the options and the message in Chinese
    page.goto("/lang/zh")
    page.goto(f"/productview/edit/{pk}")
    assert page.locator("select[name=risk_class] option").all_inner_texts() == ["第一类", "第二类", "第三类"]
    page.fill("input[name=shelf_life_days]", "-1")
    page.click("#model_form button[type=submit]")
    page.wait_for_load_state()
    assert "有效期天数必须为正数" in field_row(page, "shelf_life_days").locator(".alert-danger").inner_text()
    page.screenshot(path="/tmp/medtrace-admin-form-errors-zh.png", full_page=True)
    page.goto("/lang/en")


def test_links_offer_sensible_targets_and_users_are_chosen(page, login, live_server):
    day = day_of_work(live_server)
    login("admin")
    draft_id = record_id(live_server, "TransferOrder", name=day["draft"])
    page.goto(f"/transferorderview/edit/{draft_id}")
    carriers = [t.strip() for t in page.locator("select[name=carrier] option").all_inner_texts()]
    assert "CAR-SF" in carriers and "CAR-JD" in carriers
    assert not [c for c in carriers if c.startswith(("SUP-", "HOS-"))], carriers
    assert "__None" not in page.inner_text("body")
    # a data access grant's user is chosen from the users
    page.goto("/accessgrantview/add")
    users = page.locator("select[name=username] option").all_inner_texts()
    assert any(u.startswith("clerk_sh") for u in users) and any(u.startswith("qa_user") for u in users)
    assert page.locator("input[name=username]").count() == 0


def test_edit_is_offered_only_where_it_can_succeed(page, login, live_server):
    day = day_of_work(live_server)
    login("clerk_sh")
    page.goto("/transferorderview/list/")
    draft_row = page.locator(f"tr:has-text('{day['draft']}')")
    cancelled_row = page.locator(f"tr:has-text('{day['cancelled']}')")
    assert draft_row.locator("a[href*='/transferorderview/edit/']").count() == 1
    assert cancelled_row.locator("a[href*='/transferorderview/edit/']").count() == 0
    assert cancelled_row.locator("a[href*='/transferorderview/delete/']").count() == 0
    assert "Cancelled" in cancelled_row.inner_text() and "cancelled" not in cancelled_row.inner_text()

    # asked for anyway, the edit says why and shows the record instead
    cancelled_id = record_id(live_server, "TransferOrder", name=day["cancelled"])
    page.goto(f"/transferorderview/edit/{cancelled_id}")
    assert f"/transferorderview/show/{cancelled_id}" in page.url
    body = page.inner_text("body")
    assert "is in state “Cancelled”" in body and "“Draft”" in body
    assert "Database Error" not in body
    page.screenshot(path="/tmp/medtrace-admin-locked.png", full_page=True)

    # a role without write sees no edit at all
    page.goto("/logout/")
    login("auditor")
    page.goto("/transferorderview/list/")
    assert page.locator("a[href*='/transferorderview/edit/']").count() == 0
    assert page.locator("a[href*='/transferorderview/delete/']").count() == 0
