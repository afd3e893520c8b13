"""Workflows: the states of a document and the transitions that move it, as data.

A workflow is declared in ``workflows/*.yaml`` (see ``workflows/transfer_approval.yaml``)
and loaded by ``app.meta.workflows``; here is only the engine, which never touches a
database. A :class:`Workflow` answers three questions:

- :meth:`Workflow.options`: for each action declared from the current state, may this
  user take it now, and if not, why not? (the buttons, and the greyed-out ones)
- :meth:`Workflow.resolve`: the user asks for this action; which transition is it, or
  which named error says why not?
- :meth:`Workflow.check_step`: may this user do this piece of work (pick, receive
  items, ...) on a document in this state?

Rules, in the order :meth:`Workflow.resolve` applies them:

1. The action must leave the current state, else :class:`InvalidTransition` (409).
2. The user must hold one of the roles of at least one of those transitions, else
   :class:`TransitionNotAllowed` (403). Roles are matched exactly: ``admin`` is not
   implied anywhere; a workflow lists it where admin may act. Explicit is better.
3. Transitions that share an action and a from-state are tried in order; the first
   whose ``when`` holds is taken (no ``when`` always holds). None holds:
   :class:`TransitionConditionFailed` (422). The route is chosen *before* the user's role
   is checked, so a user cannot pick a lighter branch by lacking the role of a heavier one.
4. The user must hold a role of the chosen transition, and, for ``approval`` transitions
   without ``allow_self_approval``, must not be the document's creator
   (``context["owner"]``), else :class:`TransitionNotAllowed` (403).
5. ``require_comment``: a non-blank comment, else :class:`CommentRequired` (422).
6. ``signature``: the caller has re-checked the user's password, else
   :class:`SignatureRequired` (422).

Approval chains are ordered levels (see the loader): each level is a state with its
roles and an optional condition; approving at one level moves the document to the next
level whose condition holds, or to the approved state. They are expanded into ordinary
transitions here, so the rules above hold for them unchanged.

``context`` is built by the caller: the document's fields, its lines (lists of dicts),
``owner`` (the creator; ``None`` for documents made by the system) and whatever else the
conditions read. Conditions are CEL (see ``expressions``), never eval. A condition that
cannot be evaluated against the context is a wiring bug, :class:`WorkflowContextError`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import Conflict, DomainError, Forbidden, ValidationFailed
from .expressions import ExpressionError, evaluate_bool

SIGNATURE_MEANINGS = ("approval", "review", "responsibility")
TASK_MODES = ("inline", "job")
PERMISSIONS = ("write", "approve")


# ─── errors ────────────────────────────────────────────────────────────────────────────

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
    """Work to do on entering a state: ``inline`` in the transaction, or as a ``job``
    queued after commit. Its name is looked up in the document effects registry."""

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
    """One edge. ``where`` names it in its file (``transitions[3]`` or
    ``approvals.levels[1]``), for messages."""

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
    # the warehouse field whose scope the user needs (None: the workflow's scope_field)
    scope: str | None = None
    # the entity permission the user needs besides a role: write, or approve for approvals
    permission: str = "write"
    # effects run in the transaction before the state changes (e.g. post the shipment)
    effects: tuple[str, ...] = ()
    where: str = ""

    def label(self, lang: str = "en") -> str:
        return _text(self.labels, lang)

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Does this transition's condition hold? No condition always holds."""
        return self.when is None or evaluate_bool(self.when, context)


@dataclass(frozen=True)
class Step:
    """Work done on a document within a state, without moving it (pick an item,
    receive part of a delivery): the same role, permission and scope checks as a
    transition."""

    name: str
    states: tuple[str, ...]
    roles: frozenset[str]
    labels: Mapping[str, str] = field(hash=False, repr=False)
    scope: str | None = None
    permission: str = "write"

    def label(self, lang: str = "en") -> str:
        return _text(self.labels, lang)


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


@dataclass(frozen=True)
class ActionOption:
    """One action declared from the current state, as this user sees it: allowed,
    or refused with a reason (``code``: role, condition, self_approval; the
    document engine adds permission and scope)."""

    action: str
    labels: Mapping[str, str] = field(hash=False, repr=False)
    transition: Transition | None = None
    code: str | None = None
    reason: tuple[str, str] | None = None

    @property
    def allowed(self) -> bool:
        return self.code is None

    def refused(self, code: str, reason: tuple[str, str]) -> ActionOption:
        return ActionOption(self.action, self.labels, self.transition, code, reason)


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
    # the warehouse field whose scope a user needs to act (None: the entity's owner field)
    scope_field: str | None = None
    steps: Mapping[str, Step] = field(default_factory=dict, repr=False)
    # the states a document waits in for an approval, in chain order
    approval_states: tuple[str, ...] = ()
    # how refusals name roles ({role: {en, zh}}, from metadata/roles.yaml); a
    # role without one is named by its key
    role_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        by_state: dict[str, list[Transition]] = {name: [] for name in self.states}
        for t in self.transitions:
            for s in t.from_states:
                by_state.setdefault(s, []).append(t)
        object.__setattr__(self, "_from", {s: tuple(ts) for s, ts in by_state.items()})

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
                zh=f"单据状态 {name!r} 未在工作流 {self.name!r} 中声明（可用状态：{'、'.join(self.states)}）。",
            ) from None

    def state_label(self, name: str, lang: str = "en") -> str:
        return self.state(name).label(lang)

    def action_label(self, action: str, lang: str = "en") -> str:
        """The label of a transition's action, or of a step (history shows both)."""
        for t in self.transitions:
            if t.action == action:
                return t.label(lang)
        if action in self.steps:
            return self.steps[action].label(lang)
        return action

    def on_enter(self, name: str) -> tuple[Task, ...]:
        return self.state(name).on_enter

    def is_final(self, name: str) -> bool:
        return self.state(name).final

    def transitions_from(self, state: str) -> tuple[Transition, ...]:
        self.state(state)
        return self._from[state]  # type: ignore[attr-defined]

    def actions_from(self, state: str) -> list[str]:
        """Every action declared from ``state``, in file order, whoever may take it."""
        return list(dict.fromkeys(t.action for t in self.transitions_from(state)))

    def is_approval_state(self, state: str) -> bool:
        """Does a document in ``state`` wait for someone's approval?"""
        return any(t.approval for t in self.transitions_from(state))

    # -- deciding -----------------------------------------------------------------------
    def options(self, state: str, context: Mapping[str, Any], user: Actor) -> list[ActionOption]:
        """Every action declared from ``state``, in file order: the transition it would
        take, or why ``user`` may not take it. Needing a comment or a signature is not a
        refusal: the transition says so, and the caller asks for them."""
        out = []
        for action in self.actions_from(state):
            candidates = self._candidates(state, action)
            option = ActionOption(action, candidates[0].labels)
            if not any(t.roles & user.roles for t in candidates):
                needed = sorted(set().union(*(t.roles for t in candidates)))
                out.append(option.refused("role", self._role_reason(needed, user)))
                continue
            transition = self._route(candidates, context)
            if transition is None:
                out.append(option.refused("condition", self._condition_reason(candidates)))
                continue
            option = ActionOption(action, candidates[0].labels, transition)
            refusal = self._refusal(transition, context, user)
            out.append(option.refused(*refusal) if refusal else option)
        return out

    def available_actions(self, state: str, context: Mapping[str, Any],
                          user: Actor) -> list[TransitionOption]:
        """The actions ``user`` may take now, one per action, in file order."""
        return [TransitionOption.of(o.transition) for o in self.options(state, context, user)
                if o.allowed and o.transition is not None]

    def resolve(self, state: str, action: str, context: Mapping[str, Any], actor: Actor,
                comment: str | None = None, signature_given: bool | None = False) -> Transition:
        """The transition ``actor`` takes by asking for ``action``, or a named error.

        ``signature_given`` True means the caller has just verified the user's password
        for this transition (record the signature with ``transition.meaning``); None
        means "not checked yet": the caller verifies it after routing.
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
        step, zstep = self._step_text(current, candidates[0])
        if not any(t.roles & actor.roles for t in candidates):
            needed = sorted(set().union(*(t.roles for t in candidates)))
            en, zh = self._role_reason(needed, actor)
            raise TransitionNotAllowed(f"{step} {en}", {"state": state, "action": action, "roles": needed},
                                       zh=f"{zstep}{zh}")
        transition = self._route(candidates, context)
        if transition is None:
            failed = [t for t in candidates if t.when is not None]
            en, zh = self._condition_reason(candidates)
            raise TransitionConditionFailed(
                f"{step} is not possible: {en}",
                {"state": state, "action": action,
                 "conditions": [{"when": t.when, "message": dict(t.message or {})} for t in failed]},
                zh=f"{zstep}不可执行：{zh}",
            )
        refusal = self._refusal(transition, context, actor)
        if refusal:
            raise TransitionNotAllowed(f"{step}: {refusal[1][0]}",
                                       {"state": state, "action": action, "to": transition.to},
                                       zh=f"{zstep}：{refusal[1][1]}")
        if transition.require_comment and not (comment or "").strip():
            raise CommentRequired(f"{step} needs a comment giving the reason.",
                                  {"state": state, "action": action, "field": "comment"},
                                  zh=f"{zstep}需要填写意见说明原因。")
        if transition.signature and signature_given is False:
            raise self.signature_required(state, transition)
        return transition

    def signature_required(self, state: str, transition: Transition) -> SignatureRequired:
        """The error that asks for the user's electronic signature on ``transition``."""
        step, zstep = self._step_text(self.state(state), transition)
        return SignatureRequired(
            f"{step} needs your electronic signature: re-enter your password to sign "
            f"with the meaning '{transition.meaning}'.",
            {"state": state, "action": transition.action, "meaning": transition.meaning},
            zh=f"{zstep}需要电子签名：请重新输入密码，签名含义为「{transition.meaning}」。",
        )

    def check_step(self, step_name: str, state: str, actor: Actor) -> Step:
        """May ``actor`` do ``step_name`` on a document in ``state``? The step, or a
        named error: 409 in another state, 403 without one of its roles."""
        step = self.steps.get(step_name)
        if step is None:
            raise InvalidTransition(f"{self.name} declares no step {step_name!r}",
                                    zh=f"工作流 {self.name} 未声明操作 {step_name!r}")
        current = self.state(state)
        if state not in step.states:
            allowed = ", ".join(self.state_label(s) for s in step.states)
            raise InvalidTransition(
                f"{step.label()} is possible only when the {self._noun} is {allowed}; "
                f"it is {current.label()}.",
                {"state": state, "step": step_name, "states": list(step.states)},
                zh=f"只有在「{'、'.join(self.state_label(s, 'zh') for s in step.states)}」状态下才能"
                   f"{step.label('zh')}；当前状态为「{current.label('zh')}」。")
        if not step.roles & actor.roles:
            needed = sorted(step.roles)
            en, zh = self._role_reason(needed, actor)
            raise TransitionNotAllowed(f"{step.label()} {en}", {"step": step_name, "roles": needed},
                                       zh=f"{step.label('zh')}{zh}")
        return step

    # -- internals ----------------------------------------------------------------------
    @property
    def _noun(self) -> str:
        # "TransferOrder" -> "transfer order"
        return re.sub(r"(?<!^)(?=[A-Z])", " ", self.entity).lower()

    @staticmethod
    def _step_text(current: State, transition: Transition) -> tuple[str, str]:
        return (f"{transition.label()} ({transition.action}) from {current.label()}",
                f"在「{current.label('zh')}」状态下执行「{transition.label('zh')}」")

    def _roles(self, roles, lang: str) -> list[str]:
        names = [_text(self.role_labels[r], lang) if r in self.role_labels else r for r in roles]
        return list(dict.fromkeys(names))

    def _role_reason(self, needed: list[str], user: Actor) -> tuple[str, str]:
        return (f"needs the role {' or '.join(self._roles(needed, 'en'))}; {user.username} has "
                f"{', '.join(self._roles(sorted(user.roles), 'en')) or 'no role'}.",
                f"需要角色 {' 或 '.join(self._roles(needed, 'zh'))}；{user.username} 没有该角色。")

    @staticmethod
    def _condition_reason(candidates: list[Transition]) -> tuple[str, str]:
        failed = [t for t in candidates if t.when is not None]
        en = "; ".join(f"{_text(t.message, 'en')} [{t.when}]" if t.message
                       else f"condition not met: {t.when}" for t in failed)
        zh = "；".join(_text(t.message, "zh") if t.message else f"条件不满足：{t.when}"
                      for t in failed)
        return en, zh

    def _candidates(self, state: str, action: str) -> list[Transition]:
        return [t for t in self.transitions_from(state) if t.action == action]

    def _route(self, candidates: list[Transition], context: Mapping[str, Any]) -> Transition | None:
        for transition in candidates:
            try:
                if transition.holds(context):
                    return transition
            except ExpressionError as exc:
                raise WorkflowContextError(
                    f"{self.source}: {transition.where}.when could not be "
                    f"evaluated for this {self._noun}: {exc}",
                    {"workflow": self.name, "transition": transition.index},
                    zh=f"{self.source}：{transition.where}.when 无法对该单据求值：{exc}",
                ) from exc
        return None

    def _refusal(self, transition: Transition, context: Mapping[str, Any],
                 actor: Actor) -> tuple[str, tuple[str, str]] | None:
        """Why ``actor`` may not take the (already routed) transition: a code and the
        reason in English and Chinese; or None."""
        if not transition.roles & actor.roles:
            roles = sorted(transition.roles)
            return ("role", (f"at this point it needs the role {' or '.join(self._roles(roles, 'en'))}; "
                             f"{actor.username} has "
                             f"{', '.join(self._roles(sorted(actor.roles), 'en')) or 'no role'}.",
                             f"此步骤需要角色 {' 或 '.join(self._roles(roles, 'zh'))}；"
                             f"{actor.username} 没有该角色。"))
        if transition.approval and not transition.allow_self_approval:
            if "owner" not in context:
                raise WorkflowContextError(
                    f"{self.source}: {transition.where} is an approval, so the "
                    "context must carry 'owner' (the creator's user id, or None).",
                    {"workflow": self.name, "transition": transition.index},
                    zh=f"{self.source}：{transition.where} 是审批，条件上下文必须包含 'owner'（创建人）。",
                )
            owner = context["owner"]
            if owner is not None and str(owner) == str(actor.id):
                return ("self_approval",
                        (f"{actor.username} created this {self._noun} and may not approve it; "
                         "someone else must.",
                         f"{actor.username} 是本单据的创建人，不能审批自己的单据，须由他人审批。"))
        return None


__all__ = [
    "ActionOption", "Actor", "CommentRequired", "InvalidTransition", "SignatureRequired",
    "State", "Step", "Task", "Transition", "TransitionConditionFailed", "TransitionNotAllowed",
    "TransitionOption", "Workflow", "WorkflowContextError",
]
