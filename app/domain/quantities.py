"""Quantities are exact decimals: parsed once from what a person or client
sent, formatted without trailing zeros, never rounded silently."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.errors import ValidationFailed

SCALE = 4                      # decimal places a stock quantity may have
MAX_DIGITS = 18                # the column's precision: NUMERIC(18, 4)
_STEP = Decimal(1).scaleb(-SCALE)
_LIMIT = Decimal(10) ** (MAX_DIGITS - SCALE)


def format_quantity(q: Decimal | int) -> str:
    """Exact, without trailing zeros: Decimal('10.0000') -> '10', '2.5000' -> '2.5'."""
    q = Decimal(q)
    return format(q.normalize(), "f") if q != 0 else "0"


def parse_quantity(value: Any, where: str, *, allow_zero: bool = False,
                   scale: int = SCALE) -> Decimal:
    """A positive quantity (zero too with ``allow_zero``) with at most ``scale``
    decimals and within the column's range; anything else is refused with a
    message naming ``where``."""
    zwhere = where.replace("line ", "第 ") + (" 行" if where.startswith("line ") else "")
    if isinstance(value, bool) or isinstance(value, (list, dict)) or value is None:
        raise ValidationFailed(f"{where}: quantity {value!r} is not a number",
                               zh=f"{zwhere}：数量 {value!r} 不是数字")
    try:
        q = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationFailed(f"{where}: quantity {value!r} is not a number",
                               zh=f"{zwhere}：数量 {value!r} 不是数字") from None
    if not q.is_finite():
        raise ValidationFailed(f"{where}: quantity {value!r} is not a number",
                               zh=f"{zwhere}：数量 {value!r} 不是数字")
    if q < 0 or (q == 0 and not allow_zero):
        raise ValidationFailed(f"{where}: quantity must be greater than zero, got {value}",
                               zh=f"{zwhere}：数量必须大于零，实为 {value}")
    if abs(q) >= _LIMIT:
        raise ValidationFailed(f"{where}: quantity {value} is too large (at most {MAX_DIGITS - SCALE} digits "
                               "before the decimal point)",
                               zh=f"{zwhere}：数量 {value} 过大（整数部分最多 {MAX_DIGITS - SCALE} 位）")
    step = Decimal(1).scaleb(-scale)
    if q != q.quantize(step):
        raise ValidationFailed(f"{where}: quantity has more than {scale} decimal places",
                               zh=f"{zwhere}：数量最多保留 {scale} 位小数")
    return q + 0  # normalises -0 to 0
