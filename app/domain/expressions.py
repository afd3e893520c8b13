"""CEL expressions used in metadata (rules, show_if, workflow conditions, alerts).

Evaluated with the ``common-expression-language`` package: sandboxed and typed,
never Python ``eval``. CEL has no decimal type, so Decimals are passed as doubles;
expressions only compare them, the stored values stay exact.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Any, Mapping

import cel


class ExpressionError(ValueError):
    """An expression does not compile, or fails while being evaluated."""


@lru_cache(maxsize=4096)
def compile_expression(expr: str):
    """Compile once and cache; raise ExpressionError with the parser's message."""
    if not isinstance(expr, str) or not expr.strip():
        raise ExpressionError("expression is empty")
    try:
        return cel.compile(expr)
    except (ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExpressionError(f"invalid CEL {expr!r}: {first}") from exc


def to_cel_value(value: Any) -> Any:
    """Convert Python values to what the CEL runtime accepts."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        # dates compare as ISO strings: '2026-01-31' < '2026-02-01'
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_cel_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_cel_value(v) for v in value]
    return value


def evaluate(expr: str, context: Mapping[str, Any]) -> Any:
    """Evaluate ``expr`` against ``context``; raise ExpressionError on failure."""
    program = compile_expression(expr)
    try:
        return program.execute(to_cel_value(dict(context)))
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ExpressionError(f"{expr!r} failed: {str(exc).splitlines()[0]}") from exc


def evaluate_bool(expr: str, context: Mapping[str, Any]) -> bool:
    """Evaluate an expression that must answer true or false."""
    result = evaluate(expr, context)
    if not isinstance(result, bool):
        raise ExpressionError(f"{expr!r} must be true or false, got {result!r}")
    return result
