"""Metadata validation: each kind of bad file stops start-up with a message
that names the file, the key and the problem."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app.meta.loader import MetadataError, MetadataLoader

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    for folder in ("metadata", "forms"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def write_entity(project, name, body):
    path = project / "metadata" / "entities" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def load_error(project) -> MetadataError:
    with pytest.raises(MetadataError) as info:
        MetadataLoader(project).load()
    return info.value


def test_shipped_metadata_loads():
    meta = MetadataLoader(ROOT).load()
    assert {"Warehouse", "Product", "Lot", "Location"} <= set(meta.entities)
    assert meta.entities["Warehouse"].label == {"en": "Warehouse", "zh": "仓库"}


def test_unknown_field_type(project):
    path = write_entity(project, "gadget", {"entity": "Gadget", "label": {"en": "G", "zh": "G"},
                                            "fields": {"size": {"type": "huge", "label": {"en": "S", "zh": "S"}}}})
    err = load_error(project)
    assert err.source == str(path)
    assert err.key == "fields.size.type"
    assert "must be one of" in err.problem


def test_link_to_missing_entity(project):
    write_entity(project, "gadget", {"entity": "Gadget", "label": {"en": "G", "zh": "G"},
                                     "fields": {"maker": {"type": "link", "target": "Maker",
                                                          "label": {"en": "M", "zh": "M"}}}})
    err = load_error(project)
    assert err.key == "fields.maker.target"
    assert "'Maker', which is not a defined entity" in str(err)
    assert "gadget.yaml" in str(err)


def test_bad_cel_rule(project):
    write_entity(project, "gadget", {"entity": "Gadget", "label": {"en": "G", "zh": "G"},
                                     "fields": {"size": {"type": "int", "label": {"en": "S", "zh": "S"}}},
                                     "rules": [{"expr": "size >", "message": {"en": "x", "zh": "x"}}]})
    err = load_error(project)
    assert err.key.startswith("rules")
    assert "invalid CEL" in err.problem


def test_duplicate_field(project):
    path = project / "metadata" / "entities" / "gadget.yaml"
    path.write_text("entity: Gadget\nlabel: {en: G, zh: G}\nfields:\n"
                    "  size: {type: int, label: {en: S, zh: S}}\n"
                    "  size: {type: string, label: {en: S, zh: S}}\n", encoding="utf-8")
    err = load_error(project)
    assert "gadget.yaml" in err.source
    assert "duplicate" in err.problem.lower()


def test_duplicate_entity_name(project):
    write_entity(project, "warehouse2", {"entity": "Warehouse", "label": {"en": "W", "zh": "W"},
                                         "fields": {}})
    err = load_error(project)
    assert err.key == "entity" and "already defined" in err.problem


def test_missing_label(project):
    write_entity(project, "gadget", {"entity": "Gadget", "label": {"en": "G", "zh": "G"},
                                     "fields": {"size": {"type": "int"}}})
    err = load_error(project)
    assert err.key == "fields.size.label"
    assert "missing label" in err.problem


def test_missing_chinese_label(project):
    write_entity(project, "gadget", {"entity": "Gadget", "label": {"en": "G"}, "fields": {}})
    err = load_error(project)
    assert err.key == "label" and err.problem == "missing zh text"


def test_unknown_key_is_reported(project):
    write_entity(project, "gadget", {"entity": "Gadget", "label": {"en": "G", "zh": "G"},
                                     "fields": {}, "colour": "red"})
    err = load_error(project)
    assert err.key == "colour" and "unknown key" in err.problem


def test_form_column_must_be_a_field(project):
    (project / "forms" / "product.yaml").write_text(
        "form: Product\nlist_columns: [sku, colour]\n", encoding="utf-8")
    err = load_error(project)
    assert err.key == "list_columns" and "'colour' is not a field of Product" in err.problem


def test_role_on_unknown_entity(project):
    roles = yaml.safe_load((project / "metadata" / "roles.yaml").read_text(encoding="utf-8"))
    roles["roles"]["auditor"]["permissions"]["Spaceship"] = ["read"]
    (project / "metadata" / "roles.yaml").write_text(yaml.safe_dump(roles), encoding="utf-8")
    err = load_error(project)
    assert err.key == "roles.auditor.permissions.Spaceship"


def test_customization_overlays_shipped_file(project):
    custom = [{"kind": "entity", "name": "Product",
               "body": {"fields": {"colour": {"type": "string", "label": {"en": "Colour", "zh": "颜色"}}}}}]
    meta = MetadataLoader(project, custom).load()
    assert "colour" in meta.entities["Product"].fields
    assert "sku" in meta.entities["Product"].fields  # customizations add, never remove


def test_customization_cannot_change_core_field_type(project):
    custom = [{"kind": "entity", "name": "Product", "body": {"fields": {"sku": {"type": "int"}}}}]
    with pytest.raises(MetadataError) as info:
        MetadataLoader(project, custom).load()
    assert "core field" in str(info.value)
