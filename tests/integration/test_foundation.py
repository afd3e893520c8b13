"""The foundation through the real app: generated screens and APIs, warehouse
scope, audit trail, language switch, OpenAPI, on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa


def warehouse_id(app, code):
    from app import db
    W = app.extensions["medtrace"].models["Warehouse"]
    with app.app_context():
        return db.session.execute(sa.select(W.id).where(W.code == code)).scalar_one()


def test_jwt_login_and_generated_crud(api, unique):
    admin = api("admin")
    r = admin.post("/api/v1/partner/", json={"code": f"SUP-{unique}", "name": "Acme 医疗",
                                             "kind": "supplier"})
    assert r.status_code == 201, r.json
    pk = r.json["id"]
    r = admin.get(f"/api/v1/partner/{pk}")
    assert r.json["result"]["name"] == "Acme 医疗"
    r = admin.put(f"/api/v1/partner/{pk}", json={"contact": "Li Lei"})
    assert r.status_code == 200, r.json
    assert admin.get(f"/api/v1/partner/{pk}").json["result"]["contact"] == "Li Lei"


def test_openapi_document_lists_generated_apis(api):
    r = api("admin").get("/api/v1/_openapi")
    assert r.status_code == 200
    paths = r.json["paths"]
    assert "/api/v1/product/" in paths and "/api/v1/warehouse/{pk}" in paths


def test_rule_and_enum_errors_answer_422_and_change_nothing(api, app, unique):
    admin = api("admin")
    r = admin.post("/api/v1/product/", json={"sku": f"P-{unique}", "name": "x", "risk_class": "II",
                                             "tracking": "lot", "storage_temp_min": "30",
                                             "storage_temp_max": "2"})
    assert r.status_code == 422
    assert "Minimum storage temperature must not exceed the maximum" in r.json["message"]
    r = admin.post("/api/v1/product/", json={"sku": f"P-{unique}", "name": "x",
                                             "risk_class": "IV", "tracking": "lot"})
    assert r.status_code == 422
    assert "risk_class" in str(r.json)
    r = admin.get(f"/api/v1/product/?q=(filters:!((col:sku,opr:eq,value:'P-{unique}')))")
    assert r.json["count"] == 0


def test_duplicate_unique_value_is_a_clear_409(api, unique):
    admin = api("admin")
    body = {"code": f"R{unique}"[:16], "name": "dup"}
    assert admin.post("/api/v1/region/", json=body).status_code == 201
    r = admin.post("/api/v1/region/", json=body)
    assert r.status_code == 409
    assert "already exists" in r.json["message"]


def test_scope_api_list_detail_update_delete(api, app):
    clerk = api("clerk_sh")
    sh, bj = warehouse_id(app, "SH01"), warehouse_id(app, "BJ01")
    codes = {w["code"] for w in clerk.get("/api/v1/warehouse/").json["result"]}
    assert codes == {"SH01"}
    locations = clerk.get("/api/v1/location/?q=(page_size:500)").json["result"]
    assert locations and all(loc["code"].startswith("SH01") for loc in locations)
    assert clerk.get(f"/api/v1/warehouse/{bj}").status_code == 404
    assert clerk.get(f"/api/v1/warehouse/{sh}").status_code == 200
    # filtering explicitly for another warehouse still finds nothing
    r = clerk.get(f"/api/v1/location/?q=(filters:!((col:code,opr:sw,value:BJ01)))")
    assert r.json["count"] == 0
    manager = api("manager_sh")
    assert manager.put(f"/api/v1/warehouse/{bj}", json={"name": "hijack"}).status_code == 404


def test_scope_refuses_creating_in_another_warehouse(api, app, unique):
    manager = api("manager_sh")
    bj = warehouse_id(app, "BJ01")
    r = manager.post("/api/v1/location/", json={"code": f"BJ01-Z-{unique}", "kind": "bin",
                                                "warehouse": bj})
    assert r.status_code in (403, 422), r.json
    assert "scope" in r.json["message"] or "warehouse" in str(r.json)
    sh = warehouse_id(app, "SH01")
    r = manager.post("/api/v1/location/", json={"code": f"SH01-Z-{unique}", "kind": "bin",
                                                "warehouse": sh})
    assert r.status_code == 201, r.json


def test_region_scope_sees_region_warehouses(api):
    codes = {w["code"] for w in api("regional_ec").get("/api/v1/warehouse/").json["result"]}
    assert codes == {"SH01", "HZ01"}


def test_scope_through_the_screens(web, app):
    clerk = web("clerk_sh")
    page = clerk.get("/warehouseview/list/").data.decode()
    assert "SH01" in page and "BJ01" not in page
    bj = warehouse_id(app, "BJ01")
    r = clerk.get(f"/warehouseview/show/{bj}")
    assert r.status_code == 404
    page = clerk.get("/locationview/list/?psize_LocationView=100").data.decode()
    assert "SH01-A-01-01" in page and "BJ01-A-01-01" not in page


def test_dropdowns_offer_only_warehouses_in_scope(web):
    import re
    manager = web("manager_sh")
    page = manager.get("/locationview/add").data.decode()
    select = re.search(r'<select[^>]*name="warehouse".*?</select>', page, re.S).group(0)
    assert "SH01" in select and "BJ01" not in select and "GZ01" not in select


def test_export_respects_scope_and_permission(web):
    auditor = web("auditor")  # scope all, export on Product
    r = auditor.get("/productview/export.csv")
    assert r.status_code == 200 and "CAT-0001" in r.data.decode("utf-8-sig")
    clerk = web("clerk_sh")  # no export permission
    r = clerk.get("/productview/export.csv")
    assert r.status_code in (302, 403)


def test_permissions_come_from_roles_yaml(api):
    clerk = api("clerk_sh")  # read-only on Product
    assert clerk.get("/api/v1/product/").status_code == 200
    r = clerk.post("/api/v1/product/", json={"sku": "NOPE", "name": "x", "risk_class": "I",
                                             "tracking": "none"})
    assert r.status_code == 403


def test_audit_trail_records_changes_and_cannot_be_changed(api, app, unique):
    admin = api("admin")
    pk = admin.post("/api/v1/partner/", json={"code": f"AUD-{unique}", "name": "Before",
                                              "kind": "carrier"}).json["id"]
    admin.put(f"/api/v1/partner/{pk}", json={"name": "After"})
    q = f"(filters:!((col:entity,opr:eq,value:Partner),(col:record_id,opr:eq,value:{pk})),page_size:100)"
    rows = admin.get(f"/api/v1/audit_log/?q={q}").json["result"]
    changes = {(r["action"], r["field"], r["old_value"], r["new_value"]) for r in rows}
    assert ("create", "name", None, "Before") in changes
    assert ("update", "name", "Before", "After") in changes
    assert all(r["username"] == "admin" for r in rows)
    # no write route exists on the audit API, even for Admin
    assert admin.post("/api/v1/audit_log/", json={"entity": "x"}).status_code in (404, 405)
    assert admin.delete(f"/api/v1/audit_log/{rows[0]['id']}").status_code in (404, 405)
    # and the database itself refuses updates and deletes
    from app import db
    with app.app_context():
        with db.engine.connect() as conn:
            for stmt in ("UPDATE audit_log SET new_value = 'x'", "DELETE FROM audit_log"):
                try:
                    conn.exec_driver_sql(stmt)
                    conn.commit()
                    raise AssertionError(f"{stmt} was allowed")
                except sa.exc.DBAPIError as exc:
                    conn.rollback()
                    assert "append-only" in str(exc)


def test_audit_screen_has_no_edit_or_delete(web):
    admin = web("admin")
    assert admin.get("/auditlogview/list/").status_code == 200
    assert admin.get("/auditlogview/add").status_code == 404
    assert admin.get("/auditlogview/delete/1").status_code == 404


def test_language_switch_shows_chinese_labels(web):
    admin = web("admin")
    page = admin.get("/productview/list/").data.decode()
    assert "SKU" in page and "Risk class" in page
    admin.get("/lang/zh")
    page = admin.get("/productview/list/").data.decode()
    assert "物料编码" in page and "管理类别" in page and "主数据" in page


def test_create_record_through_generated_form(web, app, unique):
    admin = web("admin")
    r = admin.post("/regionview/add", data={"code": f"T{unique}"[:16], "name": "Test 区域"})
    assert r.status_code == 302
    from app import db
    Region = app.extensions["medtrace"].models["Region"]
    with app.app_context():
        region = db.session.execute(sa.select(Region).where(Region.code == f"T{unique}"[:16])).scalar_one()
        assert region.created_by == "admin"


def test_form_rule_error_is_shown_and_nothing_saved(web, app, unique):
    admin = web("admin")
    r = admin.post("/locationview/add", data={"code": f"V-{unique}", "kind": "bin"},
                   follow_redirects=True)
    assert "must belong to a warehouse" in r.data.decode()
    from app import db
    Location = app.extensions["medtrace"].models["Location"]
    with app.app_context():
        assert db.session.execute(sa.select(Location).where(
            Location.code == f"V-{unique}")).scalar_one_or_none() is None


def test_dashboard_figures_in_both_languages_and_scoped(web, api, unique):
    import re
    api("admin").post("/api/v1/receipts/", json={"supplier": "SUP-MDT", "warehouse": "BJ01", "lines": [
        {"product": "BND-0006", "quantity": "7"}]})
    admin = web("admin")
    page = admin.get("/").data.decode()
    assert "MedTrace dashboard" in page and 'id="fig-in_transit"' in page
    admin_units = int(re.search(r'id="fig-units_in_stock">([\d.]+)<', page).group(1))
    clerk_page = web("clerk_sh").get("/").data.decode()
    assert re.search(r'id="fig-warehouses">1<', clerk_page)
    assert int(re.search(r'id="fig-units_in_stock">([\d.]+)<', clerk_page).group(1)) < admin_units
    admin.get("/lang/zh")
    page = admin.get("/").data.decode()
    assert "在库数量" in page and "待审批调拨单" in page
