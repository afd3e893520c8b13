"""Purpose-built transfer pages: the transfer board (调拨看板) and a transfer's
detail page, with the workflow actions the signed-in user may take.

Both pages read through the transfer services (scope, allowed actions) and
act through the REST API (``/api/v1/transfers/...``) from the browser, so a
button and an API call take exactly the same path.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from sqlalchemy.orm import joinedload, selectinload

from app.actor import current_actor
from app.domain.errors import NotFound
from app.domain.quantities import format_quantity
from app.i18n import current_language, lazy
from app.runtime import Runtime
from app.web.requests import service_context
from app.services import transfers

BOARD_MENU = "TransferBoard"
# Finished transfers (closed, rejected, cancelled) stay on the board this long.
FINISHED_DAYS = 14
# More transfers than this in one state are summarised as "and N more".
CARDS_PER_STATE = 60
APPROVAL_ACTIONS = ("approve", "reject")

TEXT = {
    "board": {"en": "Transfer board", "zh": "调拨看板"},
    "pending": {"en": "Pending my approval", "zh": "待我审批"},
    "pending_none": {"en": "Nothing is waiting for your approval.", "zh": "暂无待您审批的调拨单。"},
    "finished": {"en": "Finished in the last {days} days", "zh": "近 {days} 天已结束"},
    "none": {"en": "None", "zh": "无"},
    "more": {"en": "and {n} more", "zh": "另有 {n} 张"},
    "urgent": {"en": "Urgent", "zh": "紧急"},
    "normal": {"en": "Normal", "zh": "普通"},
    "overdue": {"en": "Overdue", "zh": "逾期未到"},
    "overdue_days": {"en": "Overdue {n} d", "zh": "逾期 {n} 天"},
    "needed_by": {"en": "Needed by", "zh": "需求日期"},
    "eta": {"en": "Expected arrival", "zh": "预计到达"},
    "lines": {"en": "{n} lines", "zh": "{n} 行"},
    "lines_one": {"en": "1 line", "zh": "1 行"},
    "scope_all": {"en": "All warehouses", "zh": "全部仓库"},
    "scope": {"en": "Your warehouses", "zh": "您的仓库"},
    "summary": {"en": "{n} transfers, {o} overdue in transit", "zh": "共 {n} 张调拨单，{o} 张在途逾期"},
    "summary_one": {"en": "1 transfer, {o} overdue in transit", "zh": "共 1 张调拨单，{o} 张在途逾期"},
    "open": {"en": "Open", "zh": "查看"},
    "detail": {"en": "Transfer", "zh": "调拨单"},
    "back": {"en": "Back to the board", "zh": "返回看板"},
    "pdf": {"en": "Transfer note (PDF)", "zh": "调拨单 (PDF)"},
    "state": {"en": "State", "zh": "状态"},
    "from": {"en": "From warehouse", "zh": "调出仓库"},
    "to": {"en": "To warehouse", "zh": "调入仓库"},
    "priority": {"en": "Priority", "zh": "优先级"},
    "reason": {"en": "Reason", "zh": "调拨原因"},
    "total": {"en": "Total value", "zh": "总金额"},
    "created_by": {"en": "Requested by", "zh": "申请人"},
    "carrier": {"en": "Carrier", "zh": "承运商"},
    "vehicle": {"en": "Vehicle", "zh": "车牌号"},
    "tracking_no": {"en": "Tracking number", "zh": "运单号"},
    "shipped_at": {"en": "Shipped at", "zh": "发运时间"},
    "received_at": {"en": "Received at", "zh": "收货时间"},
    "transit": {"en": "In transit", "zh": "在途"},
    "actions": {"en": "Actions", "zh": "操作"},
    "no_actions": {"en": "No action is open to you in this state.", "zh": "当前状态下您没有可执行的操作。"},
    "lines_title": {"en": "Lines", "zh": "明细"},
    "product": {"en": "Product", "zh": "产品"},
    "name": {"en": "Name", "zh": "名称"},
    "class": {"en": "Class", "zh": "管理类别"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "expiry": {"en": "Expiry", "zh": "有效期至"},
    "reserved": {"en": "Reserved", "zh": "已预留"},
    "picked": {"en": "Picked", "zh": "已拣货"},
    "shipped": {"en": "Shipped", "zh": "已发运"},
    "received": {"en": "Received", "zh": "已收货"},
    "pick_list": {"en": "Pick list", "zh": "拣货单"},
    "pick_none": {"en": "Nothing is reserved yet: stock is reserved on approval.",
                  "zh": "尚未预留库存：批准后自动预留。"},
    "location": {"en": "Bin", "zh": "库位"},
    "scan": {"en": "Scan (UDI barcode)", "zh": "扫码（UDI 条码）"},
    "scan_pick": {"en": "Confirm pick", "zh": "确认拣货"},
    "receive_title": {"en": "Receive", "zh": "收货"},
    "damaged": {"en": "Damaged", "zh": "破损"},
    "in_transit_qty": {"en": "In transit", "zh": "在途数量"},
    "complete": {"en": "Receipt complete (anything not received becomes a shortage)",
                 "zh": "收货完成（未收到的数量记为短少）"},
    "receive_button": {"en": "Confirm receipt", "zh": "确认收货"},
    "exceptions": {"en": "Receiving exceptions", "zh": "收货异常"},
    "exceptions_none": {"en": "No receiving exceptions.", "zh": "无收货异常。"},
    "kind": {"en": "Kind", "zh": "类型"},
    "status": {"en": "Status", "zh": "状态"},
    "resolution": {"en": "Resolution", "zh": "处理方式"},
    "write_off": {"en": "Write off", "zh": "报损"},
    "return_to_source": {"en": "Return to source", "zh": "退回调出仓"},
    "accept": {"en": "Accept", "zh": "接受"},
    "short": {"en": "Short", "zh": "短少"},
    "damaged_kind": {"en": "Damaged", "zh": "破损"},
    "open_status": {"en": "Open", "zh": "待处理"},
    "resolved_status": {"en": "Resolved", "zh": "已处理"},
    "history": {"en": "History and signatures", "zh": "审批记录与电子签名"},
    "history_none": {"en": "No action taken yet.", "zh": "尚无操作记录。"},
    "when": {"en": "When (UTC)", "zh": "时间 (UTC)"},
    "who": {"en": "Who", "zh": "操作人"},
    "action": {"en": "Action", "zh": "操作"},
    "transition": {"en": "From → to", "zh": "状态变化"},
    "comment": {"en": "Comment", "zh": "意见"},
    "signature": {"en": "Electronic signature", "zh": "电子签名"},
    "signed": {"en": "Signed by {who} at {at}, meaning: {meaning}",
               "zh": "{who} 于 {at} 签署，含义：{meaning}"},
    # the action dialog
    "comment_required": {"en": "Comment (required)", "zh": "意见（必填）"},
    "comment_optional": {"en": "Comment (optional)", "zh": "意见（选填）"},
    "password": {"en": "Your password", "zh": "您的登录密码"},
    "sign_notice": {"en": "This action is signed electronically. Re-enter your password to sign; "
                          "the meaning of your signature is recorded:",
                    "zh": "此操作需要电子签名。请再次输入您的密码进行签署，签名含义将被记录："},
    "confirm": {"en": "Confirm", "zh": "确认"},
    "close": {"en": "Cancel", "zh": "取消"},
    "working": {"en": "Working…", "zh": "处理中…"},
    "confirm_cancel": {"en": "Cancel transfer {name}?", "zh": "确定取消调拨单 {name}？"},
    "need_comment": {"en": "Please enter a comment.", "zh": "请填写意见。"},
    "need_password": {"en": "Please enter your password to sign.", "zh": "请输入密码以签名。"},
    "failed": {"en": "The server refused the request", "zh": "服务器拒绝了请求"},
    "done": {"en": "Done.", "zh": "完成。"},
    "choose": {"en": "(choose)", "zh": "（请选择）"},
}
MEANINGS = {"approval": {"en": "approval", "zh": "批准"},
            "review": {"en": "review", "zh": "审核"},
            "responsibility": {"en": "responsibility", "zh": "责任确认"}}
JS_TEXT = ("comment_required", "comment_optional", "password", "sign_notice", "confirm", "close",
           "working", "confirm_cancel", "need_comment", "need_password", "failed", "done",
           "carrier", "vehicle", "tracking_no", "eta", "choose")


def language() -> str:
    return current_language()


class Texts:
    """``t('pending')`` or ``t('more', n=3)`` in the request's language."""

    def __init__(self, lang: str):
        self.lang = lang

    def __call__(self, key: str, **values) -> str:
        label = TEXT[key]
        text = label.get(self.lang) or label["en"]
        return text.format(**values) if values else text

    def count(self, key: str, n: int, **values) -> str:
        """``key_one`` for exactly one, where the language has it; else ``key``."""
        if n == 1 and f"{key}_one" in TEXT:
            return self(f"{key}_one", n=n, **values)
        return self(key, n=n, **values)

    def meaning(self, meaning: str | None) -> str:
        if not meaning:
            return ""
        label = MEANINGS.get(meaning, {"en": meaning})
        return label.get(self.lang) or label["en"]

    def js(self) -> dict:
        return {k: self(k) for k in JS_TEXT}


def _day(value) -> str:
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _when(iso: str | None) -> str:
    return (iso or "").replace("T", " ")[:19]


# ------------------------------------------------------------------------- board
def board_data(ctx, lang: str, today: dt.date | None = None) -> dict:
    """Everything the board shows, grouped by workflow state, in one query for
    the transfers (warehouses and lines loaded with it)."""
    wf = transfers.workflow(ctx)
    m = ctx.models
    T, TL = m["TransferOrder"], m["TransferLine"]
    today = today or dt.date.today()
    final = [s for s in wf.states if wf.is_final(s)]
    cutoff = ctx.now() - dt.timedelta(days=FINISHED_DAYS)
    stmt = (sa.select(T)
            .options(joinedload(T.from_warehouse), joinedload(T.to_warehouse),
                     selectinload(T.lines).joinedload(TL.product))
            .where(sa.or_(T.state.not_in(final), T.updated_at >= cutoff))
            .order_by(sa.case((T.priority == "urgent", 0), else_=1),
                      T.requested_date.is_(None), T.requested_date, T.id))
    scope = ctx.actor.warehouse_ids
    if scope is not None:
        ids = list(scope)
        stmt = stmt.where(sa.or_(T.from_warehouse_id.in_(ids), T.to_warehouse_id.in_(ids)))
    rows = ctx.session.execute(stmt).unique().scalars().all()

    columns = {name: [] for name in wf.states}
    pending, overdue_count = [], 0
    for t in rows:
        card = _card(ctx, wf, t, lang, today, final)
        overdue_count += card["overdue"]
        columns.setdefault(t.state, []).append(card)
        if any(a["action"] in APPROVAL_ACTIONS for a in card["actions"]):
            pending.append(card)

    def column(name):
        cards = columns.get(name, [])
        return {"state": name, "label": wf.state_label(name, lang) if name in wf.states else name,
                "final": name in final, "count": len(cards), "cards": cards[:CARDS_PER_STATE],
                "more": max(0, len(cards) - CARDS_PER_STATE)}

    return {"pending": pending,
            "active": [column(s) for s in wf.states if s not in final],
            "finished": [column(s) for s in wf.states if s in final],
            "state_labels": {s: wf.state_label(s, lang) for s in wf.states},
            "finished_days": FINISHED_DAYS,
            "total": len(rows), "overdue": overdue_count,
            "carriers": _carriers(ctx)}


def _card(ctx, wf, t, lang, today, final) -> dict:
    overdue_days = 0
    if t.state == "shipped" and t.expected_arrival and t.expected_arrival < today:
        overdue_days = (today - t.expected_arrival).days
    actions = [] if t.state in final else transfers.allowed_actions(ctx, t, lang)
    return {
        "id": t.id, "name": t.name, "state": t.state,
        "from": t.from_warehouse.code, "from_name": t.from_warehouse.name,
        "to": t.to_warehouse.code, "to_name": t.to_warehouse.name,
        "priority": t.priority or "normal", "urgent": t.priority == "urgent",
        "requested_date": _day(t.requested_date), "expected_arrival": _day(t.expected_arrival),
        "overdue": bool(overdue_days), "overdue_days": overdue_days,
        "lines": len(t.lines), "total_value": format_quantity(t.total_value or 0),
        "reason": t.reason or "", "created_by": t.created_by or "",
        "actions": [dict(a, to_label=wf.state_label(a["to"], lang)) for a in actions],
    }


def _carriers(ctx) -> list[dict]:
    P = ctx.models["Partner"]
    rows = ctx.session.execute(sa.select(P.code, P.name).where(P.kind == "carrier")
                               .order_by(P.code)).all()
    return [{"code": c, "name": n} for c, n in rows]


# ------------------------------------------------------------------------ detail
def detail_data(ctx, ref: str, lang: str) -> dict:
    transfer = transfers.get_transfer(ctx, ref)  # NotFound outside the user's scope
    wf = transfers.workflow(ctx)
    data = transfers.transfer_detail(ctx, transfer, lang)
    data["from_name"] = transfer.from_warehouse.name
    data["to_name"] = transfer.to_warehouse.name
    data["overdue"] = bool(transfer.state == "shipped" and transfer.expected_arrival
                           and transfer.expected_arrival < dt.date.today())
    for a in data["allowed_actions"]:
        a["to_label"] = wf.state_label(a["to"], lang)
    labels = {s: wf.state_label(s, lang) for s in wf.states}
    action_labels = {}
    for transition in wf.transitions:
        action_labels.setdefault(transition.action, transition.label(lang))
    for h in data["history"]:
        h["from_label"] = labels.get(h["from"], h["from"])
        h["to_label"] = labels.get(h["to"], h["to"])
        h["action_label"] = action_labels.get(h["action"], h["action"])
        h["at_text"], h["signed_at_text"] = _when(h["at"]), _when(h["signed_at"])
    data["shipped_at_text"], data["received_at_text"] = _when(data["shipped_at"]), _when(data["received_at"])
    data["in_transit_lines"] = _in_transit_lines(ctx, transfer)
    data["carriers"] = _carriers(ctx)
    return data


def _in_transit_lines(ctx, transfer) -> list[dict]:
    """What is still on the truck, per product, lot and serial: the receive form's rows."""
    if not transfer.transit_location_id:
        return []
    m = ctx.models
    B, P, Lot, S = m.table("stock_balance"), m["Product"], m["Lot"], m["Serial"]
    rows = ctx.session.execute(
        sa.select(P.sku, P.name, Lot.lot_number, S.serial_number, sa.func.sum(B.c.quantity))
        .join(P, P.id == B.c.product_id)
        .outerjoin(Lot, Lot.id == B.c.lot_id).outerjoin(S, S.id == B.c.serial_id)
        .where(B.c.location_id == transfer.transit_location_id, B.c.quantity > 0)
        .group_by(P.sku, P.name, Lot.lot_number, S.serial_number)
        .order_by(P.sku, Lot.lot_number, S.serial_number)).all()
    return [{"sku": sku, "name": name, "lot": lot, "serial": serial, "quantity": format_quantity(q)}
            for sku, name, lot, serial, q in rows]


# ------------------------------------------------------------------------- views
def register(appbuilder, runtime: Runtime) -> list[str]:
    """Add the board and the detail page; return their menu names."""

    class TransferPagesView(BaseView):
        route_base = "/transfers"
        default_view = "board"
        class_permission_name = "TransferOrder"
        method_permission_name = {"board": "read", "detail": "read"}

        def _page(self, template: str, **kw):
            lang = language()
            t = Texts(lang)
            sm = self.appbuilder.sm
            can = {verb: sm.has_access(f"can_{verb}", "TransferOrder")
                   for verb in ("write", "print")}
            return self.render_template(template, t=t, lang=lang, js_text=t.js(), can=can,
                                        actor=current_actor(), **kw)

        @expose("/board/")
        @has_access
        def board(self):
            ctx = service_context()
            data = board_data(ctx, language())
            return self._page("medtrace/transfer_board.html", board=data,
                              title=Texts(language())("board"))

        @expose("/<ref>/")
        @has_access
        def detail(self, ref):
            ctx = service_context()
            try:
                data = detail_data(ctx, ref, language())
            except NotFound:
                abort(404)
            return self._page("medtrace/transfer_detail.html", tr=data,
                              title=f"{Texts(language())('detail')} {data['name']}")

    category_label = lazy(runtime.meta.modules.get("transfers", {"en": "Transfers", "zh": "调拨"}))
    appbuilder.add_view(TransferPagesView, BOARD_MENU, label=lazy(TEXT["board"]),
                        icon="fa-columns", category="transfers", category_label=category_label)
    return [(BOARD_MENU, "TransferOrder", "read")]
