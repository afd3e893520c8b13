"""Read shipped metadata files plus stored customizations into one ``Metadata``.

Every problem is reported as ``MetadataError`` naming the file, the key and what
is wrong, and stops start-up: a half-understood configuration must never serve.
"""
from __future__ import annotations

import copy
from dataclasses import replace
import hashlib
import json
from pathlib import Path
from typing import Iterable

from app.meta import schemas
from app.meta.files import MetadataError, load_document, read_yaml
from app.meta.model import (
    EntityMeta, FieldMeta, FormMeta, FormSection, Metadata, Policies, Regulated, RoleMeta, RuleMeta,
    Vocabulary,
)

WAREHOUSE = "Warehouse"
__all__ = ["MetadataError", "MetadataLoader", "deep_merge"]
# Permission targets that are engine pages, not entities.
ENGINE_TARGETS = {"AuditLog": "admin", "JobRun": "admin"}


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
        vocab_path = self.root / "metadata" / "vocabularies.yaml"
        vocab_text = vocab_path.read_text(encoding="utf-8") if vocab_path.exists() else ""
        fingerprint = hashlib.sha256(json.dumps(
            [raw_entities, raw_forms, raw_roles, raw_modules, vocab_text],
            sort_keys=True, default=str).encode()).hexdigest()[:16]

        vocabularies = self._vocabularies()
        entities = {name: self._entity(src, data)
                    for name, (src, data) in raw_entities.items()}
        entities = self._cross_check_entities(entities, vocabularies)
        forms = {name: self._form(src, data, entities) for name, (src, data) in raw_forms.items()}
        roles = self._roles(*raw_roles, entities)
        self._check_regulated_roles(entities, set(roles))
        modules = load_document(schemas.ModulesFileSchema(), raw_modules[1], raw_modules[0])["modules"]
        for entity in entities.values():
            if entity.module not in modules and modules:
                raise MetadataError(entity.source, "module",
                                    f"unknown module {entity.module!r}; known: {sorted(modules)}")
        return Metadata(entities=entities, forms=forms, roles=roles, modules=modules,
                        vocabularies=vocabularies, policies=self._policies(), fingerprint=fingerprint)

    def _policies(self) -> Policies:
        path = self.root / "metadata" / "policies.yaml"
        if not path.exists():
            return Policies()
        return Policies(**load_document(schemas.PoliciesFileSchema(), read_yaml(path) or {}, str(path)))

    def _vocabularies(self) -> dict[str, Vocabulary]:
        """Lists of values with one label each (stock statuses, allocation
        strategies, signature meanings, reasons), declared once."""
        path = self.root / "metadata" / "vocabularies.yaml"
        if not path.exists():
            return {}
        doc = load_document(schemas.VocabulariesFileSchema(), read_yaml(path) or {}, str(path))
        vocabularies = {name: Vocabulary(name=name, label=spec["label"], values=dict(spec["values"]),
                                         core=tuple(spec.get("core", ())))
                        for name, spec in doc["vocabularies"].items()}
        problems = [(f"vocabularies.{v.name}.core", f"core value {c!r} is not among the values")
                    for v in vocabularies.values() for c in v.core if c not in v.values]
        if problems:
            raise MetadataError(str(path), problems=problems)
        return vocabularies

    def _entity(self, source: str, data: dict) -> EntityMeta:
        doc = load_document(schemas.EntitySchema(), data, source)
        problems: list[tuple[str, str]] = []
        fields = {}
        for name, spec in doc["fields"].items():
            if "label" not in spec:
                problems.append((f"fields.{name}.label", "missing label (give both en and zh)"))
                continue
            options = spec.get("options", ())
            fields[name] = FieldMeta(
                name=name, type=spec["type"], label=spec["label"], target=spec.get("target"),
                options=tuple(options), required=spec.get("required", False),
                unique=spec.get("unique", False), index=spec.get("index", False),
                length=spec.get("length"), scale=spec.get("scale", 4),
                default=spec.get("default"), read_only=spec.get("read_only", False),
                core=spec.get("core", False), vocabulary=spec.get("vocabulary"),
                regulated=Regulated(frozenset(spec["regulated"]["roles"]),
                                    spec["regulated"].get("signature")) if spec.get("regulated") else None,
                option_labels=dict(options) if isinstance(options, dict) else {},
                filter=dict(spec.get("filter") or {}), lookup=spec.get("lookup"),
            )
        scope = doc.get("scope") or {}
        scope_fields = tuple(scope.get("fields") or ([scope["field"]] if scope.get("field") else []))
        entity = EntityMeta(
            name=doc["entity"], label=doc["label"], fields=fields, source=source,
            module=doc.get("module", "other"), naming=doc.get("naming"), title=doc.get("title"),
            table_of=doc.get("table_of"), core=doc.get("core", False), audit=doc.get("audit", True),
            editable=doc.get("editable", True),
            rules=tuple(RuleMeta(r["expr"], r["message"]) for r in doc.get("rules", ())),
            scope_fields=scope_fields, scope_by_stock=bool(scope.get("stock")),
            unique_together=tuple(tuple(u) for u in doc.get("unique_together", ())),
        )
        for i, group in enumerate(entity.unique_together):
            for fname in group:
                if fname not in fields:
                    problems.append((f"unique_together[{i}]", f"{fname!r} is not a field of {entity.name}"))
        if entity.title and entity.title not in fields and entity.title != "name":
            problems.append(("title", f"{entity.title!r} is not a field of {entity.name}"))
        if problems:
            raise MetadataError(source, problems=problems)
        return entity

    @staticmethod
    def _cross_check_entities(entities: dict[str, EntityMeta], vocabularies: dict) -> dict[str, EntityMeta]:
        """Links, tables and scope between entities; enum fields that name a
        vocabulary get its values. Returns the entities with those filled in."""
        out = {}
        for entity in entities.values():
            problems: list[tuple[str, str]] = []
            fields = dict(entity.fields)
            for f in entity.fields.values():
                if f.type in ("link", "table") and f.target not in entities:
                    problems.append((f"fields.{f.name}.target",
                                     f"links to {f.target!r}, which is not a defined entity"))
                elif f.type == "table" and entities[f.target].table_of != entity.name:
                    problems.append((f"fields.{f.name}.target",
                                     f"{f.target} must declare 'table_of: {entity.name}'"))
                if f.filter and f.target in entities:
                    problems.extend(_filter_problems(f, entities[f.target], entities, vocabularies))
                if f.vocabulary:
                    vocab = vocabularies.get(f.vocabulary)
                    if vocab is None:
                        problems.append((f"fields.{f.name}.vocabulary",
                                         f"unknown vocabulary {f.vocabulary!r}; known: "
                                         f"{', '.join(sorted(vocabularies))}"))
                    else:
                        fields[f.name] = replace(f, options=tuple(vocab.values),
                                                 option_labels=dict(vocab.values))
            if entity.table_of and entity.table_of not in entities:
                problems.append(("table_of", f"{entity.table_of!r} is not a defined entity"))
            for sf in entity.scope_fields:
                if sf == "id" and entity.name == WAREHOUSE:
                    continue
                f = entity.fields.get(sf)
                if f is None or f.type != "link" or f.target != WAREHOUSE:
                    problems.append(("scope.field", f"{sf!r} must be a link field to {WAREHOUSE}"))
            if problems:
                raise MetadataError(entity.source, problems=problems)
            out[entity.name] = replace(entity, fields=fields)
        return out

    @staticmethod
    def _form(source: str, data: dict, entities: dict[str, EntityMeta]) -> FormMeta:
        doc = load_document(schemas.FormSchema(), data, source)
        entity = entities.get(doc["form"])
        if entity is None:
            raise MetadataError(source, "form", f"{doc['form']!r} is not a defined entity")
        known = set(entity.fields) | {"id", "name", "created_at", "created_by",
                                      "updated_at", "updated_by"}

        problems: list[tuple[str, str]] = []

        def check(key: str, names: Iterable[str]) -> None:
            problems.extend((key, f"{n!r} is not a field of {entity.name}")
                            for n in names if n not in known)

        check("list_columns", doc.get("list_columns", ()))
        check("search_columns", doc.get("search_columns", ()))
        check("read_only", doc.get("read_only", ()))
        check("show_if", doc.get("show_if", {}))
        if doc.get("order"):
            check("order", doc["order"][:1])
            if doc["order"][1] not in ("asc", "desc"):
                problems.append(("order", "direction must be asc or desc"))
        for i, sec in enumerate(doc.get("sections", ())):
            check(f"sections[{i}].fields", sec["fields"])
        if problems:
            raise MetadataError(source, problems=problems)
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
    def _check_regulated_roles(entities: dict[str, EntityMeta], roles: set[str]) -> None:
        for entity in entities.values():
            problems = [(f"fields.{f.name}.regulated.roles", f"unknown role {r!r}; known roles: "
                                                              f"{', '.join(sorted(roles | {'admin'}))}")
                        for f in entity.regulated() for r in sorted(f.regulated.roles)
                        if r not in roles and r != "admin"]
            if problems:
                raise MetadataError(entity.source, problems=problems)

    @staticmethod
    def _roles(source: str, data: dict, entities: dict[str, EntityMeta]) -> dict[str, RoleMeta]:
        doc = load_document(schemas.RolesFileSchema(), data, source)
        roles = {}
        problems = [(f"roles.{name}.permissions.{entity_name}", f"{entity_name!r} is not a defined entity")
                    for name, spec in doc["roles"].items()
                    for entity_name in spec.get("permissions", {})
                    if entity_name not in entities and entity_name not in ENGINE_TARGETS]
        if problems:
            raise MetadataError(source, problems=problems)
        for name, spec in doc["roles"].items():
            roles[name] = RoleMeta(
                name=name, label=spec["label"], scope=spec.get("scope", "warehouses"),
                permissions={e: frozenset(p) for e, p in spec.get("permissions", {}).items()},
            )
        return roles


def _filter_problems(f: FieldMeta, target: EntityMeta, entities: dict[str, EntityMeta],
                     vocabularies: dict) -> list[tuple[str, str]]:
    """A link's filter names fields of its target, with values they can hold."""
    problems = []
    for key, value in f.filter.items():
        where = f"fields.{f.name}.filter.{key}"
        tf = target.fields.get(key)
        if tf is None or tf.type in ("table", "link", "json"):
            known = ", ".join(n for n, x in target.fields.items() if x.type not in ("table", "link", "json"))
            problems.append((where, f"{key!r} is not a field of {target.name} a filter can use "
                                    f"(known: {known})"))
            continue
        options = (tuple(vocabularies[tf.vocabulary].values) if tf.vocabulary in vocabularies
                   else tf.options)
        for v in value if isinstance(value, list) else [value]:
            if tf.type == "enum" and v not in options:
                problems.append((where, f"{v!r} is not one of {target.name}.{key}'s options "
                                        f"({', '.join(options)})"))
            elif tf.type == "bool" and not isinstance(v, bool):
                problems.append((where, f"{v!r} is not true or false"))
    return problems
