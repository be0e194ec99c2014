"""app.core.cel_fast against the CEL binding: where the Python answers, it is CEL's answer.

Expressions are generated from the subset's grammar (and beyond it) over real simulated
events with nulls, missing fields, mixed types, overflow and division by zero; each is
evaluated both ways. The fast path may defer; it may never differ.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import cel
from app.core.cel import Bound, compile_expression
from app.core.cel_fast import Defer, compile_fast
from app.devtools.simulator import generate_events
from app.rules import default_document
from tests.support.hypothesis_profiles import examples

EVENTS = generate_events(400, seed=11, start_ms=1_795_327_200_000, players=30, tables=4)
PROFILES = [
    {"vip_tier": "GOLD", "country": "MT", "segments": ["high-roller"], "self_excluded": False},
    {"vip_tier": "NONE", "country": None, "segments": [], "self_excluded": True},
]
STATES = [{"xp": 0, "points": 0, "level": 1}, {"xp": 120, "points": 9_999, "level": 3}]

FIELDS = [
    "event.event_type",
    "event.game",
    "event.game_variant",
    "event.player_id",
    "event.bet",
    "event.bet.bet_type",
    "event.bet.stake_minor",
    "event.bet.currency",
    "event.settlement.outcome",
    "event.settlement.payout_minor",
    "event.settlement.hand",
    "event.attributes.seat",
    "event.no_such_field",
    "profile.vip_tier",
    "profile.country",
    "profile.segments",
    "profile.self_excluded",
    "state.xp",
    "state.points",
    "state.level",
]
LITERALS = [
    "0",
    "1",
    "100",
    "9223372036854775807",
    '"WIN"',
    '"LOSS"',
    '"banker"',
    "'GOLD'",
    '"natural_blackjack"',
    '""',
    "true",
    "false",
    "null",
    "1.5",
    '["WIN", "PUSH"]',
    '["GOLD", 1]',
    "[]",
]

atoms = st.sampled_from(FIELDS + LITERALS)


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(
        children,
        st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "&&", "||"]),
        children,
    ).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    return st.one_of(
        binary,
        children.map(lambda c: f"!{c}"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"{c}.size()"),  # outside the subset: CEL's alone
    )


untyped = st.recursive(atoms, combine, max_leaves=6)

# Well-typed ones too, so most get past CEL's checker and exercise && and || for real.
numbers = st.recursive(
    st.sampled_from(
        ["event.bet.stake_minor", "event.settlement.payout_minor", "state.xp", "0", "7", "100"]
    ),
    lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=4,
)
strings = st.sampled_from(
    ["event.settlement.outcome", "event.bet.bet_type", "profile.vip_tier", "event.game_variant"]
)
comparisons = st.one_of(
    st.tuples(strings, st.sampled_from(["==", "!="]), st.sampled_from(LITERALS[4:10])),
    st.tuples(numbers, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers),
    st.tuples(strings, st.just("in"), st.sampled_from(['["WIN", "PUSH"]', "profile.segments"])),
).map(" ".join)
conditions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(" ".join),
        inner.map(lambda c: f"!({c})"),
    ),
    max_leaves=5,
)
expressions = st.one_of(untyped, numbers, conditions)


def same(fast_value: object, result: object) -> bool:
    """The Python value is what the binding gave (a bool is not an int, nor 1 == 1.0)."""
    if result.type() == cel._ERROR:
        return False
    value = result.value()
    return type(fast_value) is type(value) and fast_value == value


@settings(max_examples=examples(3000), deadline=None)
@given(
    source=expressions,
    event=st.sampled_from(EVENTS),
    profile=st.sampled_from(PROFILES),
    state=st.sampled_from(STATES),
)
def test_where_the_fast_path_answers_it_answers_as_cel(source, event, profile, state):
    try:
        program = cel._ENV.compile(source)
    except RuntimeError:
        return  # not CEL at all (or ill-typed): nothing to compare
    fast = compile_fast(source)
    if fast is None:
        return
    variables = {"event": event, "profile": profile, "state": state}
    try:
        value = fast(variables)
    except Defer:
        return
    result = program.eval(Bound(variables).cel)
    assert same(value, result), (source, value, result.type(), result.value())


def test_every_expression_of_the_shipped_ruleset_is_compiled_but_the_method_call():
    doc = default_document()
    sources = []
    for rule in doc["rules"]:
        sources += [rule.get("when"), *(m.get("when") for m in rule.get("multipliers", []))]
        trigger = rule.get("trigger") or {}
        sources += [trigger.get("counts"), trigger.get("breaks")]
        amount = rule["reward"].get("amount")
        sources.append(amount if isinstance(amount, str) else None)
    compiled = {s: compile_fast(s) is not None for s in sources if s}
    assert compiled.pop('event.chat_text.lowerAscii().contains("birthday")') is False
    assert compiled and all(compiled.values()), compiled


@pytest.mark.parametrize(
    ("source", "variables", "expected"),
    [
        ('event.settlement.outcome == "WIN"', {"event": {"settlement": None}}, Defer),
        ('event.settlement.outcome == "WIN"', {"event": {"settlement": {"outcome": "WIN"}}}, True),
        ("event.bet.stake_minor / 100", {"event": {"bet": {"stake_minor": -250}}}, -2),
        ("event.bet.stake_minor / 0", {"event": {"bet": {"stake_minor": 5}}}, Defer),
        ("state.xp * 9223372036854775807", {"state": {"xp": 2}}, Defer),
        ('false && event.x == "y"', {"event": {}}, False),
        ('true || event.x == "y"', {"event": {}}, True),
        ('event.x == "y" || true', {"event": {}}, Defer),
        ("state.level == true", {"state": {"level": 1}}, False),  # a bool is not an int
        ('event.game_variant == "Lightning Roulette"', {"event": {"game_variant": None}}, False),
        ("event.bet != null", {"event": {"bet": None}}, False),
        ("event.bet == null", {"event": {"bet": {"stake_minor": 5}}}, False),
        ("state.xp == state.ratio", {"state": {"xp": 1, "ratio": 1.0}}, Defer),  # 1 == 1.0
        ('profile.country in ["MT", "DE"]', {"profile": {"country": "MT"}}, True),
    ],
)
def test_certain_answers_and_deferrals(source, variables, expected):
    fast = compile_fast(source)
    assert fast is not None
    if expected is Defer:
        with pytest.raises(Defer):
            fast(variables)
    else:
        assert fast(variables) == expected


@pytest.mark.parametrize(
    "source",
    [
        'event.chat_text.contains("x")',
        "has(event.bet)",
        "event.bet.stake_minor > 1.5",
        'event.game == "A" ? 1 : 2',
        r'event.game == "\u0041"',
        'r"raw" == event.game',
        "event.attributes['seat'] == '1'",
        "event.bet.stake_minor % 2 == 0",
        "10u == 10u",
        "x == 1",
    ],
)
def test_what_is_outside_the_subset_is_left_to_cel(source):
    assert compile_fast(source) is None


def test_conditions_and_values_give_cels_answer_either_way():
    """The same Condition and Value on events where the fast path answers and defers."""
    when = compile_expression('event.settlement.outcome == "LOSS"', "bool")
    amount = compile_expression("event.bet.stake_minor / 100", "number")
    assert when.fast is not None and amount.fast is not None
    for event in EVENTS:
        bound = Bound({"event": event, "profile": PROFILES[0], "state": STATES[0]})
        result = when.program.eval(bound.cel)
        assert when(bound) is (result.type() == cel._BOOL and result.value() is True)
        result = amount.program.eval(bound.cel)
        expected = result.value() if result.type() in cel._NUMBERS else None
        assert amount(bound) == expected
