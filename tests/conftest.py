"""Shared fixtures. Integration tests run once per database backend:
SQLite (a file in a temp folder) and PostgreSQL (127.0.0.1:5432, database
``test``). Set MEDTRACE_TEST_BACKENDS=sqlite to run only one."""
from __future__ import annotations

import uuid

import pytest

from support import BACKENDS, PASSWORD, drop_postgres_schema, make_app


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory):
    app = make_app(request.param, tmp_path_factory)
    app.backend = request.param
    yield app
    from app import db
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        drop_postgres_schema()


@pytest.fixture
def ctx(app):
    """An application context; the session is cleaned up afterwards."""
    from app import db
    with app.app_context():
        yield app
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(app):
    """api('clerk_sh') -> a client whose requests carry that user's JWT."""
    tokens: dict[str, str] = {}

    class Api:
        def __init__(self, username):
            if username not in tokens:
                r = app.test_client().post("/api/v1/security/login", json={
                    "username": username, "password": PASSWORD, "provider": "db"})
                assert r.status_code == 200, r.json
                tokens[username] = r.json["access_token"]
            self.headers = {"Authorization": f"Bearer {tokens[username]}"}
            self.client = app.test_client()

        def __getattr__(self, method):
            def call(url, **kw):
                return getattr(self.client, method)(url, headers=self.headers, **kw)
            return call

    return Api


@pytest.fixture
def web(app):
    """web('clerk_sh') -> a test client logged in through the login form."""
    def login(username):
        c = app.test_client()
        r = c.post("/login/", data={"username": username, "password": PASSWORD})
        assert r.status_code == 302, r.data[:300]
        return c
    return login


@pytest.fixture
def unique():
    return uuid.uuid4().hex[:8].upper()
