"""Plain Python for the simple CEL expressions most rules use, with CEL as the referee.

Evaluating through the CEL binding costs a conversion of the event into an activation
and a call per expression: a fifth of a worker's decision time on the shipped ruleset.
Most rule expressions are comparisons of event fields with literals joined by ``&&`` and
``||``, or a little arithmetic on a field. ``compile_fast`` turns such an expression into
nested Python closures over the variables dict; anything else (function and method
calls, macros, maps, ternaries, floats written out, escapes in strings) is not compiled
and stays CEL's alone.

A closure answers only where the answer is certain: values of the one simple type each
operator is defined on here (str, int, bool; float for arithmetic; null and mixed simple
types for ``==`` and ``!=``, as CEL's heterogeneous equality has them), present fields.
A missing field, a null in a path, mixed types anywhere but ``==``/``!=``, a float
compared with an int, a division by zero, an int64 overflow:
it raises ``Defer`` and the caller evaluates the expression with CEL, so the result is
always CEL's (tests/unit/core/test_cel_fast.py compares the two on generated expressions).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: a compiled expression: the variables dict in, the value out (or ``Defer``)
Fast = Callable[[dict[str, Any]], Any]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_ROOTS = frozenset({"event", "profile", "state", "money"})
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<int>\d+)(?![\w.])
      | (?P<str>"[^"\\\n]*"|'[^'\\\n]*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>\|\||&&|==|!=|<=|>=|[<>!+\-*/().\[\],])
    )""",
    re.VERBOSE,
)
_RELATIONS = ("==", "!=", "<", "<=", ">", ">=", "in")


class Defer(Exception):
    """No certain answer here: evaluate the expression with CEL."""


_DEFER = Defer()


class Unsupported(ValueError):
    """An expression outside the subset compiled here."""


def compile_fast(source: str) -> Fast | None:
    """The expression as Python closures, or None if it is outside the subset."""
    try:
        return _Parser(_tokens(source)).parse()
    except Unsupported:
        return None


def _tokens(source: str) -> list[tuple[str, str]]:
    out, pos, end = [], 0, len(source.rstrip())
    while pos < end:
        match = _TOKEN.match(source, pos)
        if match is None:
            raise Unsupported(f"at {source[pos : pos + 10]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


# -- the operations, each certain or deferring ----------------------------------------------


def _int(value: int) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _DEFER
    return value


_SIMPLE = (str, int, bool)


def _eq(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality where it is plain: null equals only null, and values
    of two different simple types (str, int, bool; a bool is not an int) are unequal.
    Floats (``1 == 1.0`` is true), lists and maps are CEL's."""
    if a is None or b is None:
        return a is b
    kind = type(a)
    if kind is type(b) and kind in _SIMPLE:
        return a == b
    if kind in _SIMPLE and type(b) in _SIMPLE:
        return False
    raise _DEFER


def _order(a: Any, b: Any) -> tuple[Any, Any]:
    kind = type(a)
    if kind is not type(b) or not (kind is int or kind is str):
        raise _DEFER
    return a, b


def _in(a: Any, b: Any) -> bool:
    if type(a) is not str or type(b) is not list or any(type(x) is not str for x in b):
        raise _DEFER
    return a in b


def _arith(op: str, a: Any, b: Any) -> Any:
    kind = type(a)
    if kind is not type(b):
        raise _DEFER
    if kind is int:
        if op == "/":
            if b == 0:
                raise _DEFER
            quotient = abs(a) // abs(b)  # CEL truncates toward zero
            return _int(quotient if (a < 0) == (b < 0) else -quotient)
        return _int(a + b if op == "+" else a - b if op == "-" else a * b)
    if kind is float:
        if op == "/":
            if b == 0:
                raise _DEFER
            return a / b
        return a + b if op == "+" else a - b if op == "-" else a * b
    if kind is str and op == "+":
        return a + b
    raise _DEFER


def _not(a: Any) -> bool:
    if type(a) is not bool:
        raise _DEFER
    return not a


def _negate(a: Any) -> Any:
    if type(a) is int:
        return _int(-a)
    if type(a) is float:
        return -a
    raise _DEFER


def _field(value: Any, name: str) -> Any:
    if type(value) is not dict:
        raise _DEFER
    try:
        return value[name]
    except KeyError:
        raise _DEFER from None


# -- the parser: CEL's precedence, one closure per node --------------------------------------


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise Unsupported("the expression ends early")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise Unsupported(f"expected {expected!r}, found {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> Fast:
        node = self.disjunction()
        if self.pos != len(self.tokens):
            raise Unsupported(f"unexpected {self.peek()!r}")
        return _scalar(node)

    def disjunction(self) -> Fast:
        node = self.conjunction()
        while self.peek() == "||":
            self.take()
            node = _junction(node, self.conjunction(), decisive=True)
        return node

    def conjunction(self) -> Fast:
        node = self.relation()
        while self.peek() == "&&":
            self.take()
            node = _junction(node, self.relation(), decisive=False)
        return node

    def relation(self) -> Fast:
        node = self.additive()
        op = self.peek()
        if op in _RELATIONS and (op != "in" or self.tokens[self.pos][0] == "name"):
            self.take()
            right = self.list_literal() if op == "in" and self.peek() == "[" else self.additive()
            node = _relation(op, node, right)
            if self.peek() in _RELATIONS:
                raise Unsupported("chained relations")
        return node

    def additive(self) -> Fast:
        node = self.multiplicative()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = _binary(op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Fast:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            node = _binary(op, node, self.unary())
        return node

    def unary(self) -> Fast:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda v: _not(inner(v))
        if self.peek() == "-":
            self.take()
            inner = self.unary()
            return lambda v: _negate(inner(v))
        return self.member()

    def member(self) -> Fast:
        node = self.primary()
        while self.peek() == ".":
            self.take()
            kind, name = self.take()
            if kind != "name" or self.peek() in ("(", "["):
                raise Unsupported("a method call or an index")
            node = _member(node, name)
        if self.peek() in ("(", "["):
            raise Unsupported("a call or an index")
        return node

    def primary(self) -> Fast:
        kind, text = self.take()
        if kind == "int":
            value = int(text)
            if value > _INT64_MAX:
                raise Unsupported("an int literal beyond int64")
            return lambda v: value
        if kind == "str":
            literal = text[1:-1]
            return lambda v: literal
        if kind == "name":
            if text in ("true", "false"):
                flag = text == "true"
                return lambda v: flag
            if text == "null":
                return lambda v: None
            if text in _ROOTS and self.peek() != "(":
                return lambda v: v[text]
            raise Unsupported(f"the name {text!r}")
        if text == "(":
            node = self.disjunction()
            self.take(")")
            return node
        raise Unsupported(f"{text!r}")

    def list_literal(self) -> Fast:
        """A list, only as the right of ``in``: the one place a list value is certain."""
        self.take("[")
        items: list[Fast] = []
        while self.peek() != "]":
            items.append(self.disjunction())
            if self.peek() != "]":
                self.take(",")
        self.take("]")
        return lambda v: [item(v) for item in items]


_SCALARS = (bool, int, float, str)


def _scalar(node: Fast) -> Fast:
    """An expression's own value must be a scalar: a null, a list or a map CEL gives as
    values of its own, which only CEL's caller knows how to read."""

    def run(v: dict[str, Any]) -> Any:
        value = node(v)
        if type(value) not in _SCALARS:
            raise _DEFER
        return value

    return run


def _junction(left: Fast, right: Fast, decisive: bool) -> Fast:
    """``||`` (``decisive`` True) or ``&&`` (False): the left side alone decides when it
    is the decisive value, even if the right would fail (CEL's commutative logic); the
    left failing, or either side not a bool, is CEL's to answer."""

    def run(v: dict[str, Any]) -> Any:
        a = left(v)
        if a is decisive:
            return decisive
        if type(a) is not bool:
            raise _DEFER
        b = right(v)
        if type(b) is not bool:
            raise _DEFER
        return b

    return run


def _relation(op: str, left: Fast, right: Fast) -> Fast:
    if op == "==":
        return lambda v: _eq(left(v), right(v))
    if op == "!=":
        return lambda v: not _eq(left(v), right(v))
    if op == "in":
        return lambda v: _in(left(v), right(v))
    compare = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]
    return lambda v: compare(*_order(left(v), right(v)))


def _binary(op: str, left: Fast, right: Fast) -> Fast:
    return lambda v: _arith(op, left(v), right(v))


def _member(node: Fast, name: str) -> Fast:
    return lambda v: _field(node(v), name)
