"""A live MedTrace on SQLite in a background thread, and headless Chromium
(Debian's package, launched through Playwright with executable_path)."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from support import make_app
    app = make_app("sqlite", tmp_path_factory, WTF_CSRF_ENABLED=True)  # as in production
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.base_url = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.base_url)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def login(page):
    """login('clerk_sh') signs the page in through the real login form."""
    from support import PASSWORD

    def sign_in(username, password=None):
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password or PASSWORD)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
    return sign_in
