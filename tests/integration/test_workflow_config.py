"""Changing workflows/*.yaml changes behaviour with no code change: an extra
approval level added by editing YAML (and a role in roles.yaml)."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

from app.demo import gtin14
from support import PASSWORD, create_user, gs1, make_app

ROOT = Path(__file__).resolve().parents[2]


def test_adding_an_approval_level_in_yaml(tmp_path, tmp_path_factory):
    for folder in ("metadata", "forms", "workflows", "reports"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    roles_path = tmp_path / "metadata" / "roles.yaml"
    roles = yaml.safe_load(roles_path.read_text(encoding="utf-8"))
    roles["roles"]["director"] = {"label": {"en": "Director", "zh": "总监"}, "scope": "all",
                                  "permissions": {"TransferOrder": ["read", "approve"]}}
    roles_path.write_text(yaml.safe_dump(roles, allow_unicode=True), encoding="utf-8")

    wf_path = tmp_path / "workflows" / "transfer_approval.yaml"
    wf = yaml.safe_load(wf_path.read_text(encoding="utf-8"))
    wf["states"]["director_review"] = {"label": {"en": "Director approval", "zh": "总监审批"}}
    # one entry: every transfer passes the director last, whatever route it took
    wf["approvals"]["levels"].append({"state": "director_review", "roles": ["director"]})
    wf_path.write_text(yaml.safe_dump(wf, allow_unicode=True, sort_keys=False), encoding="utf-8")

    app = make_app("sqlite", tmp_path_factory, MEDTRACE_ROOT=str(tmp_path))
    with app.app_context():
        create_user(app, "boss", ["director"])
    client = app.test_client()

    def api(user):
        token = client.post("/api/v1/security/login", json={
            "username": user, "password": PASSWORD, "provider": "db"}).json["access_token"]
        return {"Authorization": f"Bearer {token}"}

    r = client.post("/api/v1/receipts/", headers=api("admin"), json={
        "supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
            {"product": "BND-0006", "quantity": "20"}]})
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/transfers/", headers=api("clerk_sh"), json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": "BND-0006", "quantity": "5"}]})
    name = r.json["name"]
    client.post(f"/api/v1/transfers/{name}/actions/submit", headers=api("clerk_sh"), json={})
    r = client.post(f"/api/v1/transfers/{name}/actions/approve", headers=api("manager_sh"), json={})
    assert r.json["state"] == "director_review"
    r = client.post(f"/api/v1/transfers/{name}/actions/approve", headers=api("manager_sh"), json={})
    assert r.status_code == 403 and "needs the role Director" in r.json["message"]
    r = client.post(f"/api/v1/transfers/{name}/actions/approve", headers=api("boss"), json={})
    assert r.status_code == 200 and r.json["state"] == "approved"

    # a class III transfer leaving the region passes QA, the region and then the director
    expiry = dt.date.today() + dt.timedelta(days=900)
    r = client.post("/api/v1/receipts/", headers=api("admin"), json={
        "supplier": "SUP-MDT", "warehouse": "SH01", "lines": [
            {"barcode": gs1(gtin14("069012345678"), "DIRLOT1", expiry), "quantity": "5"}]})
    assert r.status_code == 201, r.json
    name = client.post("/api/v1/transfers/", headers=api("clerk_sh"), json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01",
        "lines": [{"product": "CAT-0001", "quantity": "2"}]}).json["name"]
    path = [client.post(f"/api/v1/transfers/{name}/actions/submit", headers=api("clerk_sh"),
                        json={}).json["state"]]
    for user, body in (("manager_sh", {}), ("qa_user", {"signature": {"password": PASSWORD}}),
                       ("regional_ec", {}), ("boss", {})):
        r = client.post(f"/api/v1/transfers/{name}/actions/approve", headers=api(user), json=body)
        assert r.status_code == 200, r.json
        path.append(r.json["state"])
    assert path == ["submitted", "qa_review", "regional_review", "director_review", "approved"]
    with app.app_context():
        from app import db
        db.engine.dispose()
