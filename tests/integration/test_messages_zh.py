"""Error messages answer in the user's language: Chinese after /lang/zh in the
browser, or with Accept-Language: zh for scripts; English otherwise. Both
texts are always given under `messages`."""
from __future__ import annotations


def test_api_errors_in_chinese_with_accept_language(api):
    admin = api("admin")
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    r = admin.client.post("/api/v1/udi/parse", json={"barcode": "0107032069804987"},
                          headers={**admin.headers, **zh})
    assert r.status_code == 422
    assert "校验位错误" in r.json["message"] and "check digit" in r.json["messages"]["en"]
    r = admin.client.post("/api/v1/receipts/", headers={**admin.headers, **zh}, json={
        "supplier": "SUP-MDT", "warehouse": "SH01",
        "lines": [{"product": "SYR-0003", "quantity": "0"}]})
    assert r.status_code == 422
    assert r.json["message"].startswith("入库单未过账：第 1 行：") and "数量必须大于零" in r.json["message"]
    r = admin.client.post("/api/v1/transfers/", headers={**admin.headers, **zh}, json={
        "from_warehouse": "SH01", "to_warehouse": "SH01", "lines": [{"product": "GLV-0004", "quantity": "1"}]})
    assert r.json["message"] == "调出与调入仓库不能相同"
    # English when nothing asks for Chinese
    r = admin.post("/api/v1/udi/parse", json={"barcode": "0107032069804987"})
    assert "check digit" in r.json["message"]


def test_scope_and_workflow_errors_in_chinese(api):
    zh = {"Accept-Language": "zh"}
    clerk = api("clerk_sh")
    r = clerk.client.post("/api/v1/transfers/", headers={**clerk.headers, **zh}, json={
        "from_warehouse": "BJ01", "to_warehouse": "SH01", "lines": [{"product": "GLV-0004", "quantity": "1"}]})
    assert r.status_code == 403 and "不在您的数据权限范围内" in r.json["message"]
    name = clerk.post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "HZ01",
        "lines": [{"product": "GLV-0004", "quantity": "1"}]}).json["name"]
    r = clerk.client.post(f"/api/v1/transfers/{name}/actions/ship", headers={**clerk.headers, **zh}, json={})
    assert r.status_code == 409 and "当前状态为「草稿」" in r.json["message"]


def test_form_error_flashed_in_chinese(web, unique):
    admin = web("admin")
    admin.get("/lang/zh")
    r = admin.post("/locationview/add", data={"code": f"ZH-{unique}", "kind": "bin"}, follow_redirects=True)
    assert "货位和收货区必须属于某个仓库" in r.data.decode()
