"""Tamper evidence (issue 7, section 5) and audited security administration
(section 4): the audit trail is hash-chained and sealed, ``flask medtrace
verify-audit`` finds a changed, a deleted and a missing newest row, TRUNCATE
is refused, concurrent writers keep one chain, and granting Admin, creating and
deleting users and changing passwords are in the trail."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from support import BACKENDS, PASSWORD, PG_BASE, PG_SCHEMA, create_user, reset_postgres, drop_postgres_schema

CHAIN_SCHEMA = f"{PG_SCHEMA}_chain"


@pytest.fixture(scope="module", params=BACKENDS)
def chain_app(request, tmp_path_factory):
    """An app of its own (these tests break its chain on purpose)."""
    from app import create_app, db
    from app.cli import ensure_admin, run_sync
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('chain') / 'medtrace.db'}"
    else:
        reset_postgres(schema=CHAIN_SCHEMA)
        url = f"{PG_BASE}?options=-csearch_path%3D{CHAIN_SCHEMA}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "TESTING": True,
                      "SECRET_KEY": "medtrace-test-secret-key-32-bytes-long!"})
    app.backend = request.param
    with app.app_context():
        run_sync(lambda *_: None)
        ensure_admin("admin", PASSWORD)
        Region = app.extensions["medtrace"].models["Region"]
        for i in range(5):
            db.session.add(Region(code=f"CH{i}", name=f"Chain {i}"))
            db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        drop_postgres_schema(CHAIN_SCHEMA)


def verify(app):
    result = app.test_cli_runner().invoke(args=["medtrace", "verify-audit"])
    return result.exit_code, result.output


def _rows(app, *where):
    from app import db
    with app.app_context():
        t = app.extensions["medtrace"].models.table("audit_log")
        return db.session.execute(sa.select(t).where(*where).order_by(t.c.id)).all()


class Tamper:
    """Raw SQL as someone with database access: the append-only triggers are
    bypassed (PostgreSQL: session_replication_role, as superuser postgres;
    SQLite: the triggers are dropped and put back)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, *statements):
        from app import db
        from app.meta.sync import install_append_only_guards
        with self.app.app_context():
            with db.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                else:
                    for op in ("update", "delete"):
                        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_{op}")
                for stmt, params in statements:
                    conn.execute(sa.text(stmt), params)
                if conn.dialect.name == "sqlite":
                    install_append_only_guards(conn, ["audit_log"])


def _columns(row):
    return {k: v for k, v in row._mapping.items()}


def test_clean_chain_verifies(chain_app):
    code, out = verify(chain_app)
    assert code == 0, out
    rows = _rows(chain_app)
    assert f"{len(rows)} rows chained" in out and "seal matches" in out
    assert all(r.row_hash and len(r.row_hash) == 64 for r in rows)
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:]))


def test_a_changed_row_is_reported(chain_app):
    tamper = Tamper(chain_app)
    victim = _rows(chain_app, sa.column("entity") == "Region", sa.column("field") == "name")[2]
    tamper(("UPDATE audit_log SET new_value = 'Forged' WHERE id = :id", {"id": victim.id}))
    code, out = verify(chain_app)
    assert code == 1 and f"row {victim.id} was changed" in out
    tamper(("UPDATE audit_log SET new_value = :v WHERE id = :id",
            {"v": victim.new_value, "id": victim.id}))
    assert verify(chain_app)[0] == 0


def test_a_deleted_row_is_reported(chain_app):
    tamper = Tamper(chain_app)
    rows = _rows(chain_app)
    victim, after = rows[len(rows) // 2], rows[len(rows) // 2 + 1]
    tamper(("DELETE FROM audit_log WHERE id = :id", {"id": victim.id}))
    code, out = verify(chain_app)
    assert code == 1 and f"row {after.id} does not follow" in out
    cols = _columns(victim)
    tamper((f"INSERT INTO audit_log ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})",
            cols))
    assert verify(chain_app)[0] == 0


def test_deleting_the_newest_rows_is_reported_by_the_seal(chain_app):
    tamper = Tamper(chain_app)
    newest = _rows(chain_app)[-2:]
    tamper(("DELETE FROM audit_log WHERE id >= :id", {"id": newest[0].id}))
    code, out = verify(chain_app)
    assert code == 1 and "newest rows were deleted" in out and str(newest[-1].id) in out
    for row in newest:
        cols = _columns(row)
        tamper((f"INSERT INTO audit_log ({', '.join(cols)}) VALUES "
                f"({', '.join(':' + c for c in cols)})", cols))
    assert verify(chain_app)[0] == 0


def test_a_row_slipped_in_without_the_chain_is_reported(chain_app):
    tamper = Tamper(chain_app)
    last = _rows(chain_app)[-1]
    tamper(("INSERT INTO audit_log (id, at, username, entity, record_id, action) "
            "VALUES (:id, :at, 'intruder', 'Region', 1, 'update')",
            {"id": last.id + 1000, "at": last.at}))
    code, out = verify(chain_app)
    assert code == 1 and f"row {last.id + 1000} has no hash" in out
    tamper(("DELETE FROM audit_log WHERE id = :id", {"id": last.id + 1000}))
    assert verify(chain_app)[0] == 0


def test_truncate_and_delete_are_refused_on_append_only_tables(chain_app):
    from app import db
    with chain_app.app_context():
        md = chain_app.extensions["medtrace"].models.metadata
        append_only = [t.name for t in md.sorted_tables if t.info.get("append_only")]
        assert {"audit_log", "auth_failure", "stock_move"} <= set(append_only)
        before = len(_rows(chain_app))
        pg = db.engine.dialect.name == "postgresql"
        for table in append_only:
            # SQLite has no TRUNCATE; its DELETE trigger fires per row, so only where rows are
            stmt = f"TRUNCATE {table}" if pg else f"DELETE FROM {table}"
            with db.engine.connect() as conn:
                if not pg and not conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first():
                    conn.rollback()
                    continue
                with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                    conn.exec_driver_sql(stmt)
                conn.rollback()
    assert len(_rows(chain_app)) == before
    assert verify(chain_app)[0] == 0


def test_concurrent_writers_keep_one_chain(chain_app):
    """Two writers with their own connections commit audited changes at the
    same time; the chain stays one line (no two rows follow the same row)."""
    from sqlalchemy.orm import Session

    from app import db
    if chain_app.backend != "postgresql":
        pytest.skip("SQLite serializes writers with BEGIN IMMEDIATE; the race is PostgreSQL's")
    Region = chain_app.extensions["medtrace"].models["Region"]
    with chain_app.app_context():
        engine = db.engine
    start = threading.Barrier(2)
    errors = []

    def writer(tag):
        try:
            start.wait()
            for i in range(25):
                with Session(engine) as s:
                    s.add(Region(code=f"C{tag}{i}", name=f"Concurrent {tag} {i}"))
                    s.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(t,)) for t in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = _rows(chain_app, sa.column("entity") == "Region", sa.column("action") == "create",
                 sa.column("field") == "code", sa.column("new_value").like("C_%"))
    assert len([r for r in rows if r.new_value[:2] in ("CA", "CB")]) == 50
    prevs = [r.prev_hash for r in _rows(chain_app)]
    assert len(prevs) == len(set(prevs))  # no fork
    code, out = verify(chain_app)
    assert code == 0, out


# ------------------------------------------------- security administration audited
def test_granting_admin_and_user_lifecycle_are_audited(app, web, unique):
    from app import db
    name = f"aud_{unique.lower()}"
    with app.app_context():
        sm = app.appbuilder.sm
        user = create_user(app, name, ["auditor"])
        uid = user.id
        admin_role, auditor_role = sm.find_role("Admin").id, sm.find_role("auditor").id
    admin = web("admin")
    r = admin.post(f"/users/edit/{uid}", data={
        "first_name": name, "last_name": "Test", "username": name, "active": "y",
        "email": f"{name}@example.com", "roles": [str(auditor_role), str(admin_role)]})
    assert r.status_code == 302
    r = admin.post(f"/resetpassword/form?pk={uid}",
                   data={"password": "Brand-New-Secret-9", "conf_password": "Brand-New-Secret-9"})
    assert r.status_code == 302
    assert admin.post(f"/users/delete/{uid}").status_code == 302
    with app.app_context():
        assert app.appbuilder.sm.get_user_by_id(uid) is None
    created = _rows(app, sa.column("entity") == "User", sa.column("record_id") == uid,
                    sa.column("field") == "username", sa.column("new_value") == name)[0].id
    trail = [(r.action, r.field, r.old_value, r.new_value, r.username)
             for r in _rows(app, sa.column("entity") == "User", sa.column("record_id") == uid,
                            sa.column("id") >= created)]
    assert ("create", "username", None, name, "system") in trail
    assert ("create", "password", None, "password set", "system") in trail
    assert ("update", "roles", "auditor", "Admin, auditor", "admin") in trail
    assert ("update", "password", None, "password changed", "admin") in trail
    assert ("delete", "username", name, None, "admin") in trail
    assert ("delete", "roles", "Admin, auditor", None, "admin") in trail
    # never a password hash
    with app.app_context():
        t = app.extensions["medtrace"].models.table("audit_log")
        leaked = db.session.execute(sa.select(sa.func.count()).where(sa.or_(
            t.c.new_value.like("%scrypt:%"), t.c.old_value.like("%scrypt:%"),
            t.c.new_value.like("%pbkdf2:%"), t.c.old_value.like("%pbkdf2:%")))).scalar()
    assert leaked == 0


def test_my_password_change_and_role_permissions_are_audited(app, unique):
    name = f"aup_{unique.lower()}"
    with app.app_context():
        uid = create_user(app, name, ["auditor"]).id
    client = app.test_client()
    client.post("/login/", data={"username": name, "password": PASSWORD})
    r = client.post("/resetmypassword/form", data={
        "current_password": PASSWORD, "password": "My-Own-New-Secret-5",
        "conf_password": "My-Own-New-Secret-5"})
    assert r.status_code == 302
    # (SQLite reuses a deleted user's id: only rows since this user was created)
    created = _rows(app, sa.column("entity") == "User", sa.column("record_id") == uid,
                    sa.column("field") == "username", sa.column("new_value") == name)[0].id
    rows = _rows(app, sa.column("entity") == "User", sa.column("record_id") == uid,
                 sa.column("field") == "password", sa.column("action") == "update",
                 sa.column("id") > created)
    assert [(r.username, r.new_value) for r in rows] == [(name, "password changed")]
    # a role gaining a permission
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.add_role(f"role_{unique.lower()}")
        pv = sm.add_permission_view_menu("can_read", "AuditLog")
        sm.add_permission_role(role, pv)
        rid = role.id
    rows = _rows(app, sa.column("entity") == "Role", sa.column("record_id") == rid)
    assert ("create", "name", f"role_{unique.lower()}") in [(r.action, r.field, r.new_value) for r in rows]
    assert ("update", "permissions", None, "can_read on AuditLog") in \
        [(r.action, r.field, r.old_value, r.new_value) for r in rows]
