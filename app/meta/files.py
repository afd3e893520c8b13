"""How every kind of metadata file is read and its problems reported.

One style for entities, forms, roles, vocabularies and workflows alike: YAML
read strictly (a key given twice is an error, with both lines), shape checked
by a marshmallow schema, meaning checked by the loader, and every problem of a
file reported at once as ``MetadataError`` naming the file, the key and what
is wrong.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml
from marshmallow import Schema, ValidationError, fields

LANGUAGES = ("en", "zh")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class MetadataError(ValueError):
    """A metadata file is invalid. ``problems`` holds every (key, problem) found;
    ``key`` and ``problem`` are the first of them."""

    def __init__(self, source: str, key: str | None = None, problem: str | None = None, *,
                 problems: Iterable[tuple[str, str]] | None = None):
        self.source = source
        self.problems = list(problems) if problems is not None else [(key or "(file)", problem or "")]
        self.key, self.problem = self.problems[0]
        if len(self.problems) == 1:
            message = f"{source}: {self.key}: {self.problem}"
        else:
            lines = "".join(f"\n  {k}: {p}" for k, p in self.problems)
            message = f"{source}: {len(self.problems)} problems:{lines}"
        super().__init__(message)


class Label(fields.Field):
    """A user-facing text in every language: ``{en: ..., zh: ...}`` (others may be added)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise ValidationError("must be a mapping {en: ..., zh: ...}")
        missing = [lang for lang in LANGUAGES
                   if not isinstance(value.get(lang), str) or not value[lang].strip()]
        if missing:
            raise ValidationError(f"missing {' and '.join(missing)} text")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValidationError("every language's text must be a string")
        return dict(value)


# ─── reading ─────────────────────────────────────────────────────────────────────────

def key_path(path: Iterable[Any]) -> str:
    """('transitions', 3, 'to') -> 'transitions[3].to'"""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _duplicate_keys(node: yaml.Node, path: tuple = ()) -> list[tuple[str, str]]:
    """PyYAML keeps the last of two equal keys silently; find them in the node tree."""
    problems = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key in seen:
                what = "state" if path == ("states",) else "field" if path == ("fields",) else "key"
                problems.append((key_path(path + (key,)),
                                 f"duplicate {what} {key!r} (lines {seen[key]} and {line})"))
            elif key is not None:
                seen[key] = line
            problems += _duplicate_keys(value_node, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, path + (i,))
    return problems


def read_yaml(path: str | Path) -> Any:
    """Parse one file; a YAML error or a key given twice is a MetadataError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        duplicates = _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except OSError as exc:
        raise MetadataError(source, "(file)", f"cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MetadataError(source, "(file)", f"not valid YAML{line}: {problem}") from None
    if duplicates:
        raise MetadataError(source, problems=duplicates)
    return data


# ─── shape ───────────────────────────────────────────────────────────────────────────

def schema_problems(schema: Schema, messages: Any, path: tuple = ()) -> list[tuple[str, str]]:
    """Flatten marshmallow's nested errors into (key, problem) with readable wording;
    an unknown key lists the keys allowed where it stands."""
    if isinstance(messages, list):
        return [_reword(schema, path, str(m)) for m in messages]
    problems = []
    for part, sub in messages.items():
        if part == "_schema":
            problems += schema_problems(schema, sub, path)
        elif part == "value" and path and not isinstance(path[-1], int):
            problems += schema_problems(schema, sub, path)  # a Dict field: {name: {"value": ...}}
        elif part == "key" and path:
            what = {"states": "state ", "fields": "field ", "roles": "role ",
                    "vocabularies": "vocabulary "}.get(str(path[0]), "")
            problems += [(key_path(path), f"{what}name {m[0].lower() + m[1:]}") for m in sub]
        else:
            problems += schema_problems(schema, sub, path + (part,))
    return problems


def _reword(schema: Schema, path: tuple, message: str) -> tuple[str, str]:
    if message == "Missing data for required field.":
        return key_path(path), "missing (required)"
    if message == "Unknown field.":
        allowed = _allowed_keys(schema, path[:-1])
        return key_path(path), "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    return key_path(path), message[:1].lower() + message[1:]


def _allowed_keys(schema: Schema, path: tuple) -> list[str]:
    """The keys the (nested) schema at ``path`` accepts."""
    current: Any = schema
    for part in path:
        if isinstance(part, int):
            continue
        if isinstance(current, Schema):
            field = current.fields.get(part) or next(
                (f for f in current.fields.values() if f.data_key == part), None)
        else:
            field = None
        if field is None:
            # a Dict field's key (an entity, a state name): step into its values
            continue
        current = _inner_schema(field)
        if current is None:
            return []
    if not isinstance(current, Schema):
        return []
    return sorted(f.data_key or n for n, f in current.fields.items())


def _inner_schema(field: fields.Field) -> Any:
    while True:
        if isinstance(field, fields.Nested):
            return field.schema
        if isinstance(field, fields.List):
            field = field.inner
        elif isinstance(field, fields.Dict) and field.value_field is not None:
            field = field.value_field
        else:
            return None


def load_document(schema: Schema, data: Any, source: str) -> dict:
    """Check ``data`` against ``schema``; every shape problem at once."""
    if not isinstance(data, Mapping):
        raise MetadataError(source, "(file)", "expected a mapping at the top level")
    try:
        return schema.load(dict(data))
    except ValidationError as exc:
        raise MetadataError(source, problems=schema_problems(schema, exc.messages)) from None
