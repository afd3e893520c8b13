"""The rows an alert rule looks at, as one SQL query each.

- ``days_before`` and ``on_change`` read an entity: its fields (a link shows
  the linked record's title, ``<link>_id`` its id), placed in a warehouse by
  its scope field or, for what is kept in stock (lots, products, serials), by
  the warehouses holding it (with ``quantity`` and ``available`` there).
  ``days_before`` adds ``days_left`` and ``threshold`` (the smallest of the
  rule's ``days`` that ``days_left`` is within).
- ``cron`` rules read a named query from ``QUERIES``: low stock against the
  stock policy, expired stock still available, transfers overdue in transit,
  lots in quarantine, documents waiting for approval.

Every query has ``warehouse_id`` and ``warehouse`` (its code): who sees an
alert follows from them. Queries are built per database (date arithmetic).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa

from app.meta.model import EntityMeta, Metadata

# entities kept in stock: the stock_balance column that names them
STOCKED = {"Lot": "lot_id", "Product": "product_id", "Serial": "serial_id"}
DEFAULT_DAYS_BEFORE_SCHEDULE = "0 2 * * *"


@dataclass(frozen=True)
class QuerySpec:
    name: str
    description: dict[str, str]
    columns: tuple[str, ...]
    # the record an alert links to: its entity (or the column naming it), id and title columns
    entity: str | None
    id_column: str
    name_column: str
    build: Callable[..., sa.Select]
    entity_column: str | None = None


# ─── date arithmetic per database ───────────────────────────────────────────────────

def days_between(dialect: str, earlier, later):
    """Whole days from ``earlier`` to ``later`` (dates)."""
    if dialect == "sqlite":
        return sa.cast(sa.func.julianday(later) - sa.func.julianday(earlier), sa.Integer)
    return sa.cast(later, sa.Date) - sa.cast(earlier, sa.Date)


def hours_since(dialect: str, moment, now: dt.datetime):
    if dialect == "sqlite":
        return sa.cast((sa.func.julianday(now) - sa.func.julianday(moment)) * 24, sa.Integer)
    return sa.cast(sa.func.extract("epoch", sa.literal(now, sa.DateTime) - moment) / 3600, sa.Integer)


# ─── entity rows (days_before, on_change) ───────────────────────────────────────────

def placement_field(entity: EntityMeta, warehouse: str | None) -> str | None:
    if warehouse:
        return warehouse
    scoped = [f for f in entity.scope_fields if f != "id"]
    return scoped[0] if scoped else ("id" if entity.scope_fields else None)


def entity_columns(meta: Metadata, entity_name: str, kind: str, warehouse: str | None = None) -> tuple[str, ...]:
    """The names a rule reading ``entity_name`` may use (mirrors ``entity_select``)."""
    entity = meta.entities[entity_name]
    names = ["id", "record_name"]
    for f in entity.fields.values():
        if f.type == "table":
            continue
        names.append(f.name)
        if f.type == "link":
            names.append(f"{f.name}_id")
            target = meta.entities[f.target]
            if "name" in target.fields and target.title_field != "name":
                names.append(f"{f.name}_name")
    names += ["warehouse_id", "warehouse"]
    if entity_name in STOCKED:
        names += ["quantity", "available"]
    if kind == "days_before":
        names += ["days_left", "threshold"]
    if kind == "on_change":
        names += ["old_value", "new_value"]
    return tuple(dict.fromkeys(names))


def entity_select(models, entity_name: str, *, dialect: str, today: dt.date,
                  date_field: str | None = None, days: tuple[int, ...] = (),
                  warehouse: str | None = None, record_ids=None) -> sa.Select:
    meta = models.meta
    entity = meta.entities[entity_name]
    E = models[entity_name].__table__
    W = models["Warehouse"].__table__
    cols: dict[str, Any] = {"id": E.c.id}
    title = entity.title_field
    cols["record_name"] = E.c[title] if title in E.c else sa.cast(E.c.id, sa.String)
    joined = E
    for f in entity.fields.values():
        if f.type == "table":
            continue
        if f.type == "link":
            target = meta.entities[f.target]
            T = models[f.target].__table__.alias(f"t_{f.name}")
            joined = joined.outerjoin(T, T.c.id == E.c[f.column])
            t_title = target.title_field
            cols[f.name] = T.c[t_title] if t_title in T.c else T.c.id
            cols[f"{f.name}_id"] = E.c[f.column]
            if "name" in target.fields and t_title != "name":
                cols[f"{f.name}_name"] = T.c.name
        else:
            cols[f.name] = E.c[f.name]
    where = []
    if entity_name in STOCKED:
        B = models.table("stock_balance")
        stock = (sa.select(B.c[STOCKED[entity_name]].label("ref"), B.c.warehouse_id,
                           sa.func.sum(B.c.quantity).label("quantity"),
                           sa.func.sum(sa.case((B.c.status == "available", B.c.quantity - B.c.reserved),
                                               else_=0)).label("available"))
                 .where(B.c.is_real, B.c.quantity > 0, B.c.warehouse_id.isnot(None))
                 .group_by(B.c[STOCKED[entity_name]], B.c.warehouse_id)).subquery("stock")
        joined = joined.join(stock, stock.c.ref == E.c.id)
        wh_id = stock.c.warehouse_id
        cols["quantity"], cols["available"] = stock.c.quantity, stock.c.available
    else:
        place = placement_field(entity, warehouse)
        wh_id = (E.c.id if place == "id" else E.c[entity.fields[place].column]) if place else sa.null()
    PW = W.alias("placed_in")
    if place_is_column(wh_id):
        joined = joined.outerjoin(PW, PW.c.id == wh_id)
        cols["warehouse_id"], cols["warehouse"] = wh_id, PW.c.code
    else:
        cols["warehouse_id"], cols["warehouse"] = sa.null(), sa.null()
    if date_field:
        field = E.c[date_field]
        left = days_between(dialect, today, field)
        cols["days_left"] = left
        thresholds = sorted(days)
        cols["threshold"] = sa.case(*[(left <= d, d) for d in thresholds], else_=None)
        where += [field.isnot(None), field >= today, field <= today + dt.timedelta(days=max(thresholds))]
    if record_ids is not None:
        where.append(E.c.id.in_(list(record_ids)))
    return sa.select(*[c.label(n) for n, c in cols.items()]).select_from(joined).where(*where)


def place_is_column(value) -> bool:
    return isinstance(value, sa.ColumnElement) and not isinstance(value, sa.sql.elements.Null)


# ─── named queries (cron rules) ─────────────────────────────────────────────────────

def _expired_available(models, dialect: str, today: dt.date, now: dt.datetime, workflows) -> sa.Select:
    B, Lot, P, W = (models.table("stock_balance"), models["Lot"].__table__,
                    models["Product"].__table__, models["Warehouse"].__table__)
    return (sa.select(Lot.c.id.label("lot_id"), Lot.c.lot_number, P.c.sku.label("product"),
                      P.c.name.label("product_name"), Lot.c.expiry_date,
                      days_between(dialect, Lot.c.expiry_date, today).label("days_expired"),
                      B.c.warehouse_id, W.c.code.label("warehouse"),
                      sa.func.sum(B.c.quantity).label("quantity"))
            .select_from(B.join(Lot, Lot.c.id == B.c.lot_id).join(P, P.c.id == B.c.product_id)
                         .join(W, W.c.id == B.c.warehouse_id))
            .where(B.c.is_real, B.c.status == "available", B.c.quantity > 0, Lot.c.expiry_date < today)
            .group_by(Lot.c.id, Lot.c.lot_number, P.c.sku, P.c.name, Lot.c.expiry_date,
                      B.c.warehouse_id, W.c.code))


def _stock_below_minimum(models, dialect: str, today: dt.date, now: dt.datetime, workflows) -> sa.Select:
    S, B, P, W = (models["StockPolicy"].__table__, models.table("stock_balance"),
                  models["Product"].__table__, models["Warehouse"].__table__)
    T = models["TransferOrder"].__table__
    on_hand = (sa.select(B.c.product_id, B.c.warehouse_id,
                         sa.func.sum(B.c.quantity - B.c.reserved).label("qty"))
               .where(B.c.is_real, B.c.status == "available")
               .group_by(B.c.product_id, B.c.warehouse_id)).subquery("on_hand")
    transit = (sa.select(B.c.product_id, T.c.to_warehouse_id.label("warehouse_id"),
                         sa.func.sum(B.c.quantity).label("qty"))
               .select_from(B.join(T, T.c.transit_location_id == B.c.location_id))
               .where(B.c.quantity > 0, T.c.state == "shipped")
               .group_by(B.c.product_id, T.c.to_warehouse_id)).subquery("transit")
    have = sa.func.coalesce(on_hand.c.qty, 0)
    return (sa.select(S.c.id.label("policy_id"), (P.c.sku + sa.literal(" @ ") + W.c.code).label("policy"),
                      P.c.sku.label("product"), P.c.name.label("product_name"), S.c.product_id,
                      S.c.warehouse_id, W.c.code.label("warehouse"), have.label("on_hand"),
                      sa.func.coalesce(transit.c.qty, 0).label("in_transit"),
                      S.c.min_quantity.label("minimum"), S.c.max_quantity.label("maximum"),
                      (S.c.min_quantity - have).label("shortfall"))
            .select_from(S.join(P, P.c.id == S.c.product_id).join(W, W.c.id == S.c.warehouse_id)
                         .outerjoin(on_hand, sa.and_(on_hand.c.product_id == S.c.product_id,
                                                     on_hand.c.warehouse_id == S.c.warehouse_id))
                         .outerjoin(transit, sa.and_(transit.c.product_id == S.c.product_id,
                                                     transit.c.warehouse_id == S.c.warehouse_id)))
            .where(S.c.active.isnot(False), S.c.min_quantity.isnot(None)))


def _transfers_overdue(models, dialect: str, today: dt.date, now: dt.datetime, workflows) -> sa.Select:
    T, W = models["TransferOrder"].__table__, models["Warehouse"].__table__
    FW, TW = W.alias("from_wh"), W.alias("to_wh")

    def side(name: str, column):
        here = W.alias(f"{name}_wh")
        return (sa.select(T.c.id.label("transfer_id"), T.c.name.label("transfer"),
                          FW.c.code.label("from_warehouse"), TW.c.code.label("to_warehouse"),
                          T.c.expected_arrival, T.c.tracking_no,
                          days_between(dialect, T.c.expected_arrival, today).label("days_overdue"),
                          sa.literal(name).label("side"), column.label("warehouse_id"),
                          here.c.code.label("warehouse"))
                .select_from(T.join(FW, FW.c.id == T.c.from_warehouse_id)
                             .join(TW, TW.c.id == T.c.to_warehouse_id)
                             .join(here, here.c.id == column))
                .where(T.c.state == "shipped", T.c.expected_arrival.isnot(None),
                       T.c.expected_arrival < today))
    return sa.union_all(side("destination", T.c.to_warehouse_id), side("source", T.c.from_warehouse_id))


def _quarantine_lots(models, dialect: str, today: dt.date, now: dt.datetime, workflows) -> sa.Select:
    B, M, L = models.table("stock_balance"), models.table("stock_move"), models["Location"].__table__
    Lot, P, W = models["Lot"].__table__, models["Product"].__table__, models["Warehouse"].__table__
    since = (sa.select(sa.func.max(M.c.moved_at))
             .select_from(M.join(L, L.c.id == M.c.to_location_id))
             .where(M.c.lot_id == B.c.lot_id, M.c.to_status == "quarantine",
                    L.c.warehouse_id == B.c.warehouse_id)
             .correlate(B).scalar_subquery())
    grouped = (sa.select(B.c.lot_id, B.c.warehouse_id, sa.func.sum(B.c.quantity).label("quantity"),
                         sa.func.max(since).label("since"))
               .where(B.c.is_real, B.c.status == "quarantine", B.c.quantity > 0, B.c.lot_id != 0)
               .group_by(B.c.lot_id, B.c.warehouse_id)).subquery("q")
    return (sa.select(Lot.c.id.label("lot_id"), Lot.c.lot_number, P.c.sku.label("product"),
                      P.c.name.label("product_name"), grouped.c.warehouse_id,
                      W.c.code.label("warehouse"), grouped.c.quantity,
                      grouped.c.since.label("quarantined_since"),
                      sa.cast(hours_since(dialect, grouped.c.since, now) / 24, sa.Integer)
                      .label("days_in_quarantine"))
            .select_from(grouped.join(Lot, Lot.c.id == grouped.c.lot_id)
                         .join(P, P.c.id == Lot.c.product_id).join(W, W.c.id == grouped.c.warehouse_id)))


def _approvals_waiting(models, dialect: str, today: dt.date, now: dt.datetime, workflows) -> sa.Select:
    H, W = models.table("workflow_transition"), models["Warehouse"].__table__
    parts = []
    for entity_name, wf in sorted(workflows.items()):
        entity = models.meta.entities[entity_name]
        D = models[entity_name].__table__
        place = wf.scope_field or placement_field(entity, None)
        if place is None or place == "id":
            continue
        state_col = D.c[wf.state_field]
        entered = (sa.select(sa.func.max(H.c.at)).where(
            H.c.entity == entity_name, H.c.record_id == D.c.id, H.c.to_state == state_col)
            .correlate(D).scalar_subquery())
        since = sa.func.coalesce(entered, D.c.created_at)
        title = entity.title_field
        for state in wf.states:
            if not wf.is_approval_state(state):
                continue
            roles = sorted({r for t in wf.transitions_from(state) if t.approval for r in t.roles})
            for role in roles:
                wh_col = D.c[entity.fields[place].column]
                parts.append(
                    sa.select(sa.literal(entity_name).label("entity"), D.c.id.label("document_id"),
                              (D.c[title] if title in D.c else sa.cast(D.c.id, sa.String)).label("document"),
                              sa.literal(entity.label["en"]).label("document_type"),
                              state_col.label("state"), sa.literal(wf.state_label(state, "en")).label("state_label"),
                              sa.literal(wf.state_label(state, "zh")).label("state_label_zh"),
                              sa.literal(role).label("approver_role"), since.label("waiting_since"),
                              hours_since(dialect, since, now).label("hours_waiting"),
                              wh_col.label("warehouse_id"), W.c.code.label("warehouse"))
                    .select_from(D.join(W, W.c.id == wh_col)).where(state_col == state))
    if not parts:
        return sa.select(*[sa.null().label(c) for c in QUERIES["approvals_waiting"].columns]).where(sa.false())
    return sa.union_all(*parts)


QUERIES: dict[str, QuerySpec] = {q.name: q for q in (
    QuerySpec("expired_available", {"en": "Expired lots still in available stock, per warehouse",
                                    "zh": "已过期但仍为可用库存的批次（按仓库）"},
              ("lot_id", "lot_number", "product", "product_name", "expiry_date", "days_expired",
               "warehouse_id", "warehouse", "quantity"), "Lot", "lot_id", "lot_number", _expired_available),
    QuerySpec("stock_below_minimum", {"en": "Stock policies with the available stock and what is in transit",
                                      "zh": "库存策略及其可用库存与在途数量"},
              ("policy_id", "policy", "product", "product_name", "product_id", "warehouse_id", "warehouse",
               "on_hand", "in_transit", "minimum", "maximum", "shortfall"),
              "StockPolicy", "policy_id", "policy", _stock_below_minimum),
    QuerySpec("transfers_overdue", {"en": "Transfers in transit past their expected arrival, for each side",
                                    "zh": "超过预计到达日期仍在途的调拨单（调出方与调入方各一行）"},
              ("transfer_id", "transfer", "from_warehouse", "to_warehouse", "expected_arrival", "tracking_no",
               "days_overdue", "side", "warehouse_id", "warehouse"),
              "TransferOrder", "transfer_id", "transfer", _transfers_overdue),
    QuerySpec("quarantine_lots", {"en": "Lots with stock in quarantine, and since when",
                                  "zh": "有待检库存的批次及其待检起始时间"},
              ("lot_id", "lot_number", "product", "product_name", "warehouse_id", "warehouse", "quantity",
               "quarantined_since", "days_in_quarantine"), "Lot", "lot_id", "lot_number", _quarantine_lots),
    QuerySpec("approvals_waiting", {"en": "Documents waiting at an approval level, one row per approver role",
                                    "zh": "处于审批环节的单据（每个审批角色一行）"},
              ("entity", "document_id", "document", "document_type", "state", "state_label", "state_label_zh",
               "approver_role", "waiting_since", "hours_waiting", "warehouse_id", "warehouse"),
              None, "document_id", "document", _approvals_waiting, entity_column="entity"),
)}


# How a rule's columns read on a notification's page (entity fields use their own labels).
COLUMN_LABELS = {
    "record_name": {"en": "Record", "zh": "记录"}, "warehouse": {"en": "Warehouse", "zh": "仓库"},
    "quantity": {"en": "Quantity", "zh": "数量"}, "available": {"en": "Available", "zh": "可用数量"},
    "days_left": {"en": "Days left", "zh": "剩余天数"}, "threshold": {"en": "Threshold (days)", "zh": "阈值（天）"},
    "old_value": {"en": "Old value", "zh": "原值"}, "new_value": {"en": "New value", "zh": "新值"},
    "lot_number": {"en": "Lot", "zh": "批号"}, "product": {"en": "Product", "zh": "产品"},
    "product_name": {"en": "Product name", "zh": "产品名称"}, "expiry_date": {"en": "Expiry date", "zh": "失效日期"},
    "days_expired": {"en": "Days since expiry", "zh": "已过期天数"}, "policy": {"en": "Stock policy", "zh": "库存策略"},
    "on_hand": {"en": "Available stock", "zh": "可用库存"}, "in_transit": {"en": "In transit", "zh": "在途"},
    "minimum": {"en": "Minimum", "zh": "最低库存"}, "maximum": {"en": "Maximum", "zh": "最高库存"},
    "shortfall": {"en": "Shortfall", "zh": "缺口"}, "transfer": {"en": "Transfer", "zh": "调拨单"},
    "from_warehouse": {"en": "Source warehouse", "zh": "调出仓库"},
    "to_warehouse": {"en": "Destination warehouse", "zh": "调入仓库"},
    "expected_arrival": {"en": "Expected arrival", "zh": "预计到达"}, "tracking_no": {"en": "Tracking number", "zh": "运单号"},
    "days_overdue": {"en": "Days overdue", "zh": "超期天数"}, "side": {"en": "Side", "zh": "方向"},
    "quarantined_since": {"en": "In quarantine since", "zh": "待检起始时间"},
    "days_in_quarantine": {"en": "Days in quarantine", "zh": "待检天数"},
    "entity": {"en": "Document type", "zh": "单据类型"}, "document": {"en": "Document", "zh": "单据"},
    "document_type": {"en": "Document type", "zh": "单据类型"}, "state": {"en": "State", "zh": "状态"},
    "state_label": {"en": "State", "zh": "状态"}, "approver_role": {"en": "Approver role", "zh": "审批角色"},
    "waiting_since": {"en": "Waiting since", "zh": "等待起始时间"}, "hours_waiting": {"en": "Hours waiting", "zh": "等待小时数"},
}


def shown_fields(meta: Metadata, entity: str | None, data: dict, lang: str) -> list[tuple[str, Any]]:
    """A notification's record fields as (label, value), ids left out."""
    fields = meta.entities[entity].fields if entity in meta.entities else {}
    out = []
    for name, value in data.items():
        if name == "id" or name.endswith(("_id", "_zh")):
            continue
        label = fields[name].label if name in fields else COLUMN_LABELS.get(name)
        out.append(((label.get(lang) or label["en"]) if label else name, value))
    return out
