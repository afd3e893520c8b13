"""Workflows: the states of a document and the transitions that move it, as data.

A workflow is declared in ``workflows/*.yaml`` (see ``workflows/transfer_approval.yaml``)
and loaded with :func:`load_workflow_file`; every problem in the file is reported at once,
naming the file, the key and what is wrong. At run time a :class:`Workflow` answers two
questions, and never touches a database:

- :meth:`Workflow.available_actions`: which actions may this user take now? (the buttons)
- :meth:`Workflow.resolve`: the user asks for this action; which transition is it, or
  which named error says why not?

Rules, in the order :meth:`Workflow.resolve` applies them:

1. The action must leave the current state, else :class:`InvalidTransition` (409).
2. The user must hold one of the roles of at least one of those transitions, else
   :class:`TransitionNotAllowed` (403). Roles are matched exactly: ``admin`` is not
   implied anywhere; a workflow lists it where admin may act. Explicit is better.
3. Transitions that share an action and a from-state are tried in file order; the first
   whose ``when`` holds is taken (no ``when`` always holds). None holds:
   :class:`TransitionConditionFailed` (422). The route is chosen *before* the user's role
   is checked, so a user cannot pick a lighter branch by lacking the role of a heavier one.
4. The user must hold a role of the chosen transition, and, for ``approval: true``
   transitions without ``allow_self_approval``, must not be the document's creator
   (``context["owner"]``), else :class:`TransitionNotAllowed` (403).
5. ``require_comment``: a non-blank comment, else :class:`CommentRequired` (422).
6. ``signature``: the caller has re-checked the user's password, else
   :class:`SignatureRequired` (422).

``context`` is built by the caller: the document's fields, ``lines`` (a list of dicts),
``owner`` (the creator's user id; ``None`` for documents made by the system) and whatever
else the workflow's conditions read. Conditions are CEL (see ``expressions``), never eval.
A condition that cannot be evaluated against the context is a wiring bug, reported as
:class:`WorkflowContextError`.

Persisting the new state, the history of transitions and signatures, and running the
``on_enter`` tasks belong to the service that calls :meth:`Workflow.resolve`.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .errors import Conflict, DomainError, Forbidden, ValidationFailed
from .expressions import ExpressionError, compile_expression, evaluate_bool

LANGUAGES = ("en", "zh")
SIGNATURE_MEANINGS = ("approval", "review", "responsibility")
TASK_MODES = ("inline", "job")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# ─── errors ────────────────────────────────────────────────────────────────────────────

class WorkflowDefinitionError(ValueError):
    """A workflow file is invalid. ``problems`` holds every (key, problem) found."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = list(problems)
        if len(self.problems) == 1:
            key, problem = self.problems[0]
            message = f"{source}: {key}: {problem}"
        else:
            lines = "".join(f"\n  {key}: {problem}" for key, problem in self.problems)
            message = f"{source}: {len(self.problems)} problems:{lines}"
        super().__init__(message)


class TransitionNotAllowed(Forbidden):
    """The user's roles do not allow the transition, or it would be a self-approval."""


class InvalidTransition(Conflict):
    """The action does not leave the document's current state."""


class TransitionConditionFailed(ValidationFailed):
    """The action exists here, but none of its conditions holds for this document."""


class CommentRequired(ValidationFailed):
    """The transition needs a comment (a reason) and none was given."""


class SignatureRequired(ValidationFailed):
    """The transition needs an electronic signature (password re-entered)."""


class WorkflowContextError(DomainError):
    """The caller's context cannot answer a condition: a programming error, not the user's."""

    status = 500


# ─── the model ─────────────────────────────────────────────────────────────────────────

def _text(labels: Mapping[str, str], lang: str) -> str:
    return labels.get(lang) or labels["en"]


@dataclass(frozen=True)
class Actor:
    """The user taking an action. ``roles`` may be given as any iterable of names."""

    id: Any
    username: str
    roles: frozenset[str] = frozenset()

    def __post_init__(self):
        object.__setattr__(self, "roles", frozenset(self.roles))


@dataclass(frozen=True)
class Task:
    """Work to do on entering a state: ``inline`` in the transaction, or as a ``job``."""

    name: str
    mode: str = "inline"


@dataclass(frozen=True)
class State:
    name: str
    labels: Mapping[str, str] = field(hash=False, repr=False)
    on_enter: tuple[Task, ...] = ()
    final: bool = False

    def label(self, lang: str = "en") -> str:
        return _text(self.labels, lang)


@dataclass(frozen=True)
class Transition:
    """One declared edge. ``index`` is its position under ``transitions:`` in the file."""

    index: int
    action: str
    from_states: tuple[str, ...]
    to: str
    roles: frozenset[str]
    labels: Mapping[str, str] = field(hash=False, repr=False)
    when: str | None = None
    message: Mapping[str, str] | None = field(default=None, hash=False, repr=False)
    approval: bool = False
    allow_self_approval: bool = False
    require_comment: bool = False
    signature: bool = False
    meaning: str | None = None

    def label(self, lang: str = "en") -> str:
        return _text(self.labels, lang)

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Does this transition's condition hold? No condition always holds."""
        return self.when is None or evaluate_bool(self.when, context)


@dataclass(frozen=True)
class TransitionOption:
    """An action the user may take now: what a button needs to know."""

    action: str
    to: str
    labels: Mapping[str, str] = field(hash=False, repr=False)
    require_comment: bool = False
    signature: bool = False
    meaning: str | None = None

    @classmethod
    def of(cls, transition: Transition) -> TransitionOption:
        return cls(transition.action, transition.to, transition.labels,
                   transition.require_comment, transition.signature, transition.meaning)

    def label(self, lang: str = "en") -> str:
        return _text(self.labels, lang)

    def as_dict(self, lang: str = "en") -> dict:
        return {"action": self.action, "to": self.to, "label": self.label(lang),
                "require_comment": self.require_comment, "signature": self.signature,
                "meaning": self.meaning}


@dataclass(frozen=True, eq=False)
class Workflow:
    name: str
    entity: str
    labels: Mapping[str, str] = field(repr=False)
    initial: str
    states: Mapping[str, State] = field(repr=False)
    transitions: tuple[Transition, ...] = field(repr=False)
    state_field: str = "state"
    source: str = "<memory>"

    # -- describing ---------------------------------------------------------------------
    def label(self, lang: str = "en") -> str:
        return _text(self.labels, lang)

    def state(self, name: str) -> State:
        """The declared state ``name``; a document in an undeclared state is a conflict."""
        try:
            return self.states[name]
        except KeyError:
            raise InvalidTransition(
                f"The {self._noun} is in state {name!r}, which workflow {self.name!r} "
                f"does not declare (states: {', '.join(self.states)}).",
                {"state": name, "workflow": self.name},
            ) from None

    def state_label(self, name: str, lang: str = "en") -> str:
        return self.state(name).label(lang)

    def on_enter(self, name: str) -> tuple[Task, ...]:
        return self.state(name).on_enter

    def is_final(self, name: str) -> bool:
        return self.state(name).final

    def transitions_from(self, state: str) -> tuple[Transition, ...]:
        self.state(state)
        return tuple(t for t in self.transitions if state in t.from_states)

    def actions_from(self, state: str) -> list[str]:
        """Every action declared from ``state``, in file order, whoever may take it."""
        return list(dict.fromkeys(t.action for t in self.transitions_from(state)))

    # -- deciding -----------------------------------------------------------------------
    def available_actions(self, state: str, context: Mapping[str, Any],
                          user: Actor) -> list[TransitionOption]:
        """The actions ``user`` may take now, one per action, in file order.

        An action needing a comment or a signature is listed, with the flag set: the
        caller asks for them before calling :meth:`resolve`.
        """
        options = []
        for action in self.actions_from(state):
            candidates = self._candidates(state, action)
            if not any(t.roles & user.roles for t in candidates):
                continue
            transition = self._route(candidates, context)
            if transition is not None and self._refusal(transition, context, user) is None:
                options.append(TransitionOption.of(transition))
        return options

    def resolve(self, state: str, action: str, context: Mapping[str, Any], actor: Actor,
                comment: str | None = None, signature_given: bool = False) -> Transition:
        """The transition ``actor`` takes by asking for ``action``, or a named error.

        ``signature_given`` means the caller has just verified the user's password for
        this transition; record the signature with ``transition.meaning``.
        """
        current = self.state(state)
        candidates = self._candidates(state, action)
        if not candidates:
            possible = self.actions_from(state)
            where = f"{current.label()} ({state})"
            raise InvalidTransition(
                f"Cannot {action} the {self._noun}: it is {where}, where "
                + (f"the possible actions are: {', '.join(possible)}." if possible
                   else "no action is possible (final state)."),
                {"state": state, "action": action, "possible_actions": possible},
                zh=f"当前状态为「{current.label('zh')}」，不能执行「{action}」；"
                   + (f"可执行的操作：{'、'.join(possible)}。" if possible else "已是终态，不能再操作。"),
            )
        step = f"{candidates[0].label()} ({action}) from {current.label()}"
        zstep = f"在「{current.label('zh')}」状态下执行「{candidates[0].label('zh')}」"
        if not any(t.roles & actor.roles for t in candidates):
            needed = sorted(set().union(*(t.roles for t in candidates)))
            raise TransitionNotAllowed(
                f"{step} needs the role {' or '.join(needed)}; {actor.username} has "
                f"{', '.join(sorted(actor.roles)) or 'no role'}.",
                {"state": state, "action": action, "roles": needed},
                zh=f"{zstep}需要角色 {' 或 '.join(needed)}；{actor.username} 没有该角色。",
            )
        transition = self._route(candidates, context)
        if transition is None:
            failed = [t for t in candidates if t.when is not None]
            reasons = "; ".join(f"{_text(t.message, 'en')} [{t.when}]" if t.message
                                else f"condition not met: {t.when}" for t in failed)
            conditions = [{"when": t.when, "message": dict(t.message or {})} for t in failed]
            zreasons = "；".join(_text(t.message, "zh") if t.message else f"条件不满足：{t.when}"
                                 for t in failed)
            raise TransitionConditionFailed(
                f"{step} is not possible: {reasons}",
                {"state": state, "action": action, "conditions": conditions},
                zh=f"{zstep}不可执行：{zreasons}",
            )
        refusal = self._refusal(transition, context, actor)
        if refusal:
            raise TransitionNotAllowed(f"{step}: {refusal[0]}",
                                       {"state": state, "action": action, "to": transition.to},
                                       zh=f"{zstep}：{refusal[1]}")
        if transition.require_comment and not (comment or "").strip():
            raise CommentRequired(f"{step} needs a comment giving the reason.",
                                  {"state": state, "action": action, "field": "comment"},
                                  zh=f"{zstep}需要填写意见说明原因。")
        if transition.signature and not signature_given:
            raise SignatureRequired(
                f"{step} needs your electronic signature: re-enter your password to sign "
                f"with the meaning '{transition.meaning}'.",
                {"state": state, "action": action, "meaning": transition.meaning},
                zh=f"{zstep}需要电子签名：请重新输入密码，签名含义为「{transition.meaning}」。",
            )
        return transition

    # -- internals ----------------------------------------------------------------------
    @property
    def _noun(self) -> str:
        # "TransferOrder" -> "transfer order"
        return re.sub(r"(?<!^)(?=[A-Z])", " ", self.entity).lower()

    def _candidates(self, state: str, action: str) -> list[Transition]:
        return [t for t in self.transitions_from(state) if t.action == action]

    def _route(self, candidates: list[Transition], context: Mapping[str, Any]) -> Transition | None:
        for transition in candidates:
            try:
                if transition.holds(context):
                    return transition
            except ExpressionError as exc:
                raise WorkflowContextError(
                    f"{self.source}: transitions[{transition.index}].when could not be "
                    f"evaluated for this {self._noun}: {exc}",
                    {"workflow": self.name, "transition": transition.index},
                ) from exc
        return None

    def _refusal(self, transition: Transition, context: Mapping[str, Any],
                 actor: Actor) -> tuple[str, str] | None:
        """Why ``actor`` may not take the (already routed) transition, in English
        and Chinese, or None."""
        if not transition.roles & actor.roles:
            roles = sorted(transition.roles)
            return (f"at this point it needs the role {' or '.join(roles)}; "
                    f"{actor.username} has {', '.join(sorted(actor.roles)) or 'no role'}.",
                    f"此步骤需要角色 {' 或 '.join(roles)}；{actor.username} 没有该角色。")
        if transition.approval and not transition.allow_self_approval:
            if "owner" not in context:
                raise WorkflowContextError(
                    f"{self.source}: transitions[{transition.index}] is an approval, so the "
                    "context must carry 'owner' (the creator's user id, or None).",
                    {"workflow": self.name, "transition": transition.index},
                )
            owner = context["owner"]
            if owner is not None and str(owner) == str(actor.id):
                return (f"{actor.username} created this {self._noun} and may not approve it; "
                        "someone else must.",
                        f"{actor.username} 是本单据的创建人，不能审批自己的单据，须由他人审批。")
        return None


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


__all__ = [
    "Actor", "CommentRequired", "InvalidTransition", "SignatureRequired", "State", "Task",
    "Transition", "TransitionConditionFailed", "TransitionNotAllowed", "TransitionOption",
    "Workflow", "WorkflowContextError", "WorkflowDefinitionError", "load_workflow",
    "load_workflow_file", "load_workflows",
]
