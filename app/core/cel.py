"""Rule expressions in Google's Common Expression Language, via ``cel-expr-python``.

The one module that knows the CEL binding (chosen for speed on dict input and spec
fidelity: see the README). Expressions are type-checked when a rule version compiles, so a
typo is refused at push time; at run time an evaluation error (a field of a null record,
say) reads as "no match" for a condition and "nothing" for an amount, never as a crash.
"""

from __future__ import annotations

from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_strings

from app.core.samples import SAMPLE_PROFILE, SAMPLE_STATE, sample_event

_DYN_MAP = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
#: The variables every expression sees.
VARIABLES = ("event", "profile", "state")
_ENV = cel.NewEnv(
    variables={name: _DYN_MAP for name in VARIABLES},
    extensions=[ext_strings.ExtStrings()],
)
_BOOL, _ERROR, _DYN = cel.Type.BOOL, cel.Type.ERROR, cel.Type.DYN
_NUMBERS = (cel.Type.INT, cel.Type.UINT, cel.Type.DOUBLE)
EXPECT = ("bool", "number")


class ExpressionError(ValueError):
    """An expression that does not compile, or has the wrong type for its place."""


def activation(variables: dict[str, Any]) -> Any:
    """Bind the variables once per event; every rule evaluated on the event shares it."""
    return _ENV.Activation(variables)


class Condition:
    """A compiled boolean expression: True only for a real ``true``."""

    __slots__ = ("program", "source")

    def __init__(self, source: str, program: Any) -> None:
        self.source, self.program = source, program

    def __call__(self, bound: Any) -> bool:
        result = self.program.eval(bound)
        return result.type() == _BOOL and result.value() is True


class Value:
    """A compiled numeric expression: its value, or None when evaluation fails."""

    __slots__ = ("program", "source")

    def __init__(self, source: str, program: Any) -> None:
        self.source, self.program = source, program

    def __call__(self, bound: Any) -> int | float | None:
        result = self.program.eval(bound)
        value = result.value()
        return value if result.type() in _NUMBERS and not isinstance(value, bool) else None


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
                }
            )
        )
        if result.type() == _ERROR:
            problem = str(result.value()).split(": ", 1)[-1]
            raise ExpressionError(f"fails on a complete {event_type} event: {problem}")
        if result.type() not in wanted:
            raise ExpressionError(
                f"must give {what}, but gives {result.type()} on a {event_type} event"
            )
    return (Condition if expect == "bool" else Value)(source, program)
