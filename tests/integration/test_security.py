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
    assert client.post("/partnerview/add", data=form).status_code == 400
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
