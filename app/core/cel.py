"""Rule expressions in Google's Common Expression Language, via ``cel-expr-python``.

The one module that knows the CEL binding (chosen for speed on dict input and spec
fidelity: docs/rules.md, "Conditions: CEL"). Expressions are type-checked when a rule
version compiles, so a typo is refused at push time; at run time an evaluation error (a
field of a null record, say) reads as "no match" for a condition and "nothing" for an
amount, never as a crash.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from app.core.cel_fast import Defer, compile_fast
from app.core.samples import SAMPLE_MONEY, SAMPLE_PROFILE, SAMPLE_STATE, sample_event

_DYN_MAP = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
#: The variables every expression sees.
VARIABLES = ("event", "profile", "state", "money")
_ENV = cel.NewEnv(
    variables={name: _DYN_MAP for name in VARIABLES},
    extensions=[ext_strings.ExtStrings()],
)
_BOOL, _ERROR, _DYN = cel.Type.BOOL, cel.Type.ERROR, cel.Type.DYN
_NUMBERS = (cel.Type.INT, cel.Type.UINT, cel.Type.DOUBLE)
#: what ``evaluate`` gives for a CEL error: no value an expression can have
_ERROR_VALUE = object()


class ExpressionError(ValueError):
    """An expression that does not compile, or has the wrong type for its place."""


class Bound:
    """One event's variables, shared by every rule evaluated on the event; converted into
    a CEL activation only when an expression needs CEL (``app.core.cel_fast``)."""

    __slots__ = ("_cel", "variables")

    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self._cel: Any = None

    @property
    def cel(self) -> Any:
        if self._cel is None:
            self._cel = _ENV.Activation(self.variables)
        return self._cel


def activation(variables: dict[str, Any]) -> Bound:
    """Bind the variables once per event."""
    return Bound(variables)


class _Compiled:
    __slots__ = ("fast", "program", "source")

    def __init__(self, source: str, program: Any) -> None:
        self.source, self.program = source, program
        self.fast = compile_fast(source)

    def evaluate(self, bound: Bound) -> Any:
        """The expression's value: Python's where it is certain, else CEL's (an error as
        ``_ERROR_VALUE``, which no condition or amount accepts)."""
        if self.fast is not None:
            try:
                return self.fast(bound.variables)
            except Defer:
                pass
        result = self.program.eval(bound.cel)
        return _ERROR_VALUE if result.type() == _ERROR else result.value()


class Condition(_Compiled):
    """A compiled boolean expression: True only for a real ``true``."""

    __slots__ = ()

    def __call__(self, bound: Bound) -> bool:
        return self.evaluate(bound) is True


class Value(_Compiled):
    """A compiled numeric expression: its value, or None when evaluation fails."""

    __slots__ = ()

    def __call__(self, bound: Bound) -> int | float | None:
        value = self.evaluate(bound)
        return value if type(value) is int or type(value) is float else None


def compile_expression(
    source: str, expect: str = "bool", event_types: tuple[str, ...] = ()
) -> Condition | Value:
    """Compile and type-check ``source``; ``expect`` is "bool" or "number".

    Fields of ``event``/``profile``/``state`` are dynamic to CEL, so the expression is also
    dry-run on a complete sample of each of ``event_types``: an unknown field or a value of
    the wrong type there is an error now rather than a rule that silently never fires.
    """
    try:
        program = _ENV.compile(source)
    except RuntimeError as exc:
        message = str(exc).replace("INVALID_ARGUMENT: ", "").strip()
        raise ExpressionError(f"CEL does not compile: {message}") from None
    wanted = (_BOOL,) if expect == "bool" else _NUMBERS
    what = "true or false" if expect == "bool" else "a number"
    kind = program.return_type()
    if kind not in (*wanted, _DYN):
        raise ExpressionError(f"must give {what}, but {source!r} gives {kind}")
    for event_type in event_types:
        result = program.eval(
            activation(
                {
                    "event": sample_event(event_type),
                    "profile": SAMPLE_PROFILE,
                    "state": SAMPLE_STATE,
                    "money": SAMPLE_MONEY,
                }
            ).cel
        )
        if result.type() == _ERROR:
            problem = str(result.value()).split(": ", 1)[-1]
            raise ExpressionError(f"fails on a complete {event_type} event: {problem}")
        if result.type() not in wanted:
            raise ExpressionError(
                f"must give {what}, but gives {result.type()} on a {event_type} event"
            )
    return (Condition if expect == "bool" else Value)(source, program)
