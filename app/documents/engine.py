"""The document engine: one way to act on any entity that has a workflow.

Every action (a transition) and every step (work within a state) passes the same
checks, in this order, before anything is written:

1. the document exists and the user sees it (any of its warehouse fields in scope),
   else 404 — a document outside one's scope is not acknowledged;
2. the warehouse the action belongs to (the workflow's ``scope_field``, or the
   transition's own ``scope``) is in the user's scope, else 403;
3. the workflow: the state allows the action, the user holds a role of the routed
   transition, it is not a self-approval, a comment is given where required (409/403/422);
4. the entity permission the transition needs (``write``, or ``approve`` for
   approvals) is granted to one of the user's roles in ``metadata/roles.yaml``, else 403;
5. the electronic signature, where the transition asks for one: the password is
   re-checked and the meaning recorded (422 when missing, 403 when wrong).

Then, in the caller's transaction: the document is authorized for the writes the
action makes (``app.records.guard``), the transition's effects run (posting stock),
the state changes, the history row is written with the signature, and the new
state's ``on_enter`` tasks run inline or are queued for after the commit.
"""
from __future__ import annotations

from typing import Any, Mapping

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.domain.expressions import LazyContext
from app.domain.workflow import ActionOption, Actor as WorkflowActor, Step, Transition, Workflow
from app.documents import history
from app.meta.model import EntityMeta
from app.records.guard import authorize, moving_state
from app.records.signatures import content_hash
from app.records.validation import record_context

ADMIN_ROLE = "Admin"
TASK_JOB = "jobs.document_jobs.run_task"


# ─── what the engine knows of a document type ────────────────────────────────────────

def workflow_of(ctx: ServiceContext, entity: str) -> Workflow:
    wf = ctx.workflows.get(entity)
    if wf is None:
        raise Conflict(f"no workflow is configured for {entity}", zh=f"{entity} 未配置工作流")
    return wf


def entity_meta(ctx: ServiceContext, entity: str) -> EntityMeta:
    return ctx.models.meta.entities[entity]


def workflow_actor(ctx: ServiceContext) -> WorkflowActor:
    roles = set(ctx.actor.roles)
    if ADMIN_ROLE in roles:
        roles.add("admin")
    # identified by user name: that is what created_by records
    return WorkflowActor(id=ctx.actor.username, username=ctx.actor.username, roles=roles)


def owner_of(document) -> str | None:
    """The user who created the document (None when the system did)."""
    return None if document.created_by in (None, "system") else document.created_by


def meaning_label(ctx: ServiceContext, meaning: str | None, lang: str) -> str:
    """What a signature means, in the user's language (vocabulary signature_meaning)."""
    if not meaning:
        return ""
    vocab = ctx.models.meta.vocabularies.get("signature_meaning")
    return vocab.label_of(meaning, lang) if vocab else meaning


def title_of(document) -> str:
    return getattr(document, "name", None) or str(document)


# ─── finding ─────────────────────────────────────────────────────────────────────────

def find_document(ctx: ServiceContext, entity: str, ref: Any, *, lock: bool = False):
    """The document by id or number, or NotFound when it does not exist or lies
    outside every warehouse of the user's scope. ``lock`` takes a row lock
    (PostgreSQL), so two actions on one document run one after the other."""
    meta = entity_meta(ctx, entity)
    model = ctx.models[entity]
    if isinstance(ref, model):
        document = ref
    else:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)) or ref == "":
            raise NotFound(f"unknown {meta.label['en'].lower()} {ref!r}",
                           zh=f"{meta.label['zh']} {ref!r} 不存在")
        by_id = isinstance(ref, int) or (ref.isascii() and ref.isdigit())
        if by_id and not 0 < int(ref) < 2**31:
            raise NotFound(f"unknown {meta.label['en'].lower()} {ref!r}",
                           zh=f"{meta.label['zh']} {ref!r} 不存在")
        column = model.id if by_id else getattr(model, "name", None)
        if column is None:
            raise NotFound(f"unknown {meta.label['en'].lower()} {ref!r}",
                           zh=f"{meta.label['zh']} {ref!r} 不存在")
        stmt = sa.select(model).where(column == (int(ref) if by_id else ref))
        loader = ctx.documents.loaders.get(entity) if ctx.documents else None
        if loader is not None:
            stmt = stmt.options(*loader(ctx.models))
        if lock and ctx.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=model)
        document = ctx.session.execute(stmt).unique().scalar_one_or_none()
    if document is None or not sees(ctx, meta, document):
        raise NotFound(f"unknown {meta.label['en'].lower()} {ref!r}",
                       zh=f"{meta.label['zh']} {ref!r} 不存在")
    return document


def sees(ctx: ServiceContext, meta: EntityMeta, document) -> bool:
    """A user sees a document when any of its warehouse fields is in their scope."""
    scope = ctx.actor.warehouse_ids
    if scope is None or not meta.scope_fields:
        return True
    return any(_warehouse_id(meta, document, f) in scope for f in meta.scope_fields)


def _warehouse_id(meta: EntityMeta, document, field: str):
    return document.id if field == "id" else getattr(document, meta.fields[field].column)


# ─── conditions ──────────────────────────────────────────────────────────────────────

def default_context(ctx: ServiceContext, document) -> Mapping[str, Any]:
    """The document's fields (links as ids), each table of lines as a list of
    the lines' fields, and ``owner``."""
    meta = entity_meta(ctx, type(document).__entity__.name)
    values = record_context(document, meta)
    for f in meta.tables():
        child = entity_meta(ctx, f.target)
        values[f.name] = [record_context(line, child) for line in getattr(document, f.name)]
    values["owner"] = owner_of(document)
    return LazyContext(values)


def condition_context(ctx: ServiceContext, entity: str, document) -> Mapping[str, Any]:
    build = ctx.documents.contexts.get(entity) if ctx.documents else None
    return (build or default_context)(ctx, document)


# ─── permission and scope ────────────────────────────────────────────────────────────

def allows(ctx: ServiceContext, entity: str, permission: str) -> bool:
    """Does one of the user's roles grant ``permission`` on ``entity``?"""
    if ADMIN_ROLE in ctx.actor.roles:
        return True
    roles = ctx.models.meta.roles
    return any(roles[r].allows(entity, permission) for r in ctx.actor.roles if r in roles)


def _permission_refusal(ctx, entity: str, permission: str) -> tuple[str, str] | None:
    if allows(ctx, entity, permission):
        return None
    label = entity_meta(ctx, entity).label
    return (f"your roles do not grant the {permission} permission on {label['en'].lower()}s",
            f"您的角色没有{label['zh']}的「{permission}」权限")


def scope_field(wf: Workflow, meta: EntityMeta, rule: Transition | Step | None) -> str | None:
    """The warehouse field whose scope a user needs for ``rule``."""
    if rule is not None and rule.scope:
        return rule.scope
    return wf.scope_field or (meta.scope_fields[0] if meta.scope_fields else None)


def _scope_refusal(ctx, meta: EntityMeta, document, field: str | None,
                   what: tuple[str, str]) -> tuple[str, str] | None:
    if field is None or ctx.actor.warehouse_ids is None:
        return None
    warehouse_id = _warehouse_id(meta, document, field)
    if warehouse_id in ctx.actor.warehouse_ids:
        return None
    label = meta.fields[field].label if field != "id" else {"en": "warehouse", "zh": "仓库"}
    related = getattr(document, field, None) if field != "id" else document
    code = getattr(related, "code", warehouse_id)
    return (f"{what[0]} belongs to the {label['en'].lower()} {code}, which is outside your data scope",
            f"「{what[1]}」属于{label['zh']} {code}，不在您的数据权限范围内")


def _action_scope_field(wf: Workflow, meta: EntityMeta, action: str) -> str | None:
    for t in wf.transitions:
        if t.action == action:
            return scope_field(wf, meta, t)
    return scope_field(wf, meta, None)


# ─── the buttons ─────────────────────────────────────────────────────────────────────

def action_options(ctx: ServiceContext, entity: str, document,
                   context: Mapping[str, Any] | None = None) -> list[ActionOption]:
    """Every action declared from the document's state: allowed, or why not
    (role, condition, self-approval, permission, scope)."""
    wf = workflow_of(ctx, entity)
    meta = entity_meta(ctx, entity)
    state = getattr(document, wf.state_field)
    if context is None:
        context = condition_context(ctx, entity, document)
    out = []
    for option in wf.options(state, context, workflow_actor(ctx)):
        t = option.transition
        if option.allowed and t is not None:
            what = (t.label("en"), t.label("zh"))
            refusal = _scope_refusal(ctx, meta, document, scope_field(wf, meta, t), what)
            if refusal:
                option = option.refused("scope", refusal)
            elif (refusal := _permission_refusal(ctx, entity, t.permission)):
                option = option.refused("permission", refusal)
        out.append(option)
    return out


def detail_fields(ctx: ServiceContext, transition: Transition | None) -> list[str]:
    """The details an action's effects read from its body (a carrier ...)."""
    if transition is None or not ctx.documents:
        return []
    names: list[str] = []
    for effect in transition.effects:
        schema = ctx.documents.effects[effect].schema
        if schema is not None:
            names += [f.data_key or n for n, f in schema().fields.items() if n not in names]
    return names


def describe_options(ctx: ServiceContext, wf: Workflow, options: list[ActionOption],
                     lang: str) -> list[dict]:
    """What the API and the pages show for each action."""
    out = []
    for o in options:
        t = o.transition
        out.append({
            "action": o.action, "label": o.labels.get(lang) or o.labels["en"],
            "allowed": o.allowed, "reason_code": o.code,
            "reason": (o.reason[1] if lang == "zh" else o.reason[0]) if o.reason else None,
            "to": t.to if t else None, "to_label": wf.state_label(t.to, lang) if t else None,
            "approval": bool(t and t.approval),
            "require_comment": bool(t and t.require_comment), "signature": bool(t and t.signature),
            "meaning": t.meaning if t else None,
            "meaning_label": meaning_label(ctx, t.meaning, lang) if t else "",
            "fields": detail_fields(ctx, t),
        })
    return out


def allowed_actions(ctx: ServiceContext, entity: str, document, lang: str = "en") -> list[dict]:
    wf = workflow_of(ctx, entity)
    return [o for o in describe_options(ctx, wf, action_options(ctx, entity, document), lang)
            if o["allowed"]]


# ─── acting ──────────────────────────────────────────────────────────────────────────

def take_action(ctx: ServiceContext, entity: str, ref: Any, action: str, *,
                comment: str | None = None, password: str | None = None,
                meaning: str | None = None, details: dict | None = None):
    """Take ``action`` on the document, with every check (see the module), and
    return the document in its new state."""
    wf = workflow_of(ctx, entity)
    meta = entity_meta(ctx, entity)
    document = find_document(ctx, entity, ref, lock=True)
    label = (wf.action_label(action), wf.action_label(action, "zh"))
    refusal = _scope_refusal(ctx, meta, document, _action_scope_field(wf, meta, action), label)
    if refusal:
        raise Forbidden(refusal[0], zh=refusal[1])
    state = getattr(document, wf.state_field)
    context = condition_context(ctx, entity, document)
    transition = wf.resolve(state, action, context, workflow_actor(ctx), comment=comment,
                            signature_given=None)
    refusal = (_scope_refusal(ctx, meta, document, scope_field(wf, meta, transition), label)
               or _permission_refusal(ctx, entity, transition.permission))
    if refusal:
        raise Forbidden(refusal[0], zh=refusal[1])
    signed = False
    if transition.signature:
        _check_signature(ctx, wf, state, transition, password, meaning)
        signed = True
    apply_transition(ctx, entity, document, transition, comment=comment, signed=signed,
                     details=details or {})
    return document


def _check_signature(ctx, wf: Workflow, state: str, transition: Transition,
                     password: str | None, meaning: str | None) -> None:
    if not password:
        raise wf.signature_required(state, transition)
    if meaning is not None and meaning != transition.meaning:
        raise ValidationFailed(
            f"this signature means {transition.meaning!r}, not {meaning!r}",
            {"meaning": transition.meaning},
            zh=f"此签名的含义为「{transition.meaning}」，而不是「{meaning}」")
    if ctx.directory is None or not ctx.directory.verify_password(ctx.actor.username, password):
        raise Forbidden("electronic signature refused: the password is not correct",
                        zh="电子签名被拒绝：密码不正确")


def apply_transition(ctx: ServiceContext, entity: str, document, transition: Transition, *,
                     comment: str | None, signed: bool, details: dict) -> None:
    """Write a transition the checks have passed: effects, state, history, tasks."""
    wf = workflow_of(ctx, entity)
    authorize(ctx.session, document)
    details = {**details, "comment": comment}
    for name in transition.effects:
        ctx.documents.effects[name].run(ctx, document, details)
    before = getattr(document, wf.state_field)
    moving_state(ctx.session, document)
    setattr(document, wf.state_field, transition.to)
    history.record_transition(
        ctx.session, ctx.models.table("workflow_transition"), entity=entity,
        record_id=document.id, action=transition.action, from_state=before,
        to_state=transition.to, at=ctx.now(), username=ctx.actor.username,
        user_id=ctx.actor.user_id, comment=comment, signed=signed, meaning=transition.meaning,
        signed_hash=content_hash(document, entity_meta(ctx, entity)) if signed else None)
    for task in wf.on_enter(transition.to):
        if task.mode == "inline":
            ctx.documents.effects[task.name].run(ctx, document, details)
        elif ctx.jobs is not None:
            ctx.jobs.after_commit(ctx.session, TASK_JOB, task.name, entity, document.id)
    ctx.session.flush()


def authorize_step(ctx: ServiceContext, entity: str, document, step_name: str) -> Step:
    """Check the user may do ``step_name`` on the document now (state, role,
    permission, scope) and authorize the writes it makes."""
    wf = workflow_of(ctx, entity)
    meta = entity_meta(ctx, entity)
    step = wf.steps.get(step_name)
    what = (step.label("en"), step.label("zh")) if step else (step_name, step_name)
    refusal = _scope_refusal(ctx, meta, document, scope_field(wf, meta, step), what)
    if refusal:
        raise Forbidden(refusal[0], zh=refusal[1])
    step = wf.check_step(step_name, getattr(document, wf.state_field), workflow_actor(ctx))
    refusal = _permission_refusal(ctx, entity, step.permission)
    if refusal:
        raise Forbidden(refusal[0], zh=refusal[1])
    authorize(ctx.session, document)
    return step


def run_task(ctx: ServiceContext, task: str, entity: str, document_id: int) -> Any:
    """Run a queued ``on_enter`` task (``mode: job``) on the document."""
    document = ctx.session.get(ctx.models[entity], document_id)
    if document is None:
        raise NotFound(f"unknown {entity} {document_id}", zh=f"{entity} {document_id} 不存在")
    effect = ctx.documents.effects[task]
    return effect.run(ctx, document, {})


# ─── reading ─────────────────────────────────────────────────────────────────────────

def history_of(ctx: ServiceContext, entity: str, document, lang: str = "en") -> list[dict]:
    """Transitions with who, when, comment and signature, oldest first."""
    wf = workflow_of(ctx, entity)
    rows = history.transitions_of(ctx.session, ctx.models.table("workflow_transition"),
                                  entity, document.id)
    current = content_hash(document, entity_meta(ctx, entity)) if any(h.signed_hash for h in rows) else None
    out = []
    for h in rows:
        out.append({
            "action": h.action, "action_label": wf.action_label(h.action, lang),
            "from": h.from_state, "to": h.to_state,
            "from_label": wf.states[h.from_state].label(lang) if h.from_state in wf.states else h.from_state,
            "to_label": wf.states[h.to_state].label(lang) if h.to_state in wf.states else h.to_state,
            "at": h.at, "by": h.username, "comment": h.comment,
            "signed_by": h.signed_by, "signed_at": h.signed_at, "meaning": h.signature_meaning,
            "meaning_label": meaning_label(ctx, h.signature_meaning, lang),
            # has what was signed changed since? (None: no content hash recorded)
            "changed_since_signed": (h.signed_hash != current) if h.signed_hash else None,
        })
    return out


def summary(ctx: ServiceContext, entity: str, document, lang: str = "en") -> dict:
    """A document's state and what the user may do next: the answer to an action."""
    wf = workflow_of(ctx, entity)
    state = getattr(document, wf.state_field)
    return {"id": document.id, "name": title_of(document), "state": state,
            "state_label": wf.state_label(state, lang),
            "actions": describe_options(ctx, wf, action_options(ctx, entity, document), lang)}
