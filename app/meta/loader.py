"""Read shipped metadata files plus stored customizations into one ``Metadata``.

Every problem is reported as ``MetadataError`` naming the file, the key and what
is wrong, and stops start-up: a half-understood configuration must never serve.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

import yaml
from marshmallow import ValidationError

from app.meta import schemas
from app.meta.model import (
    EntityMeta, FieldMeta, FormMeta, FormSection, Metadata, RoleMeta, RuleMeta,
)

WAREHOUSE = "Warehouse"
# Permission targets that are engine pages, not entities.
ENGINE_TARGETS = {"AuditLog": "admin"}


class MetadataError(ValueError):
    """A metadata file is invalid. The message names file, key and problem."""

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


def _flatten(messages: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """Turn marshmallow's nested error dict into (dotted.key, message) pairs."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                yield from _flatten(value, prefix)
                continue
            if key == "value" and prefix:
                # errors on a dict's values arrive as {name: {"value": {...}}}
                yield from _flatten(value, prefix)
                continue
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(messages, list):
        for item in messages:
            yield from _flatten(item, prefix)
    else:
        yield prefix or "(file)", str(messages)


def _load(schema, data: Any, source: str) -> dict:
    if not isinstance(data, dict):
        raise MetadataError(source, "(file)", "expected a mapping at the top level")
    try:
        return schema.load(data)
    except ValidationError as exc:
        key, problem = next(iter(_flatten(exc.messages)))
        if problem == "Unknown field.":
            problem = "unknown key (check the spelling; defaults are left out, not written)"
        raise MetadataError(source, key, problem) from None


class _StrictLoader(yaml.SafeLoader):
    """YAML silently keeps the last of two equal keys; metadata must not."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise MetadataError(str(path), f"line {line}", exc.problem) from None
    except yaml.YAMLError as exc:
        raise MetadataError(str(path), "(file)", f"not valid YAML: {exc}") from None


def deep_merge(base: dict, overlay: dict) -> dict:
    """Customizations add to or override shipped metadata; they never delete."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class MetadataLoader:
    """Loads ``root`` (the project folder holding metadata/ and forms/).

    ``customizations`` are stored overlays: dicts ``{"kind": "entity"|"form"|"roles",
    "name": ..., "body": {...}}`` applied in order on top of the shipped files.
    """

    def __init__(self, root: Path, customizations: Iterable[dict] = ()):
        self.root = Path(root)
        self.customizations = list(customizations)

    # -- raw documents -------------------------------------------------------
    def _raw_documents(self) -> tuple[dict, dict, dict, dict]:
        entities: dict[str, tuple[str, dict]] = {}
        for path in sorted((self.root / "metadata" / "entities").glob("*.yaml")):
            data = read_yaml(path) or {}
            name = data.get("entity") if isinstance(data, dict) else None
            if not name:
                raise MetadataError(str(path), "entity", "missing entity name")
            if name in entities:
                raise MetadataError(str(path), "entity",
                                    f"{name} is already defined in {entities[name][0]}")
            entities[name] = (str(path), data)
        forms: dict[str, tuple[str, dict]] = {}
        forms_dir = self.root / "forms"
        for path in sorted(forms_dir.glob("*.yaml")) if forms_dir.exists() else []:
            data = read_yaml(path) or {}
            forms[data.get("form", path.stem)] = (str(path), data)
        roles_path = self.root / "metadata" / "roles.yaml"
        roles = (str(roles_path), read_yaml(roles_path) or {"roles": {}})
        modules_path = self.root / "metadata" / "modules.yaml"
        modules = (str(modules_path), read_yaml(modules_path) if modules_path.exists()
                   else {"modules": {}})
        for custom in self.customizations:
            kind, name, body = custom["kind"], custom.get("name"), custom["body"]
            origin = f"customization {kind}:{name}"
            if kind == "entity":
                src, base = entities.get(name, (origin, {}))
                for fname, spec in (body.get("fields") or {}).items():
                    shipped = (base.get("fields") or {}).get(fname) or {}
                    if shipped.get("core") and "type" in spec and spec["type"] != shipped["type"]:
                        raise MetadataError(origin, f"fields.{fname}.type",
                                            "a core field's type cannot be changed by a customization")
                entities[name] = (f"{src} + {origin}", deep_merge(base, body))
            elif kind == "form":
                src, base = forms.get(name, (origin, {"form": name}))
                forms[name] = (f"{src} + {origin}", deep_merge(base, body))
            elif kind == "roles":
                roles = (f"{roles[0]} + {origin}", deep_merge(roles[1], body))
            else:
                raise MetadataError(origin, "kind", f"unknown customization kind {kind!r}")
        return entities, forms, roles, modules

    # -- public ---------------------------------------------------------------
    def load(self) -> Metadata:
        raw_entities, raw_forms, raw_roles, raw_modules = self._raw_documents()
        fingerprint = hashlib.sha256(json.dumps(
            [raw_entities, raw_forms, raw_roles, raw_modules],
            sort_keys=True, default=str).encode()).hexdigest()[:16]

        entities = {name: self._entity(src, data)
                    for name, (src, data) in raw_entities.items()}
        self._cross_check_entities(entities)
        forms = {name: self._form(src, data, entities) for name, (src, data) in raw_forms.items()}
        roles = self._roles(*raw_roles, entities)
        modules = _load(schemas.ModulesFileSchema(), raw_modules[1], raw_modules[0])["modules"]
        for entity in entities.values():
            if entity.module not in modules and modules:
                raise MetadataError(entity.source, "module",
                                    f"unknown module {entity.module!r}; known: {sorted(modules)}")
        return Metadata(entities=entities, forms=forms, roles=roles,
                        modules=modules, fingerprint=fingerprint)

    def _entity(self, source: str, data: dict) -> EntityMeta:
        doc = _load(schemas.EntitySchema(), data, source)
        fields = {}
        for name, spec in doc["fields"].items():
            label = spec.get("label") or {"en": name.replace("_", " ").capitalize(),
                                          "zh": name}
            if "label" not in spec:
                raise MetadataError(source, f"fields.{name}.label",
                                    "missing label (give both en and zh)")
            fields[name] = FieldMeta(
                name=name, type=spec["type"], label=label, target=spec.get("target"),
                options=tuple(spec.get("options", ())), required=spec.get("required", False),
                unique=spec.get("unique", False), index=spec.get("index", False),
                length=spec.get("length"), scale=spec.get("scale", 4),
                default=spec.get("default"), read_only=spec.get("read_only", False),
                core=spec.get("core", False),
            )
        scope = doc.get("scope") or {}
        scope_fields = tuple(scope.get("fields") or ([scope["field"]] if scope.get("field") else []))
        entity = EntityMeta(
            name=doc["entity"], label=doc["label"], fields=fields, source=source,
            module=doc.get("module", "other"), naming=doc.get("naming"), title=doc.get("title"),
            table_of=doc.get("table_of"), core=doc.get("core", False), audit=doc.get("audit", True),
            editable=doc.get("editable", True),
            rules=tuple(RuleMeta(r["expr"], r["message"]) for r in doc.get("rules", ())),
            scope_fields=scope_fields,
            unique_together=tuple(tuple(u) for u in doc.get("unique_together", ())),
        )
        for i, group in enumerate(entity.unique_together):
            for fname in group:
                if fname not in fields:
                    raise MetadataError(source, f"unique_together[{i}]",
                                        f"{fname!r} is not a field of {entity.name}")
        if entity.title and entity.title not in fields and entity.title != "name":
            raise MetadataError(source, "title", f"{entity.title!r} is not a field of {entity.name}")
        return entity

    @staticmethod
    def _cross_check_entities(entities: dict[str, EntityMeta]) -> None:
        for entity in entities.values():
            for f in entity.fields.values():
                if f.type in ("link", "table") and f.target not in entities:
                    raise MetadataError(entity.source, f"fields.{f.name}.target",
                                        f"links to {f.target!r}, which is not a defined entity")
                if f.type == "table" and entities[f.target].table_of != entity.name:
                    raise MetadataError(entity.source, f"fields.{f.name}.target",
                                        f"{f.target} must declare 'table_of: {entity.name}'")
            if entity.table_of and entity.table_of not in entities:
                raise MetadataError(entity.source, "table_of",
                                    f"{entity.table_of!r} is not a defined entity")
            for sf in entity.scope_fields:
                if sf == "id" and entity.name == WAREHOUSE:
                    continue
                f = entity.fields.get(sf)
                if f is None or f.type != "link" or f.target != WAREHOUSE:
                    raise MetadataError(entity.source, "scope.field",
                                        f"{sf!r} must be a link field to {WAREHOUSE}")

    @staticmethod
    def _form(source: str, data: dict, entities: dict[str, EntityMeta]) -> FormMeta:
        doc = _load(schemas.FormSchema(), data, source)
        entity = entities.get(doc["form"])
        if entity is None:
            raise MetadataError(source, "form", f"{doc['form']!r} is not a defined entity")
        known = set(entity.fields) | {"id", "name", "created_at", "created_by",
                                      "updated_at", "updated_by"}

        def check(key: str, names: Iterable[str]) -> None:
            for n in names:
                if n not in known:
                    raise MetadataError(source, key, f"{n!r} is not a field of {entity.name}")

        check("list_columns", doc.get("list_columns", ()))
        check("search_columns", doc.get("search_columns", ()))
        check("read_only", doc.get("read_only", ()))
        check("show_if", doc.get("show_if", {}))
        if doc.get("order"):
            check("order", doc["order"][:1])
            if doc["order"][1] not in ("asc", "desc"):
                raise MetadataError(source, "order", "direction must be asc or desc")
        for i, sec in enumerate(doc.get("sections", ())):
            check(f"sections[{i}].fields", sec["fields"])
        return FormMeta(
            entity=doc["form"], source=source,
            list_columns=tuple(doc.get("list_columns", ())),
            search_columns=tuple(doc.get("search_columns", ())),
            order=tuple(doc["order"]) if doc.get("order") else None,
            sections=tuple(FormSection(s["label"], tuple(s["fields"]))
                           for s in doc.get("sections", ())),
            read_only=tuple(doc.get("read_only", ())),
            show_if=dict(doc.get("show_if", {})),
        )

    @staticmethod
    def _roles(source: str, data: dict, entities: dict[str, EntityMeta]) -> dict[str, RoleMeta]:
        doc = _load(schemas.RolesFileSchema(), data, source)
        roles = {}
        for name, spec in doc["roles"].items():
            for entity_name in spec.get("permissions", {}):
                if entity_name not in entities and entity_name not in ENGINE_TARGETS:
                    raise MetadataError(source, f"roles.{name}.permissions.{entity_name}",
                                        f"{entity_name!r} is not a defined entity")
            roles[name] = RoleMeta(
                name=name, label=spec["label"], scope=spec.get("scope", "warehouses"),
                permissions={e: frozenset(p) for e, p in spec.get("permissions", {}).items()},
            )
        return roles
