"""Paging arguments of list endpoints: ``page`` and ``page_size``."""
from __future__ import annotations

from flask import request

from app.domain.errors import ValidationFailed


def page_args(max_size: int = 200) -> tuple[int, int]:
    """(limit, offset) from ``page`` and ``page_size``; 422 for anything else."""
    out = []
    for name, default, top in (("page", 1, 10**6), ("page_size", 50, max_size)):
        raw = request.args.get(name)
        if raw is None or raw == "":
            out.append(default)
            continue
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= top:
            raise ValidationFailed(f"{name} must be a whole number from 1 to {top}",
                                   zh=f"{name} 必须是 1 到 {top} 之间的整数")
        out.append(int(raw))
    page, size = out
    return size, (page - 1) * size
