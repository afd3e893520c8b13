"""Workflow files (``workflows/*.yaml``): read, validated and built into
``app.domain.workflow.Workflow``, in the same style as every other metadata
file (``app.meta.files``): every problem of a file at once, naming the file,
the key and what is wrong.

Besides states and transitions a workflow may declare:

- ``approvals``: the approval chain as ordered levels. Each level is a state where
  the document waits, the roles that approve there, and optionally a condition
  (``when``), a signature meaning and comment rules. Approving at a level moves the
  document to the next level whose condition holds, else to ``approved``; rejecting
  moves it to ``rejected`` (a comment is required). A transition into the first
  level's state enters the chain at the first level whose condition holds. Adding a
  level is one entry.
- ``steps``: work done within a state without moving it (pick, receive items), with
  the same role, permission and scope checks as transitions.
- ``scope_field``: the warehouse field whose scope a user needs to act (default: the
  entity's owning warehouse); a transition or step may name another (``scope``).
- ``effects`` on a transition: named effects run in the transaction before the state
  changes (posting stock), from the document effects registry.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.domain.expressions import ExpressionError, compile_expression
from app.domain.workflow import (
    PERMISSIONS, SIGNATURE_MEANINGS, TASK_MODES, State, Step, Task, Transition, Workflow,
)
from app.meta.files import IDENTIFIER, Label, MetadataError, read_yaml, schema_problems
from app.meta.model import EntityMeta

DEFAULT_LABELS = {
    "approve": {"en": "Approve", "zh": "批准"},
    "reject": {"en": "Reject", "zh": "驳回"},
}


class WorkflowDefinitionError(MetadataError):
    """A workflow file is invalid. ``problems`` holds every (key, problem) found."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        super().__init__(source, problems=problems)


# ─── file format ─────────────────────────────────────────────────────────────────────

class _StateNames(fields.Field):
    """A state, or a list of states."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ValidationError("must be a state or a non-empty list of states")
        return tuple(names)


_NAME_RULE = validate.Regexp(IDENTIFIER, error="must be lower_snake_case (a-z, 0-9, _)")
_NOT_EMPTY = validate.Length(min=1, error="must not be empty")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _TaskSchema(_Strict):
    task = fields.String(required=True, validate=_NAME_RULE)
    mode = fields.String(load_default="inline", validate=validate.OneOf(TASK_MODES))


class _StateSchema(_Strict):
    label = Label(required=True)
    on_enter = fields.List(fields.Nested(_TaskSchema), load_default=list)
    final = fields.Boolean(load_default=False)


class _TransitionSchema(_Strict):
    action = fields.String(required=True, validate=_NAME_RULE)
    from_states = _StateNames(required=True, data_key="from")
    to = fields.String(required=True)
    roles = fields.List(fields.String(), required=True, validate=_NOT_EMPTY)
    when = fields.String(load_default=None)
    message = Label(load_default=None)
    approval = fields.Boolean(load_default=False)
    allow_self_approval = fields.Boolean(load_default=None)
    require_comment = fields.Boolean(load_default=False)
    signature = fields.Boolean(load_default=False)
    meaning = fields.String(load_default=None, validate=validate.OneOf(SIGNATURE_MEANINGS))
    label = Label(load_default=None)
    scope = fields.String(load_default=None, validate=_NAME_RULE)
    permission = fields.String(load_default=None, validate=validate.OneOf(PERMISSIONS))
    effects = fields.List(fields.String(validate=_NAME_RULE), load_default=list)


class _LevelSchema(_Strict):
    state = fields.String(required=True, validate=_NAME_RULE)
    roles = fields.List(fields.String(), required=True, validate=_NOT_EMPTY)
    when = fields.String(load_default=None)
    signature = fields.String(load_default=None, validate=validate.OneOf(SIGNATURE_MEANINGS))
    require_comment = fields.Boolean(load_default=False)
    allow_self_approval = fields.Boolean(load_default=False)
    scope = fields.String(load_default=None, validate=_NAME_RULE)


class _ApprovalsSchema(_Strict):
    levels = fields.List(fields.Nested(_LevelSchema), required=True, validate=_NOT_EMPTY)
    approved = fields.String(required=True)
    rejected = fields.String(required=True)
    labels = fields.Dict(keys=fields.String(validate=validate.OneOf(["approve", "reject"])),
                         values=Label(), load_default=dict)


class _StepSchema(_Strict):
    step = fields.String(required=True, validate=_NAME_RULE)
    in_states = _StateNames(required=True, data_key="in")
    roles = fields.List(fields.String(), required=True, validate=_NOT_EMPTY)
    label = Label(required=True)
    scope = fields.String(load_default=None, validate=_NAME_RULE)
    permission = fields.String(load_default="write", validate=validate.OneOf(PERMISSIONS))


class _WorkflowSchema(_Strict):
    workflow = fields.String(required=True, validate=_NAME_RULE)
    entity = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Z][A-Za-z0-9]*$", error="must be an entity name in CamelCase"))
    label = Label(required=True)
    state_field = fields.String(load_default="state", validate=_NAME_RULE)
    scope_field = fields.String(load_default=None, validate=_NAME_RULE)
    initial = fields.String(required=True)
    states = fields.Dict(keys=fields.String(validate=_NAME_RULE),
                         values=fields.Nested(_StateSchema), required=True, validate=_NOT_EMPTY)
    approvals = fields.Nested(_ApprovalsSchema, load_default=None)
    transitions = fields.List(fields.Nested(_TransitionSchema), load_default=list)
    steps = fields.List(fields.Nested(_StepSchema), load_default=list)


# ─── meaning ─────────────────────────────────────────────────────────────────────────

def _semantic_problems(doc: dict, raw: dict, known_roles: set[str],
                       known_tasks: set[str] | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    states: dict = doc["states"]
    declared = ", ".join(states)

    def unknown_state(name: str) -> str:
        return f"unknown state {name!r}; declared states: {declared}"

    def check_roles(at: str, roles: list[str]) -> None:
        for j, role in enumerate(roles):
            if role not in known_roles:
                problems.append((f"{at}.roles[{j}]", f"unknown role {role!r}; known roles: "
                                                     f"{', '.join(sorted(known_roles))}"))

    def check_cel(at: str, expr: str | None) -> None:
        if expr is not None:
            try:
                compile_expression(expr)
            except ExpressionError as exc:
                problems.append((f"{at}.when", str(exc)))

    def check_task(at: str, name: str) -> None:
        if known_tasks is not None and name not in known_tasks:
            problems.append((at, f"unknown task {name!r}; known tasks: "
                                 f"{', '.join(sorted(known_tasks))}"))

    if doc["initial"] not in states:
        problems.append(("initial", unknown_state(doc["initial"])))
    if not doc["transitions"] and not doc["approvals"]:
        problems.append(("transitions", "missing: declare transitions or approvals"))

    for name, state in states.items():
        for i, task in enumerate(state["on_enter"]):
            check_task(f"states.{name}.on_enter[{i}].task", task["task"])

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
        check_roles(at, t["roles"])
        check_cel(at, t["when"])
        if t["when"] is None and t["message"] is not None:
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
        for j, effect in enumerate(t["effects"]):
            check_task(f"{at}.effects[{j}]", effect)
        for k, earlier in enumerate(doc["transitions"][:i]):
            overlap = set(earlier["from_states"]) & set(t["from_states"])
            if (earlier["action"] == t["action"] and overlap
                    and (earlier["when"] is None or earlier["when"] == t["when"])):
                why = "has no condition" if earlier["when"] is None else "has the same condition"
                problems.append((at, f"never taken: transitions[{k}] ({t['action']} from "
                                     f"{', '.join(sorted(overlap))}) comes first and {why}"))
                break

    approvals = doc["approvals"]
    if approvals:
        seen: set[str] = set()
        for i, level in enumerate(approvals["levels"]):
            at = f"approvals.levels[{i}]"
            if level["state"] not in states:
                problems.append((f"{at}.state", unknown_state(level["state"])))
            elif states[level["state"]]["final"]:
                problems.append((f"{at}.state", f"{level['state']!r} is final: a document "
                                                "cannot wait for approval there"))
            if level["state"] in seen:
                problems.append((f"{at}.state", f"{level['state']!r} is already a level"))
            seen.add(level["state"])
            check_roles(at, level["roles"])
            check_cel(at, level["when"])
        for key in ("approved", "rejected"):
            if approvals[key] not in states:
                problems.append((f"approvals.{key}", unknown_state(approvals[key])))
            elif approvals[key] in seen:
                problems.append((f"approvals.{key}", f"{approvals[key]!r} is also a level"))

    for i, step in enumerate(doc["steps"]):
        at = f"steps[{i}]"
        for j, name in enumerate(step["in_states"]):
            if name not in states:
                problems.append((f"{at}.in" + (f"[{j}]" if len(step["in_states"]) > 1 else ""),
                                 unknown_state(name)))
        check_roles(at, step["roles"])
    names = [s["step"] for s in doc["steps"]]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append((f"steps[{i}].step", f"duplicate step {name!r}"))

    labelled = {t["action"] for t in doc["transitions"] if t["label"] is not None}
    if approvals:
        labelled |= {"approve", "reject"}
    for i, t in enumerate(doc["transitions"]):
        if t["action"] not in labelled:
            labelled.add(t["action"])   # report each action once
            problems.append((f"transitions[{i}].label",
                             f"missing: give the {t['action']!r} action a label {{en, zh}} "
                             "(once is enough; its other transitions share it)"))
    return problems


def _graph_problems(doc: dict, transitions: tuple[Transition, ...]) -> list[tuple[str, str]]:
    """Reachability and dead ends, over every transition (approval levels expanded)."""
    problems: list[tuple[str, str]] = []
    states: dict = doc["states"]
    if doc["initial"] in states:
        reached, queue = {doc["initial"]}, deque([doc["initial"]])
        while queue:
            current = queue.popleft()
            for t in transitions:
                if current in t.from_states and t.to in states and t.to not in reached:
                    reached.add(t.to)
                    queue.append(t.to)
        for name in states:
            if name not in reached:
                problems.append((f"states.{name}", "unreachable: no transition leads here "
                                                   f"from the initial state {doc['initial']!r}"))
    leaving = {s for t in transitions for s in t.from_states}
    for name, state in states.items():
        if not state["final"] and name not in leaving:
            problems.append((f"states.{name}", "dead end: no transition leaves this state; "
                                               "add one or mark it 'final: true'"))
    return problems


# ─── building ────────────────────────────────────────────────────────────────────────

def _both(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return f"({a}) && ({b})"


def _transitions(doc: dict) -> tuple[Transition, ...]:
    """The declared transitions, with the approval chain expanded into ordinary ones."""
    approvals = doc["approvals"]
    action_labels: dict[str, Mapping[str, str]] = {}
    if approvals:
        for action, default in DEFAULT_LABELS.items():
            action_labels[action] = MappingProxyType(dict(approvals["labels"].get(action, default)))
    for t in doc["transitions"]:
        if t["label"] is not None:
            action_labels.setdefault(t["action"], MappingProxyType(dict(t["label"])))

    def msg(value):
        return MappingProxyType(dict(value)) if value is not None else None

    # the chain's own transitions first: in a level's state, approve and reject come
    # before any other action (cancel), as they would be listed by hand
    out: list[Transition] = []
    levels = approvals["levels"] if approvals else []
    entry = levels[0]["state"] if levels else None

    def chain_from(i: int) -> list[tuple[str, str | None]]:
        """Where a document goes when levels[i:] are still ahead: each level with its
        condition, then the approved state."""
        return [(lv["state"], lv["when"]) for lv in levels[i:]] + [(approvals["approved"], None)]

    for i, level in enumerate(levels):
        common = dict(from_states=(level["state"],), roles=frozenset(level["roles"]),
                      scope=level["scope"], permission="approve", where=f"approvals.levels[{i}]")
        for to, when in chain_from(i + 1):
            out.append(Transition(
                index=len(out), action="approve", to=to, labels=action_labels["approve"], when=when,
                approval=True, allow_self_approval=level["allow_self_approval"],
                require_comment=level["require_comment"], signature=level["signature"] is not None,
                meaning=level["signature"], **common))
        out.append(Transition(index=len(out), action="reject", to=approvals["rejected"],
                              labels=action_labels["reject"], require_comment=True, **common))
    for i, t in enumerate(doc["transitions"]):
        targets = [(t["to"], None)]
        if entry is not None and t["to"] == entry and levels[0]["when"] is not None:
            targets = chain_from(0)   # entering the chain: the first level that applies
        for to, when in targets:
            out.append(Transition(
                index=len(out), action=t["action"], from_states=t["from_states"], to=to,
                roles=frozenset(t["roles"]), labels=action_labels[t["action"]],
                when=_both(t["when"], when), message=msg(t["message"]), approval=t["approval"],
                allow_self_approval=bool(t["allow_self_approval"]),
                require_comment=t["require_comment"], signature=t["signature"],
                meaning=t["meaning"], scope=t["scope"],
                permission=t["permission"] or ("approve" if t["approval"] else "write"),
                effects=tuple(t["effects"]), where=f"transitions[{i}]"))
    return tuple(out)


def _build(doc: dict, source: str, transitions: tuple[Transition, ...]) -> Workflow:
    states = {
        name: State(name=name, labels=MappingProxyType(dict(s["label"])), final=s["final"],
                    on_enter=tuple(Task(x["task"], x["mode"]) for x in s["on_enter"]))
        for name, s in doc["states"].items()
    }
    steps = {s["step"]: Step(name=s["step"], states=s["in_states"], roles=frozenset(s["roles"]),
                             labels=MappingProxyType(dict(s["label"])), scope=s["scope"],
                             permission=s["permission"])
             for s in doc["steps"]}
    approval_states = tuple(lv["state"] for lv in doc["approvals"]["levels"]) if doc["approvals"] else ()
    return Workflow(name=doc["workflow"], entity=doc["entity"],
                    labels=MappingProxyType(dict(doc["label"])),
                    initial=doc["initial"], states=MappingProxyType(states),
                    transitions=transitions, state_field=doc["state_field"], source=source,
                    scope_field=doc["scope_field"], steps=MappingProxyType(steps),
                    approval_states=approval_states)


# ─── public ──────────────────────────────────────────────────────────────────────────

def load_workflow(data: Any, *, source: str, known_roles: set[str],
                  known_tasks: set[str] | None = None) -> Workflow:
    """Validate a parsed workflow document and build the :class:`Workflow`.

    Raises :class:`WorkflowDefinitionError` listing every problem found. ``known_tasks``
    of None skips the task and effect check.
    """
    if not isinstance(data, Mapping):
        raise WorkflowDefinitionError(source, [("(file)", "expected a mapping at the top level")])
    schema = _WorkflowSchema()
    try:
        doc = schema.load(dict(data))
    except ValidationError as exc:
        raise WorkflowDefinitionError(source, schema_problems(schema, exc.messages)) from None
    problems = _semantic_problems(doc, dict(data), set(known_roles),
                                  None if known_tasks is None else set(known_tasks))
    if problems:
        raise WorkflowDefinitionError(source, problems)
    transitions = _transitions(doc)
    problems = _graph_problems(doc, transitions)
    if problems:
        raise WorkflowDefinitionError(source, problems)
    return _build(doc, source, transitions)


def load_workflow_file(path: str | Path, *, known_roles: set[str],
                       known_tasks: set[str] | None = None) -> Workflow:
    """Read and validate one workflow file; errors name ``path`` as given."""
    try:
        data = read_yaml(path)
    except MetadataError as exc:
        raise WorkflowDefinitionError(exc.source, exc.problems) from None
    return load_workflow(data, source=str(path), known_roles=known_roles, known_tasks=known_tasks)


def check_against_entity(wf: Workflow, entity: EntityMeta) -> None:
    """The fields a workflow names must exist on its entity: the state field, and
    the warehouse links its scope rules name."""
    problems = []
    if wf.state_field not in entity.fields:
        problems.append(("state_field", f"{wf.state_field!r} is not a field of {entity.name}"))

    def check_scope(key: str, name: str | None) -> None:
        if name is None:
            return
        f = entity.fields.get(name)
        if f is None or f.type != "link" or f.target != "Warehouse":
            problems.append((key, f"{name!r} must be a link field of {entity.name} to Warehouse"))

    check_scope("scope_field", wf.scope_field)
    for t in wf.transitions:
        check_scope(f"{t.where}.scope", t.scope)
    for i, step in enumerate(wf.steps.values()):
        check_scope(f"steps[{i}].scope", step.scope)
    if wf.scope_field is None and not entity.scope_fields:
        pass  # an unscoped document: every user with the role may act
    if problems:
        raise WorkflowDefinitionError(wf.source, list(dict.fromkeys(problems)))


def load_workflows(folder: str | Path, *, known_roles: set[str],
                   known_tasks: set[str] | None = None,
                   entities: Mapping[str, EntityMeta] | None = None) -> dict[str, Workflow]:
    """Every ``*.yaml`` / ``*.yml`` in ``folder``, keyed by entity (one workflow per
    entity); with ``entities``, each is checked against its entity."""
    workflows: dict[str, Workflow] = {}
    folder = Path(folder)
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for path in paths:
        wf = load_workflow_file(path, known_roles=known_roles, known_tasks=known_tasks)
        if wf.entity in workflows:
            raise WorkflowDefinitionError(str(path), [(
                "entity", f"{wf.entity} already has a workflow in "
                          f"{workflows[wf.entity].source}; one workflow per entity")])
        if entities is not None:
            if wf.entity not in entities:
                raise WorkflowDefinitionError(str(path), [("entity", f"{wf.entity!r} is not a defined entity")])
            check_against_entity(wf, entities[wf.entity])
        workflows[wf.entity] = wf
    return workflows
