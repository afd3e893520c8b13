"""Receiving exceptions on the transfer page, in headless Chromium: the clerk at
the receiving warehouse neither sees nor can use write-off; a QA manager writes
the damaged unit off and the page says who resolved it and when. The first,
partial receipt and its comment are in the transfer's history."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from scenes import day_of_work

pytestmark = pytest.mark.browser


def exception_row(app, exception_id: int):
    from app import db
    with app.app_context():
        E = app.extensions["medtrace"].models["TransferException"]
        row = db.session.execute(sa.select(E.status, E.resolution, E.resolved_by, E.resolved_at)
                                 .where(E.id == exception_id)).one()
        db.session.remove()
        return row


def test_clerk_cannot_write_off_a_damaged_unit_and_qa_can(page, login, live_server):
    day = day_of_work(live_server)
    name, exc = day["shipped"], day["exception_id"]

    login("clerk_hz")
    page.goto(f"/transfers/{name}/")
    table = page.locator("#detail-exceptions")
    assert "Damaged" in table.inner_text() and "Open" in table.inner_text()
    assert table.locator("button[data-action]").count() == 0
    # the partial receipt is in the history, with its comment, as a step (no state change)
    history = page.locator("#detail-history tr", has_text="Receive items")
    assert history.count() == 1
    cells = [c.strip() for c in history.locator("td").all_inner_texts()]
    assert "clerk_hz" in cells and "two boxes still on the truck, one crushed" in cells
    assert "Shipped (in transit)" in cells and "→" not in " ".join(cells)
    # and asking the server anyway is refused, nothing changes
    r = page.request.post(f"/api/v1/transfer_exception/{exc}/actions/write_off", data={})
    assert r.status == 403, r.text()
    assert exception_row(live_server, exc).status == "open"
    page.screenshot(path="/tmp/medtrace-exception-clerk.png", full_page=True)
    page.goto("/logout/")

    login("qa_user")
    page.goto(f"/transfers/{name}/")
    buttons = page.locator("#detail-exceptions button[data-action]")
    assert sorted(buttons.all_inner_texts()) == ["Accept", "Return to source", "Write off"]
    page.click("#detail-exceptions button[data-action=write_off]")  # no comment or signature asked
    page.wait_for_function(
        "document.querySelector('#detail-exceptions') && "
        "!document.querySelector('#detail-exceptions button[data-action]')")
    row = page.locator("#detail-exceptions tbody tr").first.inner_text()
    assert "Written off" in row and "qa_user" in row and "Resolved" in row
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", row)
    state = exception_row(live_server, exc)
    assert (state.status, state.resolution, state.resolved_by) == ("resolved", "write_off", "qa_user")
    assert state.resolved_at is not None
    page.screenshot(path="/tmp/medtrace-exception-qa.png", full_page=True)

    # the generated list of exceptions says who resolved it too
    page.goto("/transferexceptionview/list/")
    listed = page.locator(f"tr:has(td:text-is('{name}'))").first.inner_text()
    assert "qa_user" in listed and "Written off" in listed and "write_off" not in listed
