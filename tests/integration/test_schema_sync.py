"""Adding a field in YAML and running the sync command adds the column, shows
it on the form and in the API, with no Python change; destructive changes are
refused."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

import os

from support import PASSWORD, PG_BASE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request, tmp_path):
    if request.param not in __import__("support").BACKENDS:
        pytest.skip(f"{request.param} not selected")
    for folder in ("metadata", "forms", "workflows", "reports"):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, tmp_path / folder)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    else:
        schema = f"medtrace_sync_{os.getpid()}"
        engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    return tmp_path, url


def boot(root, url):
    from app import create_app
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "MEDTRACE_ROOT": str(root),
                       "WTF_CSRF_ENABLED": False, "SECRET_KEY": "x" * 32})


def sync(app):
    from click.testing import CliRunner  # noqa: F401  (the command itself is exercised below)
    runner = app.test_cli_runner()
    return runner.invoke(args=["medtrace", "sync"])


def test_add_field_in_yaml_then_sync(project):
    root, url = project
    app = boot(root, url)
    result = sync(app)
    assert result.exit_code == 0, result.output
    assert "created table product" in result.output
    with app.app_context():
        from app.cli import ensure_admin
        ensure_admin("admin", PASSWORD)
        from app import db
        db.engine.dispose()

    # an administrator adds a field and shows it on the list: YAML only
    path = root / "metadata" / "entities" / "product.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["fields"]["sterilization"] = {"type": "enum", "options": ["EO", "gamma", "steam"],
                                      "label": {"en": "Sterilization", "zh": "灭菌方式"}}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    form_path = root / "forms" / "product.yaml"
    form = yaml.safe_load(form_path.read_text(encoding="utf-8"))
    form["list_columns"].append("sterilization")
    form_path.write_text(yaml.safe_dump(form, allow_unicode=True), encoding="utf-8")

    app = boot(root, url)
    result = sync(app)
    assert result.exit_code == 0, result.output
    assert "added column product.sterilization" in result.output
    with app.app_context():
        from app import db
        cols = {c["name"] for c in sa.inspect(db.engine).get_columns("product")}
        assert "sterilization" in cols
    c = app.test_client()
    token = c.post("/api/v1/security/login", json={"username": "admin", "password": PASSWORD,
                                                   "provider": "db"}).json["access_token"]
    h = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/v1/product/", headers=h, json={
        "sku": "NEW-1", "name": "Sutures", "risk_class": "II", "tracking": "lot",
        "sterilization": "gamma"})
    assert r.status_code == 201, r.json
    assert c.get(f"/api/v1/product/{r.json['id']}", headers=h).json["result"]["sterilization"] == "gamma"
    r = c.post("/api/v1/product/", headers=h, json={
        "sku": "NEW-2", "name": "x", "risk_class": "II", "tracking": "lot", "sterilization": "boil"})
    assert r.status_code == 422
    web = app.test_client()
    web.post("/login/", data={"username": "admin", "password": PASSWORD})
    assert 'name="sterilization"' in web.get("/productview/add").data.decode()
    assert "Sterilization" in web.get("/productview/list/").data.decode()
    with app.app_context():
        from app import db
        db.engine.dispose()


def test_destructive_change_is_refused(project):
    root, url = project
    app = boot(root, url)
    assert sync(app).exit_code == 0
    with app.app_context():
        from app import db
        db.engine.dispose()
    path = root / "metadata" / "entities" / "partner.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    del doc["fields"]["license_no"]
    doc["fields"]["address"]["type"] = "int"
    doc["fields"]["address"].pop("length")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    app = boot(root, url)
    result = sync(app)
    assert result.exit_code == 2
    assert "partner.license_no exists in the database but not in metadata" in result.output
    assert "partner.address" in result.output and "explicit migration" in result.output
    with app.app_context():
        from app import db
        cols = {c["name"] for c in sa.inspect(db.engine).get_columns("partner")}
        assert "license_no" in cols  # nothing was touched
        db.engine.dispose()
