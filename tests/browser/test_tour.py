"""A screenshot tour of every menu page, in English and in Chinese, as the admin
(who sees every menu) and as a clerk, after a day's work (transfers in several
states, a partial receipt, a receiving exception). Screenshots go to
``$MEDTRACE_TOUR_DIR`` (default /tmp/medtrace-tour).

A page fails the tour when it shows what a person should never read:
* a raw key where a label belongs: a table cell, field value, option or badge
  that reads exactly an enum option, vocabulary value, workflow state or
  action, or role key (taken from the metadata, so a new enum is covered), or
  True / False / None / __None;
* anywhere in its text: a snake_case key of those, ``10.0000``-style
  quantities, microsecond timestamps;
* in Chinese: Flask-AppBuilder's or our English words left untranslated.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from scenes import day_of_work

pytestmark = pytest.mark.browser

TOUR_DIR = Path(os.environ.get("MEDTRACE_TOUR_DIR", "/tmp/medtrace-tour"))
# Flask-AppBuilder's permission pages list its internal names: that is their content
TECHNICAL = ("/permissions/list/", "/viewmenus/list/", "/permissionviews/list/")
ENGLISH_CHROME = (
    "Add", "Search", "Back", "Record Count", "Export CSV", "Export Excel", "Show", "Edit", "Delete",
    "Save", "Page size", "Groups", "Actions", "No records found", "Select Value", "Login Count",
    "Failed Login Count", "List Users", "List Roles", "Profile", "Logout", "Filter", "Clear", "Security",
    "Audit trail", "Stock on hand", "Transfer board", "Scan to receive", "Master data", "Inventory",
    "Transfers", "Administration", "Yes", "No", "Draft", "Shipped", "Urgent", "Normal", "Open", "Resolved",
    "Class III", "Product", "Warehouse", "Quantity", "Status", "When", "Who", "Record",
)
CELLS = ("td", "dd", "option", ".select2-selection__rendered", "span.label", ".badge", "h4 span")
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
TRAILING_ZEROS = re.compile(r"\d\.0000\b")


def raw_keys(app) -> set[str]:
    """Every key that has a label somewhere in the metadata and reads unlike it."""
    runtime = app.extensions["medtrace"]
    meta = runtime.meta
    keys: dict[str, set[str]] = {}

    def add(key, labels):
        keys.setdefault(str(key), set()).update(v for v in labels.values() if v)
    for entity in meta.entities.values():
        for f in entity.fields.values():
            for option in f.options:
                add(option, f.option_label(option))
    for vocab in meta.vocabularies.values():
        for value, label in vocab.values.items():
            add(value, label)
    for wf in runtime.workflows.values():
        for name, state in wf.states.items():
            add(name, {"en": state.label("en"), "zh": state.label("zh")})
        for t in wf.transitions:
            add(t.action, {"en": t.label("en"), "zh": t.label("zh")})
    for name, role in meta.roles.items():
        add(name, role.label)
    return {k for k, labels in keys.items() if k not in labels} | {"True", "False", "None", "__None"}


def usernames(app) -> set[str]:
    with app.app_context():
        return {u.username for u in app.appbuilder.sm.get_all_users()}


def menu_urls(page) -> list[str]:
    hrefs = page.eval_on_selector_all("ul.nav a[href]", "els => els.map(e => e.getAttribute('href'))")
    return [h for h in dict.fromkeys(hrefs)
            if h.startswith("/") and not h.startswith("/lang/") and h not in ("/logout/",)]


def problems_on(page, url: str, lang: str, keys: set[str]) -> list[str]:
    text = page.inner_text("body")
    found = []
    if "Internal Server Error" in text or "Traceback" in text:
        return [f"{url}: server error"]
    if MICROSECONDS.search(text):
        found.append(f"{url}: microsecond time {MICROSECONDS.search(text).group()}")
    if TRAILING_ZEROS.search(text):
        found.append(f"{url}: quantity {TRAILING_ZEROS.search(text).group()}")
    if url in TECHNICAL:
        keys = set()
    cells = page.eval_on_selector_all(", ".join(CELLS), "els => els.map(e => e.innerText.trim())")
    found += [f"{url}: raw value {c!r}" for c in sorted(set(cells)) if c in keys]
    for key in sorted(k for k in keys if "_" in k):
        if re.search(rf"(?<![\w/-]){re.escape(key)}(?![\w-])", text):
            found.append(f"{url}: raw key {key}")
    if lang == "zh":
        # (a one-word key such as "draft" is caught where it stands alone, above:
        # English words inside data, "In transit TR-…", are data)
        for word in ENGLISH_CHROME:
            if re.search(rf"(?<![\w/-]){re.escape(word)}(?![\w-])", text):
                found.append(f"{url}: untranslated {word!r}")
    return found


def tour(page, login, live_server, username: str, extra: list[str]) -> list[str]:
    keys = raw_keys(live_server) - usernames(live_server)  # the user "auditor" is a name
    login(username)
    page.goto("/")
    urls = menu_urls(page) + extra + ["/"]
    assert len(urls) > 8
    problems = []
    for lang in ("en", "zh"):
        page.goto(f"/lang/{lang}")
        for url in urls:
            response = page.goto(url)
            assert response is not None and response.status == 200, (url, response and response.status)
            page.wait_for_load_state("networkidle")
            name = re.sub(r"[^a-z0-9]+", "-", url.strip("/").lower()) or "home"
            TOUR_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(TOUR_DIR / f"{username}-{lang}-{name}.png"), full_page=True)
            problems += [f"[{username} {lang}] {p}" for p in problems_on(page, url, lang, keys)]
    page.goto("/lang/en")
    return problems


def test_tour_as_admin_in_english_and_chinese(page, login, live_server):
    day = day_of_work(live_server)
    from scenes import record_id
    shipped_id = record_id(live_server, "TransferOrder", name=day["shipped"])
    extra = [f"/transfers/{day['shipped']}/", f"/transferorderview/show/{shipped_id}",
             f"/transferorderview/edit/{record_id(live_server, 'TransferOrder', name=day['draft'])}",
             "/productview/add", "/accessgrantview/add", "/users/add",
             f"/auditlogview/list/?record={day['shipped']}",
             f"/documents/transfer_exception/{day['exception_id']}/"]
    problems = tour(page, login, live_server, "admin", extra)
    assert not problems, "\n".join(problems)


def test_tour_as_clerk_in_english_and_chinese(page, login, live_server):
    day = day_of_work(live_server)
    extra = [f"/transfers/{day['shipped']}/", f"/transfers/{day['draft']}/"]
    problems = tour(page, login, live_server, "clerk_sh", extra)
    assert not problems, "\n".join(problems)


def test_the_tour_catches_what_it_looks_for(page, login, live_server):
    """The checker itself: a page with raw values fails it."""
    keys = raw_keys(live_server)
    assert {"lot_serial", "write_off", "qa_review", "available", "warehouse_clerk", "True"} <= keys
    assert "GS1" not in keys  # a key that reads like its label is not raw
    page.set_content("<table><tr><td>available</td><td>10.0000</td><td>Class III</td></tr></table>"
                     "<p>2026-12-01 07:53:10.905174 lot_serial Search</p>")
    found = problems_on(page, "/x", "zh", keys)
    assert "/x: raw value 'available'" in found and "/x: raw key lot_serial" in found
    assert any("quantity" in p for p in found) and any("microsecond" in p for p in found)
    assert "/x: untranslated 'Search'" in found and "/x: untranslated 'Class III'" in found
