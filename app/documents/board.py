"""The board of a workflow document: its documents in columns by state, the
ones waiting for the user's approval on top, finished ones for a while; and the
counts of documents waiting for approval, for the dashboard."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents.engine import allowed_actions, entity_meta, title_of, workflow_of

FINISHED_DAYS = 14       # finished documents stay on the board this long
CARDS_PER_STATE = 60     # more than this in one state are summarised as "and N more"


def in_scope(ctx: ServiceContext, model, meta) -> Any:
    """SQL: documents with any warehouse field in the user's scope (None: all)."""
    scope = ctx.actor.warehouse_ids
    if scope is None or not meta.scope_fields:
        return None
    ids = list(scope)
    return sa.or_(*((model.id if f == "id" else getattr(model, meta.fields[f].column)).in_(ids)
                    for f in meta.scope_fields))


def board_documents(ctx: ServiceContext, entity: str) -> sa.Select:
    """Open documents and those finished in the last FINISHED_DAYS, in scope."""
    wf = workflow_of(ctx, entity)
    model = ctx.models[entity]
    state = getattr(model, wf.state_field)
    final = [s for s in wf.states if wf.is_final(s)]
    cutoff = ctx.now() - dt.timedelta(days=FINISHED_DAYS)
    stmt = sa.select(model).where(sa.or_(state.not_in(final), model.updated_at >= cutoff))
    condition = in_scope(ctx, model, entity_meta(ctx, entity))
    return stmt if condition is None else stmt.where(condition)


def board(ctx: ServiceContext, entity: str, lang: str, *, documents: Iterable | None = None,
          card: Callable[[Any], dict] | None = None) -> dict:
    """Columns by state with a card per document; ``card`` adds what a concept
    shows on its cards."""
    wf = workflow_of(ctx, entity)
    if documents is None:
        documents = ctx.session.execute(
            board_documents(ctx, entity).order_by(ctx.models[entity].id.desc())).scalars().all()
    final = {s for s in wf.states if wf.is_final(s)}
    columns: dict[str, list] = {name: [] for name in wf.states}
    pending, total = [], 0
    for document in documents:
        state = getattr(document, wf.state_field)
        item = {"id": document.id, "name": title_of(document), "state": state,
                "created_by": document.created_by or "",
                "actions": [] if state in final else allowed_actions(ctx, entity, document, lang)}
        if card is not None:
            item.update(card(document))
        total += 1
        columns.setdefault(state, []).append(item)
        if any(a["approval"] for a in item["actions"]):
            pending.append(item)

    def column(name):
        cards = columns.get(name, [])
        return {"state": name, "label": wf.state_label(name, lang) if name in wf.states else name,
                "final": name in final, "count": len(cards), "cards": cards[:CARDS_PER_STATE],
                "more": max(0, len(cards) - CARDS_PER_STATE)}

    return {"entity": entity, "label": wf.label(lang), "pending": pending,
            "active": [column(s) for s in wf.states if s not in final],
            "finished": [column(s) for s in wf.states if s in final],
            "state_labels": {s: wf.state_label(s, lang) for s in wf.states},
            "finished_days": FINISHED_DAYS, "total": total}


def waiting_for_approval(ctx: ServiceContext, lang: str) -> list[dict]:
    """Per workflow document type: how many documents in the user's scope wait
    in an approval state (the dashboard's figure)."""
    out = []
    for entity, wf in sorted(ctx.workflows.items()):
        states = [s for s in wf.states if wf.is_approval_state(s)]
        if not states:
            continue
        model = ctx.models[entity]
        stmt = sa.select(sa.func.count()).select_from(model).where(
            getattr(model, wf.state_field).in_(states))
        condition = in_scope(ctx, model, entity_meta(ctx, entity))
        if condition is not None:
            stmt = stmt.where(condition)
        out.append({"entity": entity, "label": entity_meta(ctx, entity).label.get(lang),
                    "count": ctx.session.execute(stmt).scalar_one()})
    return out
