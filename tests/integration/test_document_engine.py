"""A new workflow document in YAML only: an entity with lines, a workflow with
two approval levels (one conditional, one signed), roles; taken through every
action with the generic endpoints, as the right and the wrong users, and seen
on the generic board and detail pages."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from support import PASSWORD, make_app

ROOT = Path(__file__).resolve().parents[2]

ENTITY = {
    "entity": "ScrapRequest", "label": {"en": "Scrap request", "zh": "报废申请"}, "module": "inventory",
    "naming": "SR-{YYYY}-{####}",
    "fields": {
        "warehouse": {"type": "link", "target": "Warehouse", "required": True,
                      "label": {"en": "Warehouse", "zh": "仓库"}},
        "state": {"type": "string", "length": 32, "read_only": True, "label": {"en": "State", "zh": "状态"}},
        "reason": {"type": "text", "label": {"en": "Reason", "zh": "原因"}},
        "lines": {"type": "table", "target": "ScrapRequestLine", "label": {"en": "Lines", "zh": "明细"}},
    },
    "scope": {"field": "warehouse"},
}
LINE = {
    "entity": "ScrapRequestLine", "label": {"en": "Scrap line", "zh": "报废明细"}, "module": "inventory",
    "table_of": "ScrapRequest",
    "fields": {
        "product": {"type": "link", "target": "Product", "required": True, "label": {"en": "Product", "zh": "产品"}},
        "quantity": {"type": "decimal", "required": True, "label": {"en": "Quantity", "zh": "数量"}},
    },
}
WORKFLOW = {
    "workflow": "scrap_approval", "entity": "ScrapRequest",
    "label": {"en": "Scrap approval", "zh": "报废审批"}, "initial": "draft",
    "states": {
        "draft": {"label": {"en": "Draft", "zh": "草稿"}},
        "submitted": {"label": {"en": "Manager review", "zh": "经理审核"}},
        "qa_review": {"label": {"en": "QA review", "zh": "质量审核"}},
        "approved": {"label": {"en": "Approved", "zh": "已批准"}},
        "done": {"label": {"en": "Scrapped", "zh": "已报废"}, "final": True},
        "rejected": {"label": {"en": "Rejected", "zh": "已驳回"}, "final": True},
    },
    "approvals": {
        "levels": [
            {"state": "submitted", "roles": ["warehouse_manager"]},
            {"state": "qa_review", "roles": ["qa"], "signature": "responsibility",
             "when": "lines.exists(l, l.quantity > 10)"},
        ],
        "approved": "approved", "rejected": "rejected",
    },
    "transitions": [
        {"action": "submit", "from": "draft", "to": "submitted", "roles": ["warehouse_clerk"],
         "when": "size(lines) > 0", "message": {"en": "Add a line first.", "zh": "请先添加明细。"},
         "label": {"en": "Submit", "zh": "提交"}},
        {"action": "complete", "from": "approved", "to": "done", "roles": ["warehouse_clerk"],
         "label": {"en": "Mark scrapped", "zh": "确认报废"}},
    ],
}


@pytest.fixture(scope="module")
def scrap_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    for folder in ("metadata", "forms", "workflows", "reports"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "metadata" / "entities" / "scrap_request.yaml").write_text(yaml.safe_dump(ENTITY), encoding="utf-8")
    (root / "metadata" / "entities" / "scrap_request_line.yaml").write_text(yaml.safe_dump(LINE), encoding="utf-8")
    (root / "workflows" / "scrap_approval.yaml").write_text(yaml.safe_dump(WORKFLOW), encoding="utf-8")
    roles_path = root / "metadata" / "roles.yaml"
    roles = yaml.safe_load(roles_path.read_text(encoding="utf-8"))
    grants = {"warehouse_clerk": ["read", "create", "write"], "warehouse_manager": ["read", "write", "approve"],
              "qa": ["read", "approve"]}
    for role, verbs in grants.items():
        roles["roles"][role]["permissions"]["ScrapRequest"] = verbs
        roles["roles"][role]["permissions"]["ScrapRequestLine"] = verbs
    roles_path.write_text(yaml.safe_dump(roles, allow_unicode=True), encoding="utf-8")
    app = make_app("sqlite", tmp_path_factory, MEDTRACE_ROOT=str(root))
    yield app
    from app import db
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def call(scrap_app):
    client = scrap_app.test_client()
    tokens = {}

    def request(user, method, url, **kw):
        if user not in tokens:
            tokens[user] = client.post("/api/v1/security/login", json={
                "username": user, "password": PASSWORD, "provider": "db"}).json["access_token"]
        return getattr(client, method)(url, headers={"Authorization": f"Bearer {tokens[user]}"}, **kw)
    return request


def new_request(call, quantity: str) -> int:
    r = call("clerk_sh", "get", "/api/v1/warehouse/?q=(filters:!((col:code,opr:eq,value:SH01)))")
    warehouse = r.json["ids"][0]
    r = call("clerk_sh", "post", "/api/v1/scrap_request/", json={"warehouse": warehouse, "reason": "water damage"})
    assert r.status_code == 201, r.json
    doc = r.json["id"]
    r = call("clerk_sh", "post", "/api/v1/scrap_request_line/",
             json={"parent": doc, "product": 1, "quantity": quantity})
    assert r.status_code == 201, r.json
    return doc


def act(call, user, doc, action, **body):
    return call(user, "post", f"/api/v1/scrap_request/{doc}/actions/{action}", json=body)


def test_a_yaml_only_document_through_two_levels(call):
    doc = new_request(call, "20")
    url = f"/api/v1/scrap_request/{doc}"

    # what the clerk may do now, and why not the rest
    r = call("clerk_sh", "get", f"{url}/actions")
    assert r.status_code == 200 and r.json["state"] == "draft"
    assert [(a["action"], a["allowed"]) for a in r.json["actions"]] == [("submit", True)]
    # a manager of another warehouse does not even see it
    assert act(call, "manager_bj", doc, "submit").status_code == 404
    r = act(call, "clerk_sh", doc, "submit")
    assert r.status_code == 200 and r.json["state"] == "submitted", r.json

    # level 1: the clerk may not approve; the manager may
    r = act(call, "clerk_sh", doc, "approve")
    # the message names the role by its label; the details by its key
    assert r.status_code == 403 and "Warehouse manager" in r.json["message"]
    assert "warehouse_manager" in r.json["details"]["roles"]
    listed = {a["action"]: a for a in call("clerk_sh", "get", f"{url}/actions").json["actions"]}
    assert listed["approve"]["allowed"] is False and listed["approve"]["reason_code"] == "role"
    r = act(call, "manager_sh", doc, "approve")
    assert r.status_code == 200 and r.json["state"] == "qa_review", r.json

    # level 2 (a line above 10): QA, signed
    assert act(call, "manager_sh", doc, "approve").status_code == 403
    r = act(call, "qa_user", doc, "approve")
    assert r.status_code == 422 and "electronic signature" in r.json["message"]
    r = act(call, "qa_user", doc, "approve", signature={"password": "wrong-password-1"})
    assert r.status_code == 403 and "password" in r.json["message"]
    r = act(call, "qa_user", doc, "approve", signature={"password": PASSWORD, "meaning": "responsibility"})
    assert r.status_code == 200 and r.json["state"] == "approved", r.json

    # the last step, and nothing after a final state
    r = act(call, "clerk_sh", doc, "complete")
    assert r.status_code == 200 and r.json["state"] == "done"
    r = act(call, "clerk_sh", doc, "complete")
    assert r.status_code == 409

    history = call("qa_user", "get", f"{url}/history").json["result"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("submit", "draft", "submitted"), ("approve", "submitted", "qa_review"),
        ("approve", "qa_review", "approved"), ("complete", "approved", "done")]
    signed = history[2]
    assert signed["signed_by"] == "qa_user" and signed["meaning"] == "responsibility"
    assert history[0]["signed_by"] is None and history[0]["at"].endswith("Z")


def test_the_conditional_level_is_skipped_and_rejection_needs_a_comment(call):
    doc = new_request(call, "3")
    act(call, "clerk_sh", doc, "submit")
    r = act(call, "manager_sh", doc, "approve")
    assert r.status_code == 200 and r.json["state"] == "approved"   # no line above 10: no QA level

    other = new_request(call, "4")
    act(call, "clerk_sh", other, "submit")
    r = act(call, "manager_sh", other, "reject")
    assert r.status_code == 422 and "comment" in r.json["message"]
    r = act(call, "manager_sh", other, "reject", comment="not damaged")
    assert r.status_code == 200 and r.json["state"] == "rejected"


def test_an_empty_request_cannot_be_submitted_and_unknown_fields_are_refused(call):
    r = call("clerk_sh", "get", "/api/v1/warehouse/?q=(filters:!((col:code,opr:eq,value:SH01)))")
    r = call("clerk_sh", "post", "/api/v1/scrap_request/", json={"warehouse": r.json["ids"][0]})
    doc = r.json["id"]
    r = act(call, "clerk_sh", doc, "submit")
    assert r.status_code == 422 and "Add a line first" in r.json["message"]
    r = act(call, "clerk_sh", doc, "submit", carrier="CAR-SF")
    assert r.status_code == 422 and "carrier" in r.json["message"]
    assert call("clerk_sh", "get", f"/api/v1/scrap_request/{doc}/actions").json["state"] == "draft"


def test_the_generic_board_and_page_show_it(scrap_app, call):
    doc = new_request(call, "12")
    act(call, "clerk_sh", doc, "submit")
    act(call, "manager_sh", doc, "approve")
    client = scrap_app.test_client()
    assert client.post("/login/", data={"username": "qa_user", "password": PASSWORD}).status_code == 302
    page = client.get("/documents/scrap_request/board/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    pending = html.split('id="pending-approval"')[1].split("</section>")[0]
    assert 'data-state="qa_review"' in pending and "✍" in pending   # QA's signed approval waits there
    detail = client.get(f"/documents/scrap_request/{doc}/").get_data(as_text=True)
    assert "water damage" in detail and "QA review" in detail
    assert f'data-url="/api/v1/scrap_request/{doc}/actions/approve"' in detail
