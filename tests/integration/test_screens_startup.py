"""Starting with ``run.py`` (``make run``): a restart with nothing changed skips
the slow permission sync, anything that could change it syncs; and the first
start is not preceded by FAB's "No user yet created" notice."""
from __future__ import annotations

import logging

import pytest

import run


@pytest.fixture
def calls(app, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    made = []
    monkeypatch.setattr(run, "run_sync", lambda: made.append("sync"))
    return made


def test_a_restart_with_nothing_changed_skips_the_permission_sync(app, calls, monkeypatch, capsys):
    with app.app_context():
        run.sync(app)
        assert calls == ["sync"]
        run.sync(app)
        assert calls == ["sync"]
        assert "roles and permissions: unchanged since the last start" in capsys.readouterr().out
        # the metadata (or the screens, or the sync's code) changed: synced again
        monkeypatch.setattr(run, "permissions_fingerprint", lambda a: "something else")
        run.sync(app)
        assert calls == ["sync", "sync"]
        run.sync(app)
        assert calls == ["sync", "sync"]
        # a role missing from the database (a new database at the same address): synced
        monkeypatch.setattr(app.appbuilder.sm, "find_role", lambda name: None)
        run.sync(app)
        assert calls == ["sync", "sync", "sync"]


def test_the_fingerprint_follows_metadata_and_screens(app):
    with app.app_context():
        before = run.permissions_fingerprint(app)
        assert before == run.permissions_fingerprint(app)
        runtime = app.extensions["medtrace"]
        old = runtime.meta.fingerprint
        runtime.meta.fingerprint = old + "x"
        try:
            assert run.permissions_fingerprint(app) != before
        finally:
            runtime.meta.fingerprint = old


def test_the_first_start_notice_is_left_out():
    notice = run.FirstStartNotice()
    record = logging.LogRecord("flask_appbuilder.security.manager", logging.WARNING, __file__, 1,
                               "No user yet created, use flask fab command to do it.", None, None)
    other = logging.LogRecord("flask_appbuilder.security.manager", logging.WARNING, __file__, 1,
                              "something else", None, None)
    assert not notice.filter(record) and notice.filter(other)
