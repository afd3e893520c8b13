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
from dataclasses import dataclass, field
from typing import Any, Mapping


from .errors import Conflict, DomainError, Forbidden, ValidationFailed
from .expressions import ExpressionError, evaluate_bool

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


__all__ = [
    "Actor", "CommentRequired", "InvalidTransition", "SignatureRequired", "State", "Task",
    "Transition", "TransitionConditionFailed", "TransitionNotAllowed", "TransitionOption",
    "Workflow", "WorkflowContextError", "WorkflowDefinitionError",
]
