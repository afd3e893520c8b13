"""CEL conditions of alert rules, evaluated by the database.

A scheduled rule looks at every lot (or transfer, or policy) at once, so its
condition becomes part of the rule's SQL instead of being evaluated row by row
in Python. This module parses the subset of CEL such conditions use and turns
it into a SQLAlchemy expression over the rule's columns:

    literals      1  2.5  'text'  "text"  true  false  null  [a, b, ...]
    names         the rule's columns (quantity, days_left, status ...) and ``today``
    operators     !  -  *  /  %  +  -  <  <=  >  >=  ==  !=  in  &&  ||  ( )

The expression is checked by the CEL compiler first (``app.domain.expressions``);
this parser then refuses, at load time, anything outside the subset and any
name that is not a column. A comparison with a missing value (SQL NULL) is
false; ``x == null`` / ``x != null`` test for a missing value.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Mapping

import sqlalchemy as sa

from app.domain.expressions import ExpressionError, compile_expression

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<float>\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>\d+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||==|!=|<=|>=|[<>!+\-*/%()\[\],])
""", re.VERBOSE)
_KEYWORDS = {"true": True, "false": False, "null": None}
_BINARY = [("||",), ("&&",), ("==", "!=", "<", "<=", ">", ">=", "in"), ("+", "-"), ("*", "/", "%")]


class ConditionError(ValueError):
    """The condition is not CEL, or uses what the database cannot evaluate."""


def _tokens(expr: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise ConditionError(f"unexpected {expr[pos:pos + 10]!r} at position {pos}")
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            continue
        if kind == "int":
            out.append(("lit", int(text)))
        elif kind == "float":
            out.append(("lit", float(text)))
        elif kind == "str":
            out.append(("lit", bytes(text[1:-1], "utf-8").decode("unicode_escape")))
        elif kind == "name":
            if text in _KEYWORDS:
                out.append(("lit", _KEYWORDS[text]))
            elif text == "in":
                out.append(("op", "in"))
            else:
                out.append(("name", text))
        else:
            out.append(("op", text))
    out.append(("end", None))
    return out


class _Parser:
    def __init__(self, expr: str):
        self.tokens = _tokens(expr)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos]

    def take(self, op: str | None = None):
        token = self.tokens[self.pos]
        if op is not None and token != ("op", op):
            raise ConditionError(f"expected {op!r}")
        self.pos += 1
        return token

    def parse(self):
        node = self.binary(0)
        if self.peek()[0] != "end":
            raise ConditionError(f"unexpected {self.peek()[1]!r}: alert conditions support "
                                 "comparisons, && || !, arithmetic and 'in [...]'")
        return node

    def binary(self, level: int):
        if level == len(_BINARY):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in _BINARY[level]:
            op = self.take()[1]
            node = ("bin", op, node, self.binary(level + 1))
            if level == 2 and self.peek()[0] == "op" and self.peek()[1] in _BINARY[2]:
                raise ConditionError("chained comparisons need parentheses")
        return node

    def unary(self):
        kind, value = self.peek()
        if kind == "op" and value in ("!", "-"):
            self.take()
            return ("not" if value == "!" else "neg", self.unary())
        return self.primary()

    def primary(self):
        kind, value = self.take()
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if self.peek() == ("op", "("):
                raise ConditionError(f"functions such as {value}() are not supported in alert conditions")
            return ("name", value)
        if (kind, value) == ("op", "("):
            node = self.binary(0)
            self.take(")")
            return node
        if (kind, value) == ("op", "["):
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.binary(0))
                if self.peek() == ("op", ","):
                    self.take()
                elif self.peek() != ("op", "]"):
                    raise ConditionError("expected ',' or ']' in a list")
            self.take("]")
            return ("list", items)
        raise ConditionError(f"unexpected {value!r}")


def parse_condition(expr: str):
    """The condition's tree; ConditionError when it is not CEL or not supported."""
    try:
        compile_expression(expr)
    except ExpressionError as exc:
        raise ConditionError(str(exc)) from None
    return _Parser(expr).parse()


def names_of(node) -> set[str]:
    kind = node[0]
    if kind == "name":
        return {node[1]}
    if kind == "lit":
        return set()
    if kind == "list":
        return set().union(*(names_of(n) for n in node[1])) if node[1] else set()
    if kind in ("not", "neg"):
        return names_of(node[1])
    return names_of(node[2]) | names_of(node[3])


def condition_problem(expr: str, columns) -> str | None:
    """Why ``expr`` cannot be a scheduled alert's condition over ``columns``, or None."""
    try:
        node = parse_condition(expr)
    except ConditionError as exc:
        return str(exc)
    unknown = sorted(names_of(node) - set(columns) - {"today"})
    if unknown:
        return (f"unknown name{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                f"this rule's fields are: {', '.join(sorted(columns))}")
    return None


def to_sql(expr: str, columns: Mapping[str, Any], today: dt.date):
    """The condition as a SQLAlchemy boolean expression over ``columns``."""
    return _Sql(columns, today).build(parse_condition(expr))


class _Sql:
    def __init__(self, columns: Mapping[str, Any], today: dt.date):
        self.columns, self.today = columns, today

    def build(self, node):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            return self.today if node[1] == "today" else self.columns[node[1]]
        if kind == "list":
            return [self.build(n) for n in node[1]]
        if kind == "not":
            return sa.not_(self._bool(self.build(node[1])))
        if kind == "neg":
            return -self.build(node[1])
        op, left, right = node[1], self.build(node[2]), self.build(node[3])
        if op == "&&":
            return sa.and_(self._bool(left), self._bool(right))
        if op == "||":
            return sa.or_(self._bool(left), self._bool(right))
        if op == "in":
            if not isinstance(right, list):
                raise ConditionError("'in' needs a list: x in ['a', 'b']")
            return self._column(left).in_([self._like(left, v) for v in right])
        if op in ("==", "!=") and (left is None or right is None):
            other = self._column(right if left is None else left)
            return other.is_(None) if op == "==" else other.isnot(None)
        left, right = self._column(left, right), self._column(right, left)
        return {"==": left.__eq__, "!=": left.__ne__, "<": left.__lt__, "<=": left.__le__,
                ">": left.__gt__, ">=": left.__ge__, "+": left.__add__, "-": left.__sub__,
                "*": left.__mul__, "/": left.__truediv__, "%": left.__mod__}[op](right)

    @staticmethod
    def _bool(value):
        return sa.true() if value is True else sa.false() if value is False else value

    def _column(self, value, other=None):
        if isinstance(value, sa.sql.ClauseElement):
            return value
        return sa.literal(self._like(other, value)) if other is not None else sa.literal(value)

    @staticmethod
    def _like(column, value):
        """A literal in the column's type (a date column compares with a date)."""
        kind = getattr(column, "type", None)
        if isinstance(kind, sa.Date) and isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ConditionError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        if isinstance(kind, sa.Date) and isinstance(value, dt.date):
            return value
        return value
