"""Workflow files (``workflows/*.yaml``): read, validated and built into
``app.domain.workflow.Workflow``. Every problem in a file is reported at once,
naming the file, the key and what is wrong."""
from __future__ import annotations

from collections import deque
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.domain.expressions import ExpressionError, compile_expression
from app.domain.workflow import (
    LANGUAGES, NAME, SIGNATURE_MEANINGS, TASK_MODES, State, Task, Transition, Workflow,
    WorkflowDefinitionError,
)


# ─── loading: file format ──────────────────────────────────────────────────────────────

class _Label(fields.Field):
    """``{en: ..., zh: ...}``; other languages may be added."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, Mapping):
            raise ValidationError("must be a mapping {en: ..., zh: ...}")
        missing = [lang for lang in LANGUAGES
                   if not isinstance(value.get(lang), str) or not value[lang].strip()]
        if missing:
            raise ValidationError(f"missing {' and '.join(missing)} text")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValidationError("every language's text must be a string")
        return MappingProxyType(dict(value))


class _StateNames(fields.Field):
    """A state, or a list of states."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValidationError("must be a state or a non-empty list of states")
        return tuple(names)


_NAME_RULE = validate.Regexp(NAME, error="must be lower_snake_case (a-z, 0-9, _)")
_NOT_EMPTY = validate.Length(min=1, error="must not be empty")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _TaskSchema(_Strict):
    task = fields.String(required=True, validate=_NAME_RULE)
    mode = fields.String(load_default="inline", validate=validate.OneOf(TASK_MODES))


class _StateSchema(_Strict):
    label = _Label(required=True)
    on_enter = fields.List(fields.Nested(_TaskSchema), load_default=list)
    final = fields.Boolean(load_default=False)


class _TransitionSchema(_Strict):
    action = fields.String(required=True, validate=_NAME_RULE)
    from_states = _StateNames(required=True, data_key="from")
    to = fields.String(required=True)
    roles = fields.List(fields.String(), required=True, validate=_NOT_EMPTY)
    when = fields.String(load_default=None)
    message = _Label(load_default=None)
    approval = fields.Boolean(load_default=False)
    allow_self_approval = fields.Boolean(load_default=None)
    require_comment = fields.Boolean(load_default=False)
    signature = fields.Boolean(load_default=False)
    meaning = fields.String(load_default=None, validate=validate.OneOf(SIGNATURE_MEANINGS))
    label = _Label(load_default=None)


class _WorkflowSchema(_Strict):
    workflow = fields.String(required=True, validate=_NAME_RULE)
    entity = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z][A-Za-z0-9]*$", error="must be an entity name in CamelCase"))
    label = _Label(required=True)
    state_field = fields.String(load_default="state", validate=_NAME_RULE)
    initial = fields.String(required=True)
    states = fields.Dict(keys=fields.String(validate=_NAME_RULE),
                         values=fields.Nested(_StateSchema), required=True, validate=_NOT_EMPTY)
    transitions = fields.List(fields.Nested(_TransitionSchema), required=True,
                              validate=_NOT_EMPTY)


def _key(path: Iterable[Any]) -> str:
    """('transitions', 3, 'to') -> 'transitions[3].to'"""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


_ALLOWED_KEYS = {
    "": _WorkflowSchema, "states.*": _StateSchema,
    "transitions[]": _TransitionSchema, "states.*.on_enter[]": _TaskSchema,
}


def _schema_problems(messages: Any, path: tuple = ()) -> list[tuple[str, str]]:
    """Flatten marshmallow's nested errors into (key, problem) with readable wording."""
    if isinstance(messages, list):
        return [_reword(path, str(m)) for m in messages]
    problems = []
    for part, sub in messages.items():
        if part == "_schema":
            problems += _schema_problems(sub, path)
        elif part == "value" and len(path) == 2 and path[0] == "states":
            problems += _schema_problems(sub, path)   # Dict field: {name: {"value": {...}}}
        elif part == "key" and len(path) == 2 and path[0] == "states":
            problems += [(_key(path), f"state name {m[0].lower() + m[1:]}") for m in sub]
        else:
            problems += _schema_problems(sub, path + (part,))
    return problems


def _reword(path: tuple, message: str) -> tuple[str, str]:
    if message == "Missing data for required field.":
        return _key(path), "missing (required)"
    if message == "Unknown field.":
        # which schema holds the bad key: "", "states.*", "transitions[]", ...
        shape = ""
        for i, part in enumerate(path[:-1]):
            part = "*" if (i == 1 and path[0] == "states") else part
            shape += "[]" if isinstance(part, int) else (f".{part}" if shape else part)
        schema = _ALLOWED_KEYS.get(shape)
        allowed = sorted(f.data_key or n for n, f in schema().fields.items()) if schema else []
        return _key(path), "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    return _key(path), message[:1].lower() + message[1:]


# ─── loading: meaning ──────────────────────────────────────────────────────────────────

def _semantic_problems(doc: dict, raw: dict, known_roles: set[str],
                       known_tasks: set[str] | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    states: dict = doc["states"]
    declared = ", ".join(states)

    def unknown_state(name: str) -> str:
        return f"unknown state {name!r}; declared states: {declared}"

    if doc["initial"] not in states:
        problems.append(("initial", unknown_state(doc["initial"])))

    for name, state in states.items():
        for i, task in enumerate(state["on_enter"]):
            if known_tasks is not None and task["task"] not in known_tasks:
                problems.append((f"states.{name}.on_enter[{i}].task",
                                 f"unknown task {task['task']!r}; known tasks: "
                                 f"{', '.join(sorted(known_tasks))}"))

    for i, t in enumerate(doc["transitions"]):
        at = f"transitions[{i}]"
        from_is_list = isinstance(raw["transitions"][i].get("from"), list)
        for j, source in enumerate(t["from_states"]):
            key = f"{at}.from[{j}]" if from_is_list else f"{at}.from"
            if source not in states:
                problems.append((key, unknown_state(source)))
            elif states[source]["final"]:
                problems.append((key, f"{source!r} is final: no transition may leave it"))
        if t["to"] not in states:
            problems.append((f"{at}.to", unknown_state(t["to"])))
        for j, role in enumerate(t["roles"]):
            if role not in known_roles:
                problems.append((f"{at}.roles[{j}]", f"unknown role {role!r}; known roles: "
                                                     f"{', '.join(sorted(known_roles))}"))
        if t["when"] is not None:
            try:
                compile_expression(t["when"])
            except ExpressionError as exc:
                problems.append((f"{at}.when", str(exc)))
        elif t["message"] is not None:
            problems.append((f"{at}.message", "a message explains a failed condition; "
                                              "this transition has no 'when'"))
        if t["signature"] and t["meaning"] is None:
            problems.append((f"{at}.meaning", "missing: a signature must state its meaning, "
                                              f"one of {', '.join(SIGNATURE_MEANINGS)}"))
        if t["meaning"] is not None and not t["signature"]:
            problems.append((f"{at}.meaning", "a meaning is only recorded with "
                                              "'signature: true'"))
        if t["allow_self_approval"] is not None and not t["approval"]:
            problems.append((f"{at}.allow_self_approval", "only applies to approvals; "
                                                          "add 'approval: true' or remove it"))
        for k, earlier in enumerate(doc["transitions"][:i]):
            overlap = set(earlier["from_states"]) & set(t["from_states"])
            if (earlier["action"] == t["action"] and overlap
                    and (earlier["when"] is None or earlier["when"] == t["when"])):
                why = "has no condition" if earlier["when"] is None else "has the same condition"
                problems.append((at, f"never taken: transitions[{k}] ({t['action']} from "
                                     f"{', '.join(sorted(overlap))}) comes first and {why}"))
                break

    labelled = {t["action"] for t in doc["transitions"] if t["label"] is not None}
    for i, t in enumerate(doc["transitions"]):
        if t["action"] not in labelled:
            labelled.add(t["action"])   # report each action once
            problems.append((f"transitions[{i}].label",
                             f"missing: give the {t['action']!r} action a label {{en, zh}} "
                             "(once is enough; its other transitions share it)"))

    if doc["initial"] in states:
        reached, queue = {doc["initial"]}, deque([doc["initial"]])
        while queue:
            current = queue.popleft()
            for t in doc["transitions"]:
                if current in t["from_states"] and t["to"] in states and t["to"] not in reached:
                    reached.add(t["to"])
                    queue.append(t["to"])
        for name in states:
            if name not in reached:
                problems.append((f"states.{name}", "unreachable: no transition leads here "
                                                   f"from the initial state {doc['initial']!r}"))

    leaving = {s for t in doc["transitions"] for s in t["from_states"]}
    for name, state in states.items():
        if not state["final"] and name not in leaving:
            problems.append((f"states.{name}", "dead end: no transition leaves this state; "
                                               "add one or mark it 'final: true'"))
    return problems


def _build(doc: dict, source: str) -> Workflow:
    action_labels: dict[str, Mapping[str, str]] = {}
    for t in doc["transitions"]:
        if t["label"] is not None:
            action_labels.setdefault(t["action"], t["label"])
    states = {
        name: State(name=name, labels=s["label"], final=s["final"],
                    on_enter=tuple(Task(x["task"], x["mode"]) for x in s["on_enter"]))
        for name, s in doc["states"].items()
    }
    transitions = tuple(
        Transition(
            index=i, action=t["action"], from_states=t["from_states"], to=t["to"],
            roles=frozenset(t["roles"]), labels=t["label"] or action_labels[t["action"]],
            when=t["when"], message=t["message"], approval=t["approval"],
            allow_self_approval=bool(t["allow_self_approval"]),
            require_comment=t["require_comment"], signature=t["signature"],
            meaning=t["meaning"],
        )
        for i, t in enumerate(doc["transitions"])
    )
    return Workflow(name=doc["workflow"], entity=doc["entity"], labels=doc["label"],
                    initial=doc["initial"], states=MappingProxyType(states),
                    transitions=transitions, state_field=doc["state_field"], source=source)


# ─── loading: public ───────────────────────────────────────────────────────────────────

def load_workflow(data: dict, *, source: str, known_roles: set[str],
                  known_tasks: set[str] | None = None) -> Workflow:
    """Validate a parsed workflow document and build the :class:`Workflow`.

    Raises :class:`WorkflowDefinitionError` listing every problem found. ``known_tasks``
    of None skips the task check.
    """
    if not isinstance(data, Mapping):
        raise WorkflowDefinitionError(source, [("(file)", "expected a mapping at the top level")])
    try:
        doc = _WorkflowSchema().load(dict(data))
    except ValidationError as exc:
        raise WorkflowDefinitionError(source, _schema_problems(exc.messages)) from None
    problems = _semantic_problems(doc, dict(data), set(known_roles),
                                  None if known_tasks is None else set(known_tasks))
    if problems:
        raise WorkflowDefinitionError(source, problems)
    return _build(doc, source)


def _duplicate_keys(node: yaml.Node, path: tuple = ()) -> list[tuple[str, str]]:
    """PyYAML keeps the last of two equal keys silently; find them in the node tree."""
    problems = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            line = key_node.start_mark.line + 1
            if key in seen:
                what = "state" if path == ("states",) else "key"
                problems.append((_key(path + (key,)),
                                 f"duplicate {what} {key!r} (lines {seen[key]} and {line})"))
            elif key is not None:
                seen[key] = line
            problems += _duplicate_keys(value_node, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, path + (i,))
    return problems


def load_workflow_file(path: str | Path, *, known_roles: set[str],
                       known_tasks: set[str] | None = None) -> Workflow:
    """Read and validate one workflow file; errors name ``path`` as given."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        duplicates = _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except OSError as exc:
        raise WorkflowDefinitionError(
            source, [("(file)", f"cannot be read: {exc.strerror}")]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise WorkflowDefinitionError(
            source, [("(file)", f"not valid YAML{line}: {problem}")]) from None
    if duplicates:
        raise WorkflowDefinitionError(source, duplicates)
    return load_workflow(data, source=source, known_roles=known_roles, known_tasks=known_tasks)


def load_workflows(folder: str | Path, *, known_roles: set[str],
                   known_tasks: set[str] | None = None) -> dict[str, Workflow]:
    """Every ``*.yaml`` / ``*.yml`` in ``folder``, keyed by entity (one workflow per entity)."""
    workflows: dict[str, Workflow] = {}
    folder = Path(folder)
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for path in paths:
        wf = load_workflow_file(path, known_roles=known_roles, known_tasks=known_tasks)
        if wf.entity in workflows:
            raise WorkflowDefinitionError(str(path), [(
                "entity", f"{wf.entity} already has a workflow in "
                          f"{workflows[wf.entity].source}; one workflow per entity")])
        workflows[wf.entity] = wf
    return workflows


