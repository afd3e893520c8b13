"""The generated screens through the browser-form client, on SQLite and
PostgreSQL: selects of labels, problems next to their fields with the input
kept (never "Database Error"), locked records not offered and refused with the
reason, readable lists and their CSV export (formula injection neutralised),
and a link's metadata filter on every path (form, API choices, API writes)."""
from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from app.meta.loader import MetadataError, MetadataLoader


def rows(app, entity: str, **where):
    from app import db
    with app.app_context():
        model = app.extensions["medtrace"].models[entity]
        out = db.session.execute(sa.select(model).filter_by(**where)).scalars().all()
        db.session.expunge_all()
        return out


def field_errors(html: str, name: str) -> str:
    """The error box under the input named ``name``."""
    row = re.search(rf'<tr>((?:(?!</tr>).)*name="{name}"(?:(?!</tr>).)*)</tr>', html, re.S)
    assert row, name
    boxes = re.findall(r'<div class="alert alert-danger">(.*?)</div>', row.group(1), re.S)
    return " ".join(" ".join(b.split()) for b in boxes)


def new_transfer(api, to="BJ01", **body) -> dict:
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": to,
        "lines": [{"product": "SYR-0003", "quantity": "1"}], **body})
    assert r.status_code == 201, r.json
    return r.json


def test_enum_fields_are_selects_of_labels_in_both_languages(web):
    admin = web("admin")
    html = admin.get("/productview/add").data.decode()
    assert re.search(r'<select[^>]*name="risk_class"', html)
    assert '<option value="III">Class III</option>' in html
    assert '<option value="lot_serial">By lot and serial number</option>' in html
    assert not re.search(r'<input[^>]*name="risk_class"', html)
    admin.get("/lang/zh")
    html = admin.get("/productview/add").data.decode()
    assert '<option value="III">第三类</option>' in html
    assert '<option value="fefo">近效期先出（FEFO）</option>' in html


def test_a_bad_value_is_refused_next_to_its_field_and_the_input_kept(web, app, unique):
    admin = web("admin")
    sku = f"FRM-{unique}"
    form = {"sku": sku, "name": "Form product", "risk_class": "IV", "tracking": "lot",
            "issuing_agency": "gs1", "shelf_life_days": "-3", "uom": "EA"}
    r = admin.post("/productview/add", data=form)
    html = r.data.decode()
    assert r.status_code == 200 and "Database Error" not in html
    assert "Choose one of the listed values." in field_errors(html, "risk_class")
    assert f'value="{sku}"' in html and 'value="Form product"' in html
    assert rows(app, "Product", sku=sku) == []

    form["risk_class"] = "III"
    html = admin.post("/productview/add", data=form).data.decode()
    assert "Shelf life must be a positive number of days" in field_errors(html, "shelf_life_days")
    assert field_errors(html, "sku") == ""
    assert '<option selected value="III">Class III</option>' in html
    assert rows(app, "Product", sku=sku) == []

    form["shelf_life_days"] = "365"
    r = admin.post("/productview/add", data=form)
    assert r.status_code == 302
    [product] = rows(app, "Product", sku=sku)
    assert (product.risk_class, product.shelf_life_days) == ("III", 365)

    # edit: the same, and the database keeps the old values
    edit = {**form, "name": "Renamed", "storage_temp_min": "9", "storage_temp_max": "2"}
    html = admin.post(f"/productview/edit/{product.id}", data=edit).data.decode()
    assert "Database Error" not in html
    assert "Minimum storage temperature must not exceed the maximum" in field_errors(html, "storage_temp_max")
    assert 'value="Renamed"' in html
    [after] = rows(app, "Product", sku=sku)
    assert after.name == "Form product" and after.storage_temp_min is None

    # a unique value taken: refused on the form (FAB's check), nothing changed
    html = admin.post("/productview/add", data={**form, "name": "Duplicate"}).data.decode()
    assert field_errors(html, "sku") and len(rows(app, "Product", sku=sku)) == 1

    # in Chinese
    admin.get("/lang/zh")
    html = admin.post(f"/productview/edit/{product.id}", data={**form, "shelf_life_days": "0"}).data.decode()
    assert "有效期天数必须为正数" in field_errors(html, "shelf_life_days")


def test_a_rule_across_fields_is_shown_under_the_field_it_ends_with(web, app, unique):
    admin = web("admin")
    html = admin.post("/locationview/add", data={
        "code": f"LOC-{unique}", "kind": "bin", "pick_sequence": "0"}).data.decode()
    assert "A bin or receiving location must belong to a warehouse" in field_errors(html, "warehouse")
    assert rows(app, "Location", code=f"LOC-{unique}") == []


def test_documents_past_their_first_state_are_not_edited_and_say_why(web, api, app):
    draft = new_transfer(api)
    cancelled = new_transfer(api, to="GZ01")
    r = api("clerk_sh").post(f"/api/v1/transfers/{cancelled['name']}/actions/cancel", json={})
    assert r.status_code == 200, r.json
    clerk = web("clerk_sh")
    html = clerk.get("/transferorderview/list/").data.decode()
    assert f"/transferorderview/edit/{draft['id']}" in html
    assert f"/transferorderview/edit/{cancelled['id']}" not in html
    assert f"/transferorderview/delete/{cancelled['id']}" not in html

    r = clerk.get(f"/transferorderview/edit/{cancelled['id']}")
    assert r.status_code == 302 and r.location.endswith(f"/transferorderview/show/{cancelled['id']}")
    page = clerk.get(r.location).data.decode()
    assert f"{cancelled['name']} is in state “Cancelled”" in page
    r = clerk.post(f"/transferorderview/edit/{cancelled['id']}", data={
        "from_warehouse": "1", "to_warehouse": "4", "priority": "urgent"})
    assert r.status_code == 302
    [after] = rows(app, "TransferOrder", id=cancelled["id"])
    assert (after.state, after.priority) == ("cancelled", "normal")
    assert clerk.post(f"/transferorderview/delete/{cancelled['id']}").status_code == 403  # no delete
    r = web("admin").post(f"/transferorderview/delete/{cancelled['id']}", follow_redirects=True)
    assert "is in state “Cancelled”" in r.data.decode()
    assert rows(app, "TransferOrder", id=cancelled["id"])

    # the lines of a locked document neither
    line = rows(app, "TransferLine", parent_id=cancelled["id"])[0]
    r = clerk.get(f"/transferlineview/edit/{line.id}")
    assert r.status_code == 302 and "/transferlineview/show/" in r.location

    # a transfer another warehouse sends: readable at the destination, not editable there
    r = api("manager_bj").post("/api/v1/transfers/", json={
        "from_warehouse": "BJ01", "to_warehouse": "SH01", "lines": [{"product": "SYR-0003", "quantity": "1"}]})
    inbound = r.json
    html = clerk.get("/transferorderview/list/").data.decode()
    assert inbound["name"] in html and f"/transferorderview/edit/{inbound['id']}" not in html
    r = clerk.get(f"/transferorderview/edit/{inbound['id']}", follow_redirects=True)
    assert "belongs to BJ01, outside your data scope" in r.data.decode()


def test_lists_read_as_labels_newest_first_with_a_date(web, api):
    admin = web("admin")
    new_transfer(api, priority="urgent", reason_code="near_expiry")
    html = admin.get("/transferorderview/list/").data.decode()
    cells = re.findall(r"<td[^>]*>\s*(.*?)\s*</td>", html, re.S)
    assert "Urgent" in cells and "Draft" in cells
    assert not {"urgent", "draft", "None", "True", "False"} & set(cells)
    for _ in range(2):
        r = api("admin").post("/api/v1/receipts/", json={
            "supplier": "SUP-MDT", "warehouse": "SH01",
            "lines": [{"product": "BND-0006", "quantity": "1"}]})
        assert r.status_code == 201, r.json
    receipts = admin.get("/receiptview/list/").data.decode()
    assert "Received at" in receipts  # a date column without a form saying so
    names = re.findall(r">(RC-\d{6}-\d{5})<", receipts)
    assert names and names == sorted(names, reverse=True)  # newest first
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+", receipts)  # minutes, not microseconds
    assert 'class="mt-nowrap"' in receipts


def test_csv_export_is_labels_filtered_and_safe_from_formulas(web, api, unique):
    admin = api("admin")
    r = admin.post("/api/v1/partner/", json={"code": f"X{unique}", "name": "=1+2", "kind": "hospital",
                                             "contact": "@boss", "phone": "-5"})
    assert r.status_code == 201, r.json
    client = web("admin")
    r = client.get(f"/partnerview/export.csv?_flt_0_code=X{unique}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert table[0] == ["Code", "Name", "Kind", "Region", "Contact", "Phone"]
    assert table[1:] == [[f"X{unique}", "'=1+2", "Hospital", "", "'@boss", "'-5"]]
    # a role without export gets no file
    assert web("clerk_sh").get("/partnerview/export.csv").status_code in (302, 403)


def test_a_links_filter_holds_on_the_form_the_api_choices_and_every_write(web, api, app):
    draft = new_transfer(api)
    html = web("admin").get(f"/transferorderview/edit/{draft['id']}").data.decode()
    carrier_select = re.search(r'<select[^>]*name="carrier".*?</select>', html, re.S).group()
    assert ">CAR-SF<" in carrier_select and ">SUP-MDT<" not in carrier_select
    assert "__None" not in re.sub(r'value="__None"', "", carrier_select)

    info = api("admin").get("/api/v1/transfer_order/_info?q=(keys:!(add_columns))").json
    carrier = next(c for c in info["add_columns"] if c["name"] == "carrier")
    offered = {v["value"] for v in carrier["values"]}
    assert {"CAR-SF", "CAR-JD"} <= offered
    assert offered == {p.code for p in rows(app, "Partner", kind="carrier")}

    supplier = rows(app, "Partner", code="SUP-MDT")[0]
    r = api("admin").put(f"/api/v1/transfer_order/{draft['id']}", json={"carrier": supplier.id})
    assert r.status_code == 422, r.json
    assert "Carrier: SUP-MDT cannot be chosen here (Kind must be Carrier)" in r.json["message"]
    assert rows(app, "TransferOrder", id=draft["id"])[0].carrier_id is None
    r = api("admin").post("/api/v1/receipts/", json={
        "supplier": "HOS-RJ", "warehouse": "SH01", "lines": [{"product": "SYR-0003", "quantity": "1"}]})
    assert r.status_code == 422


def test_a_bad_link_filter_stops_start_up_naming_file_and_key(tmp_path):
    import shutil
    from pathlib import Path
    root = Path(__file__).parents[2]
    for folder in ("metadata", "forms"):
        shutil.copytree(root / folder, tmp_path / folder)
    path = tmp_path / "metadata" / "entities" / "transfer_order.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("filter: {kind: carrier}", "filter: {kind: airline, colour: red}"),
                    encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        MetadataLoader(tmp_path).load()
    message = str(info.value)
    assert "transfer_order.yaml" in message and "fields.carrier.filter.kind" in message
    assert "'airline' is not one of Partner.kind's options" in message
    assert "fields.carrier.filter.colour" in message
    path.write_text(text.replace("tracking_no: {type: string", "tracking_no: {type: string, filter: {a: b}"),
                    encoding="utf-8")
    with pytest.raises(MetadataError, match="filter applies to link fields only"):
        MetadataLoader(tmp_path).load()


def test_decimal_inputs_show_exact_values_and_too_large_ones_are_refused(web, api, app, unique):
    r = api("clerk_sh").post("/api/v1/transfers/", json={
        "from_warehouse": "SH01", "to_warehouse": "BJ01",
        "lines": [{"product": "SYR-0003", "quantity": "0.0005"}]})
    assert r.status_code == 201, r.json
    line = rows(app, "TransferLine", parent_id=r.json["id"])[0]
    clerk = web("clerk_sh")
    html = clerk.get(f"/transferlineview/edit/{line.id}").data.decode()
    assert re.search(r'name="quantity"[^>]*value="0.0005"', html), "shown rounded"
    admin = web("admin")
    sku = f"BIG-{unique}"
    r = admin.post("/productview/add", data={"sku": sku, "name": "Big price", "risk_class": "I",
                                             "tracking": "none", "unit_price": "12.5"})
    assert r.status_code == 302
    [product] = rows(app, "Product", sku=sku)
    html = admin.get(f"/productview/edit/{product.id}").data.decode()
    assert re.search(r'name="unit_price"[^>]*value="12.50"', html)
    if app.backend == "postgresql":  # NUMERIC(18, 2) holds 16 digits before the point
        r = admin.post(f"/productview/edit/{product.id}", data={
            "sku": sku, "name": "Big price", "risk_class": "I", "tracking": "none",
            "unit_price": "123456789012345678901"})
        html = r.data.decode()
        assert r.status_code == 200 and "the database cannot hold a value as entered" in html
        assert rows(app, "Product", sku=sku)[0].unit_price == product.unit_price
