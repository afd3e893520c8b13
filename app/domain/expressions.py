"""CEL expressions used in metadata (rules, show_if, workflow conditions, alerts).

Evaluated with the ``common-expression-language`` package: sandboxed and typed,
never Python ``eval``. CEL has no decimal type, so Decimals are passed as doubles;
expressions only compare them, the stored values stay exact.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterator, Mapping

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


_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NAMES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=4096)
def names_in(expr: str) -> frozenset[str]:
    """Every identifier an expression mentions (string literals left out): the
    variables it may read, plus function and macro names, which do no harm."""
    return frozenset(_NAMES.findall(_STRINGS.sub("", expr)))


class LazyContext(Mapping):
    """A context whose costly values are computed only when an expression names
    them (e.g. a document's units still in transit), each once, and converted for
    CEL once."""

    def __init__(self, values: Mapping[str, Any], lazy: Mapping[str, Callable[[], Any]] | None = None):
        self._values = dict(values)
        self._lazy = dict(lazy or {})
        self._cel: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            if key not in self._lazy:
                raise KeyError(key)
            self._values[key] = self._lazy[key]()
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._values
        yield from (k for k in self._lazy if k not in self._values)

    def __len__(self) -> int:
        return len(set(self._values) | set(self._lazy))

    def cel_values(self, expr: str) -> dict:
        out = {}
        for name in names_in(expr):
            if name in self._values or name in self._lazy:
                if name not in self._cel:
                    self._cel[name] = to_cel_value(self[name])
                out[name] = self._cel[name]
        return out


def evaluate(expr: str, context: Mapping[str, Any]) -> Any:
    """Evaluate ``expr`` against ``context``; raise ExpressionError on failure."""
    program = compile_expression(expr)
    values = context.cel_values(expr) if isinstance(context, LazyContext) else to_cel_value(dict(context))
    try:
        return program.execute(values)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ExpressionError(f"{expr!r} failed: {str(exc).splitlines()[0]}") from exc


def evaluate_bool(expr: str, context: Mapping[str, Any]) -> bool:
    """Evaluate an expression that must answer true or false."""
    result = evaluate(expr, context)
    if not isinstance(result, bool):
        raise ExpressionError(f"{expr!r} must be true or false, got {result!r}")
    return result
