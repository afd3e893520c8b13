"""Purpose-built transfer pages: the transfer board (调拨看板) and a transfer's
detail page, with the workflow actions the signed-in user may take.

Both pages read through the transfer services (scope, allowed actions) and
act through the REST API (``/api/v1/transfers/...``) from the browser, so a
button and an API call take exactly the same path.
"""
from __future__ import annotations


from flask import abort, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.actor import current_actor
from app.domain.errors import NotFound
from app.i18n import business_zone, current_language, lazy, zone_text
from app.runtime import Runtime
from app.web.requests import service_context
from app.transfers.board import transfer_board, transfer_page
from app.transfers.entry import destination_of, may_edit

BOARD_MENU = "TransferBoard"

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
    "new": {"en": "New transfer", "zh": "新建调拨单"},
    "put_away": {"en": "Put away what arrived", "zh": "上架已到货物"},
    "note": {"en": "Note", "zh": "说明"},
    "edit": {"en": "Edit draft", "zh": "修改草稿"},
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
    "receive_scan_hint": {"en": "Scan each unit as it comes off the truck: identical units add up on their line. "
                                "Or count by hand, or take everything as arrived.",
                          "zh": "卸货时逐件扫码，相同货物自动累加到同一行；也可手工填写数量，或按全部到货处理。"},
    "all_arrived": {"en": "Everything arrived", "zh": "全部到货"},
    "counted": {"en": "Counted {n} of {m} units", "zh": "已清点 {n} / {m} 件"},
    "not_on_truck": {"en": "{what} is not on this transfer's truck", "zh": "{what} 不在本调拨单的在途货物中"},
    "all_counted": {"en": "all {n} units of {what} are counted already", "zh": "{what} 的 {n} 件已全部清点"},
    "confirm_nothing": {"en": "Nothing is counted as received: every unit still in transit will be recorded "
                              "as short. Continue?",
                        "zh": "尚未清点任何到货：所有在途货物将记为短少。确定继续？"},
    "scan_refused": {"en": "Scan refused", "zh": "扫码被拒绝"},
    "unknown_di": {"en": "No product has UDI-DI {di}", "zh": "没有产品的 UDI-DI 为 {di}"},
    "lot_of": {"en": "lot {lot} of {sku}", "zh": "{sku} 批次 {lot}"},
    "serial_of": {"en": "serial {serial} of {sku}", "zh": "{sku} 序列号 {serial}"},
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
    "when": {"en": "When ({zone})", "zh": "时间（{zone}）"},
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
           "carrier", "vehicle", "tracking_no", "eta", "choose", "counted", "not_on_truck", "all_counted",
           "confirm_nothing", "scan_refused", "unknown_di", "lot_of", "serial_of")


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
                   for verb in ("create", "write", "print")}
            return self.render_template(template, t=t, lang=lang, js_text=t.js(), can=can,
                                        actor=current_actor(), zone=zone_text(), **kw)

        @expose("/board/")
        @has_access
        def board(self):
            ctx = service_context()
            data = transfer_board(ctx, language())
            return self._page("medtrace/transfer_board.html", board=data,
                              title=Texts(language())("board"))

        @expose("/<ref>/")
        @has_access
        def detail(self, ref):
            ctx = service_context()
            try:
                data = transfer_page(ctx, ref, language(), zone=business_zone())
            except NotFound:
                abort(404)
            putaway_url = None
            arrived = any(line["received"] != "0" for line in data["lines"])
            if arrived and self.appbuilder.sm.has_access("can_create", "InternalMove"):
                here = destination_of(ctx, ref)
                putaway_url = url_for("PutAwayView.putaway", warehouse=here) if here else None
            return self._page("medtrace/transfer_detail.html", tr=data, editable=may_edit(ctx, ref),
                              putaway_url=putaway_url,
                              title=f"{Texts(language())('detail')} {data['name']}")

    category_label = lazy(runtime.meta.modules.get("transfers", {"en": "Transfers", "zh": "调拨"}))
    appbuilder.add_view(TransferPagesView, BOARD_MENU, label=lazy(TEXT["board"]),
                        icon="fa-columns", category="transfers", category_label=category_label)
    return [(BOARD_MENU, "TransferOrder", "read")]
