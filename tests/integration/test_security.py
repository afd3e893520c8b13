"""Sign-in, sessions and signatures (issue 7, section 4; 21 CFR Part 11
§11.10, §11.300): the secret key, CSRF and same-origin checks, the password
policy, current-password changes, lockout with recorded failures, and the
content hash a signature carries."""
from __future__ import annotations

import datetime as dt
import os
import re
import stat

import pytest
import sqlalchemy as sa

from app.demo import gtin14
from support import PASSWORD, create_user, gs1

OLD_DEFAULT_KEY = "change-me-in-production-medtrace"
GOOD_KEY = "k" * 20 + "-a-long-random-enough-value"


def _db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'medtrace.db'}"


# --------------------------------------------------------------------- secret key
@pytest.mark.parametrize("key, why", [
    (None, "no secret key"),
    (OLD_DEFAULT_KEY, "shipped in the source"),
    ("short-key-0123456789", "at least 32"),
])
def test_start_up_refuses_a_missing_shipped_or_short_key(tmp_path, monkeypatch, key, why):
    import config
    from app import create_app
    from app.auth.keys import SecretKeyError
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)  # no instance/secret_key there
    with pytest.raises(SecretKeyError) as err:
        create_app({"SQLALCHEMY_DATABASE_URI": _db_url(tmp_path), "TESTING": False,
                    "DEBUG": False, "SECRET_KEY": key})
    message = str(err.value)
    assert why in message
    assert "SECRET_KEY" in message and str(tmp_path / "secret_key") in message  # says how to set one
    assert "密钥" in message


def test_a_shipped_jwt_secret_is_refused_too(tmp_path, monkeypatch):
    import config
    from app import create_app
    from app.auth.keys import SecretKeyError
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    with pytest.raises(SecretKeyError, match="JWT_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": _db_url(tmp_path), "TESTING": False,
                    "SECRET_KEY": GOOD_KEY, "JWT_SECRET_KEY": OLD_DEFAULT_KEY})


def test_instance_key_is_generated_once_private_and_used(tmp_path, monkeypatch):
    """What `make run` relies on: one command, a random key kept in instance/."""
    import config
    from app import create_app
    from app.auth.keys import ensure_instance_key
    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    path = ensure_instance_key(tmp_path)
    key = path.read_text().strip()
    assert len(key) >= 32 and key != OLD_DEFAULT_KEY
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_instance_key(tmp_path).read_text().strip() == key  # kept, not replaced
    app = create_app({"SQLALCHEMY_DATABASE_URI": _db_url(tmp_path), "TESTING": False,
                      "SECRET_KEY": None})
    assert app.secret_key == key and app.config["SECRET_KEY"] == key
    # JWTs are signed with the same key (Flask-JWT-Extended falls back to SECRET_KEY)
    import jwt as pyjwt
    from flask_jwt_extended import create_access_token
    with app.app_context():
        token = create_access_token(identity="1")
    assert pyjwt.decode(token, key, algorithms=["HS256"])["sub"] == "1"
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(token, OLD_DEFAULT_KEY, algorithms=["HS256"])


# -------------------------------------------------------------- CSRF, GET, cookies
def test_get_delete_of_a_user_deletes_nothing(app, web, unique):
    with app.app_context():
        victim = create_user(app, f"victim_{unique.lower()}", ["auditor"])
        victim_id = victim.id
    admin = web("admin")
    admin.get(f"/users/delete/{victim_id}")
    with app.app_context():
        assert app.appbuilder.sm.get_user_by_id(victim_id) is not None


def test_get_delete_of_an_entity_row_deletes_nothing(app, api, web, unique):
    pk = api("admin").post("/api/v1/partner/", json={
        "code": f"GET-{unique}", "name": "Keep me", "kind": "carrier"}).json["id"]
    web("admin").get(f"/partnerview/delete/{pk}")
    assert api("admin").get(f"/api/v1/partner/{pk}").json["result"]["name"] == "Keep me"


def _posted_receipt(api, unique, qty="5"):
    r = api("admin").post("/api/v1/receipts/", json={
        "supplier": "SUP-MDT", "warehouse": "SH01",
        "lines": [{"product": "GLV-0004", "lot_number": f"CS{unique}",
                   "expiry_date": (dt.date.today() + dt.timedelta(days=700)).isoformat(),
                   "quantity": qty}]})
    assert r.status_code == 201, r.json
    return r.json["name"]


def _stock_of(api, lot):
    return api("admin").get(f"/api/v1/stock/?lot={lot}").json["count"]


def test_cross_site_form_post_with_a_cookie_reverses_nothing(api, web, unique):
    name = _posted_receipt(api, unique)
    manager = web("manager_sh")
    r = manager.post(f"/api/v1/receipts/{name}/reverse", data={"x": "1"},
                     headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "JSON" in r.json["message"]
    r = manager.post(f"/api/v1/receipts/{name}/reverse", data={"x": "1"})  # no Origin either
    assert r.status_code == 403 and r.json["messages"]["zh"]
    assert _stock_of(api, f"CS{unique}") == 1  # still on hand
    # a script with a bearer token (no cookie) needs neither JSON nor a token header
    r = api("manager_sh").post(f"/api/v1/receipts/{name}/reverse", data={"x": "1"})
    assert r.status_code == 200, r.json
    assert _stock_of(api, f"CS{unique}") == 0


def test_cookie_json_post_from_another_origin_is_refused(api, web, unique):
    name = _posted_receipt(api, unique)
    manager = web("manager_sh")
    r = manager.post(f"/api/v1/receipts/{name}/reverse", json={},
                     headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "another site" in r.json["message"]
    r = manager.post(f"/api/v1/receipts/{name}/reverse", json={},
                     headers={"Referer": "http://evil.example/page"})
    assert r.status_code == 403
    assert _stock_of(api, f"CS{unique}") == 1
    # the same request from the app's own page goes through
    r = manager.post(f"/api/v1/receipts/{name}/reverse", json={},
                     headers={"Origin": "http://localhost"})
    assert r.status_code == 200, r.json
    assert _stock_of(api, f"CS{unique}") == 0


def test_page_token_header_allows_a_cookie_post_without_json(app, api, web, unique):
    name = _posted_receipt(api, unique)
    manager = web("manager_sh")
    page = manager.get("/transfers/board/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    r = manager.post(f"/api/v1/receipts/{name}/reverse", headers={"X-CSRFToken": "forged"})
    assert r.status_code == 403 and _stock_of(api, f"CS{unique}") == 1
    r = manager.post(f"/api/v1/receipts/{name}/reverse", headers={"X-CSRFToken": token})
    assert r.status_code == 200, r.json
    assert _stock_of(api, f"CS{unique}") == 0


@pytest.fixture
def csrf_on(app):
    """The shared test app turns form tokens off; these tests turn them on."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


def _token(client, url):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def test_forms_need_the_token_and_work_with_it(csrf_on, app, api, unique):
    client = app.test_client()
    r = client.post("/login/", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400  # no token: not signed in
    assert client.get("/users/list/").status_code == 302
    r = client.post("/login/", data={"username": "admin", "password": PASSWORD,
                                     "csrf_token": _token(client, "/login/")})
    assert r.status_code == 302 and client.get("/users/list/").status_code == 200
    # a generated entity screen: refused without the token, saved with it
    code = f"FRM-{unique}"
    form = {"code": code, "name": "Form partner", "kind": "carrier"}
    r = client.post("/partnerview/add", data=form)
    assert r.status_code == 400 and "reload the page" in r.get_data(as_text=True)
    token = _token(client, "/partnerview/add")
    r = client.post("/partnerview/add", data={**form, "csrf_token": token})
    assert r.status_code == 302
    found = api("admin").get(f"/api/v1/partner/?q=(filters:!((col:code,opr:eq,value:{code})))").json
    assert found["count"] == 1
    # FAB's user form, with the password policy
    with app.app_context():
        role_id = app.appbuilder.sm.find_role("auditor").id
    user = {"first_name": "F", "last_name": "L", "username": f"form_{unique.lower()}",
            "email": f"form_{unique.lower()}@example.com", "roles": str(role_id), "active": "y",
            "password": "Tr1cky-Ledger-Horse", "conf_password": "Tr1cky-Ledger-Horse"}
    r = client.post("/users/add", data={**user, "csrf_token": _token(client, "/users/add")})
    assert r.status_code == 302
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=user["username"]) is not None


def test_session_cookie_flags(app, csrf_on):
    client = app.test_client()
    r = client.post("/login/", data={"username": "admin", "password": PASSWORD,
                                     "csrf_token": _token(client, "/login/")})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        client = app.test_client()
        r = client.get("/login/", base_url="https://localhost")
        assert "Secure" in r.headers["Set-Cookie"]
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"


# ------------------------------------------------------------------ password policy
def test_add_user_and_create_admin_apply_the_policy(app, unique):
    from app.auth.passwords import PasswordRejected
    from app.cli import ensure_admin, medtrace_cli
    name = f"adm_{unique.lower()}"
    with app.app_context():
        sm = app.appbuilder.sm
        with pytest.raises(PasswordRejected, match="at least 10"):
            sm.add_user(f"u_{unique.lower()}", "U", "U", f"u_{unique}@example.com",
                        sm.find_role("auditor"), "x")
        assert sm.find_user(username=f"u_{unique.lower()}") is None
        with pytest.raises(PasswordRejected, match="user name"):
            ensure_admin(name, f"{name}-Secret-1")
        assert sm.find_user(username=name) is None
    runner = app.test_cli_runner()
    result = runner.invoke(medtrace_cli, ["create-admin", "--username", name, "--password", "password1"])
    assert result.exit_code == 2 and "common" in result.output and "常见" in result.output
    with app.app_context():
        assert app.appbuilder.sm.find_user(username=name) is None
    result = runner.invoke(medtrace_cli, ["create-admin", "--username", name])
    assert result.exit_code == 0, result.output
    generated = result.output.strip().rsplit(" ", 1)[-1]
    from app.auth import passwords
    assert passwords.problems(generated, name) == []
    r = app.test_client().post("/api/v1/security/login", json={
        "username": name, "password": generated, "provider": "db"})
    assert r.status_code == 200 and r.json["access_token"]


def _login(app, username, password, **headers):
    client = app.test_client()
    r = client.post("/login/", data={"username": username, "password": password},
                    headers=headers, follow_redirects=True)
    signed_in = client.get("/users/userinfo/").status_code == 200
    return client, r.get_data(as_text=True), signed_in


def test_changing_my_password_needs_the_current_one(app, unique):
    name = f"chg_{unique.lower()}"
    with app.app_context():
        create_user(app, name, ["qa"])
    client, _, signed_in = _login(app, name, PASSWORD)
    assert signed_in
    new = "Another-Strong-Pass-7"
    # without the current password: refused, nothing changed
    r = client.post("/resetmypassword/form", data={"password": new, "conf_password": new})
    assert r.status_code == 200 and "Current password" in r.get_data(as_text=True)
    # with a wrong one: refused, recorded as a failed attempt
    r = client.post("/resetmypassword/form", data={"current_password": "Wrong-guess-123",
                                                   "password": new, "conf_password": new})
    assert "current password is not correct" in r.get_data(as_text=True)
    # the right one, but a weak new password
    r = client.post("/resetmypassword/form", data={"current_password": PASSWORD,
                                                   "password": "abc", "conf_password": "abc"})
    assert "at least 10 characters" in r.get_data(as_text=True)
    assert _login(app, name, PASSWORD)[2] and not _login(app, name, new)[2]
    r = client.post("/resetmypassword/form", data={"current_password": PASSWORD,
                                                   "password": new, "conf_password": new})
    assert r.status_code == 302
    assert _login(app, name, new)[2] and not _login(app, name, PASSWORD)[2]
    failures = _failures(app, name)
    assert ("password_change", "bad_password") in [(f.kind, f.reason) for f in failures]


def test_admin_reset_applies_the_policy_and_not_to_their_own_account(app, web, unique):
    name = f"rst_{unique.lower()}"
    with app.app_context():
        target = create_user(app, name, ["auditor"]).id
        admin_id = app.appbuilder.sm.find_user(username="admin").id
    admin = web("admin")
    r = admin.post(f"/resetpassword/form?pk={target}", data={"password": "1234567890",
                                                             "conf_password": "1234567890"})
    assert "most common" in r.get_data(as_text=True)
    assert not _login(app, name, "1234567890")[2]
    r = admin.post(f"/resetpassword/form?pk={admin_id}",
                   data={"password": "Admin-New-Pass-99", "conf_password": "Admin-New-Pass-99"})
    assert "Reset my password" in r.get_data(as_text=True)
    assert _login(app, "admin", PASSWORD)[2]
    r = admin.post(f"/resetpassword/form?pk={target}", data={"password": "Fresh-Start-2468",
                                                             "conf_password": "Fresh-Start-2468"})
    assert r.status_code == 302 and _login(app, name, "Fresh-Start-2468")[2]


# ------------------------------------------------------------------------ lockout
def _failures(app, username):
    from app import db
    with app.app_context():
        t = app.extensions["medtrace"].models.table("auth_failure")
        return db.session.execute(sa.select(t).where(t.c.username == username.lower())
                                  .order_by(t.c.id)).all()


def _lock_row(app, username):
    from app import db
    with app.app_context():
        t = app.extensions["medtrace"].models.table("auth_lockout")
        return db.session.execute(sa.select(t).where(t.c.username == username.lower())).first()


def _expire_lock(app, username):
    from app import db
    with app.app_context():
        t = app.extensions["medtrace"].models.table("auth_lockout")
        db.session.execute(t.update().where(t.c.username == username.lower())
                           .values(locked_until=dt.datetime(2000, 1, 1)))
        db.session.commit()


def test_sign_in_form_locks_after_five_failures_and_says_until_when(app, unique):
    name = f"lck_{unique.lower()}"
    with app.app_context():
        create_user(app, name, ["auditor"])
    for i in range(4):
        _, page, ok = _login(app, name, f"wrong-{i}-password")
        assert not ok and "Invalid login" in page
    _, page, ok = _login(app, name, "wrong-4-password")
    assert not ok and "locked until" in page
    # now even the right password is refused, in the user's language
    _, page, ok = _login(app, name, PASSWORD, **{"Accept-Language": "zh-CN"})
    assert not ok and "账户已锁定至" in page
    rows = _failures(app, name)
    assert [(r.kind, r.reason) for r in rows] == [("login", "bad_password")] * 5 + [("login", "locked")]
    assert all(r.remote_addr == "127.0.0.1" and r.at is not None for r in rows)
    lock = _lock_row(app, name)
    remaining = lock.locked_until - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert dt.timedelta(minutes=14) < remaining <= dt.timedelta(minutes=15)
    # when the period is over the right password works again
    _expire_lock(app, name)
    assert _login(app, name, PASSWORD)[2]


def test_a_success_resets_the_count(app, unique):
    name = f"rsc_{unique.lower()}"
    with app.app_context():
        create_user(app, name, ["auditor"])
    for i in range(4):
        assert not _login(app, name, f"bad-guess-{i}-x")[2]
    assert _login(app, name, PASSWORD)[2]
    for i in range(4):
        assert not _login(app, name, f"bad-guess-{i}-y")[2]
    assert _login(app, name, PASSWORD)[2]
    assert _lock_row(app, name).locked_until is None


def test_jwt_login_locks_too_and_by_email_as_well(app, unique):
    name = f"jwt_{unique.lower()}"
    with app.app_context():
        create_user(app, name, ["auditor"])
    client = app.test_client()

    def login(user, password):
        return client.post("/api/v1/security/login", json={
            "username": user, "password": password, "provider": "db"})
    for i in range(3):
        assert login(name, f"not-it-{i}-at-all").status_code == 401
    # the e-mail address is the same account: its failures count too
    assert login(f"{name}@example.com", "not-it-again-1").status_code == 401
    r = login(f"{name}@example.com", "not-it-again-2")  # the fifth: locks
    assert r.status_code == 403 and "not correct" in r.json["message"]
    r = login(name, PASSWORD)
    assert r.status_code == 403 and "access_token" not in r.json
    assert "locked until" in r.json["messages"]["en"] and "账户已锁定" in r.json["messages"]["zh"]
    assert r.json["details"]["locked_until"].endswith("Z")
    assert 0 < int(r.headers["Retry-After"]) <= 900
    assert len(_failures(app, name)) == 6


@pytest.fixture
def signing_qa(app, unique):
    name = f"qa_{unique.lower()}"
    with app.app_context():
        create_user(app, name, ["qa"])
    return name


def test_signature_password_locks_and_every_failure_is_recorded(app, api, signing_qa, unique):
    body = str(int(unique, 16) % 10**9).zfill(9)
    sku = f"SIG-{unique}"
    assert api("admin").post("/api/v1/product/", json={
        "sku": sku, "name": "Class III device", "udi_di": gtin14("069" + body),
        "risk_class": "III", "tracking": "lot", "shelf_life_days": 1095,
        "unit_price": "320.00"}).status_code == 201
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01",
        "lines": [{"product": sku, "quantity": "2"}]})
    assert r.status_code == 201, r.json
    name = r.json["name"]

    def act(user, action, **payload):
        return api(user).post(f"/api/v1/transfers/{name}/actions/{action}", json=payload)
    assert act("clerk_sh", "submit").status_code == 200
    assert act("manager_sh", "approve").json["state"] == "qa_review"
    for i in range(4):
        r = act(signing_qa, "approve", password=f"guess-{i}-wrong")
        assert r.status_code == 403 and "not correct" in r.json["message"]
    r = act(signing_qa, "approve", password="guess-4-wrong")
    assert r.status_code == 403 and "locked until" in r.json["message"]
    r = act(signing_qa, "approve", password=PASSWORD)  # right, but locked
    assert r.status_code == 403 and "locked until" in r.json["message"]
    assert "账户已锁定" in r.json["messages"]["zh"]
    assert api("admin").get(f"/api/v1/transfers/{name}").json["state"] == "qa_review"
    rows = _failures(app, signing_qa)
    assert [(r.kind, r.reason) for r in rows] == [("signature", "bad_password")] * 5 + \
        [("signature", "locked")]
    # signing in is locked as well: the same password is being guessed
    assert not _login(app, signing_qa, PASSWORD)[2]
    _expire_lock(app, signing_qa)
    r = act(signing_qa, "approve", password=PASSWORD)
    assert r.status_code == 200 and r.json["state"] != "qa_review"


def test_directory_verify_password_contract(app, signing_qa):
    """What the workflow engine relies on: False for a wrong password,
    AccountLocked (a Forbidden) while locked; failures kept after a rollback."""
    from app import db
    from app.auth.lockout import AccountLocked
    from app.domain.errors import Forbidden
    with app.app_context():
        directory = app.extensions["medtrace"].directory
        assert directory.verify_password(signing_qa, PASSWORD) is True
        assert directory.verify_password(signing_qa, "nope-nope-nope") is False
        db.session.rollback()
    with app.app_context():
        directory = app.extensions["medtrace"].directory
        for _ in range(3):
            assert directory.verify_password(signing_qa, "nope-nope-nope") is False
        with pytest.raises(AccountLocked) as err:
            directory.verify_password(signing_qa, "nope-nope-nope")
        assert isinstance(err.value, Forbidden) and err.value.zh
        db.session.rollback()
    assert len(_failures(app, signing_qa)) == 5


def test_failures_are_visible_to_admins_only(app, api, web, unique):
    name = f"vis_{unique.lower()}"
    _login(app, name, "no-such-user-pass")
    r = api("admin").get(f"/api/v1/auth_failure/?q=(filters:!((col:username,opr:eq,value:{name})))")
    assert r.status_code == 200
    assert [(x["username"], x["kind"], x["reason"]) for x in r.json["result"]] == \
        [(name, "login", "unknown_user")]
    for user in ("auditor", "qa_user", "manager_sh"):
        r = api(user).get("/api/v1/auth_failure/")
        assert r.status_code == 403 and "result" not in r.json
    assert api("admin").post("/api/v1/auth_failure/", json={"username": "x"}).status_code in (404, 405)
    page = web("admin").get("/authfailureview/list/").get_data(as_text=True)
    assert name in page
    r = web("auditor").get("/authfailureview/list/")
    assert name not in r.get_data(as_text=True)
