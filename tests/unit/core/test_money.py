"""Money means the same everywhere: a house currency, rates, and each currency's minor unit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import Engine
from app.core.compile import RulesetError, compile_ruleset
from app.core.money import Currencies, exponent, money_view, rate_of
from tests.support.factories import ms, profile, settled, table_event
from tests.support.rulesets import of_rule, ruleset, run

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000
EUR_HOUSE = Currencies("EUR", {"SEK": rate_of("0.087"), "JPY": rate_of("0.0062")})
CURRENCIES = """
currencies:
  house: EUR
  rates: {SEK: 0.087, JPY: 0.0062}
"""
RULES = """
protection: {daily_points_cap: null}
rules:
  - id: wager-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: money.stake}
  - id: loss-streak-3
    events: [BET_SETTLED]
    trigger: {type: streak, counts: event.settlement.outcome == "LOSS", length: 3}
    once_per: streak
    reward: {kind: CASHBACK_OFFER, percent_of_streak_stakes: 10}
"""


def stake(amount_minor: int, currency: str, at: int = T0) -> dict:
    return table_event(
        occurred_at=at, bet={"bet_type": "main", "stake_minor": amount_minor, "currency": currency}
    )


def lost(amount_minor: int, currency: str, at: int) -> dict:
    bet = {"bet_type": "main", "stake_minor": amount_minor, "currency": currency}
    return settled("LOSS", occurred_at=at, bet=bet)


def test_minor_unit_exponents():
    assert (exponent("EUR"), exponent("SEK"), exponent("JPY"), exponent("KWD")) == (2, 2, 0, 3)


def test_conversion_into_the_house_currency_for_eur_sek_and_jpy():
    assert EUR_HOUSE.to_house(12_345, "EUR") == 12_345
    assert EUR_HOUSE.to_house(10_000, "SEK") == 870  # 100.00 SEK = 8.70 EUR
    assert EUR_HOUSE.to_house(1_000, "JPY") == 620  # 1000 JPY (no minor unit) = 6.20 EUR
    assert EUR_HOUSE.from_house(620, "JPY") == 1_000
    assert EUR_HOUSE.from_house(870, "SEK") == 10_000
    jpy_house = Currencies("JPY", {"EUR": rate_of("161.29"), "SEK": rate_of("14.03")})
    assert jpy_house.to_house(2_500, "EUR") == 4_032  # 25.00 EUR = 4032.25 JPY, rounded
    assert jpy_house.to_house(10_000, "SEK") == 1_403
    assert jpy_house.to_house(7, "JPY") == 7


def test_rounding_is_half_to_even_and_exact():
    half = Currencies("EUR", {"SEK": Fraction(1, 2)})
    assert [half.to_house(n, "SEK") for n in (1, 3, 5)] == [0, 2, 2]
    # 0.1 as written, not as a float: 30 x 0.1 is exactly 3
    assert Currencies("EUR", {"SEK": rate_of(0.1)}).to_house(30, "SEK") == 3


def test_without_a_house_currency_nothing_is_converted():
    plain = Currencies()
    assert plain.to_house(50_000, "JPY") == 50_000 and plain.from_house(5, "SEK") == 5
    assert plain.house_major(4_000, "JPY") == 4_000.0  # whole units, the exponent right
    assert plain.house_major(2_550, "SEK") == 25.5


def test_a_currency_without_a_rate_counts_one_to_one_but_rules_do_not_see_it():
    assert EUR_HOUSE.to_house(1_000, "NOK") == 1_000
    assert EUR_HOUSE.to_house(1_000, "KWD") == 100  # 1.000 KWD counts as 1.00
    assert EUR_HOUSE.house_major(1_000, "NOK") is None
    assert money_view(stake(1_000, "NOK"), {}, EUR_HOUSE) == {}


@given(st.integers(0, 10**12), st.sampled_from(["SEK", "JPY", "EUR"]))
def test_conversion_keeps_order_and_round_trips_within_one_house_minor_unit(amount, currency):
    there = EUR_HOUSE.to_house(amount, currency)
    assert EUR_HOUSE.to_house(amount + 1, currency) >= there
    back = EUR_HOUSE.from_house(there, currency)
    assert abs(EUR_HOUSE.to_house(back, currency) - there) <= 1


#: house and rated currencies of every minor-unit exponent (0, 2, 3, 4), and unrated ones
_HOUSES = ["EUR", "JPY", "KWD", "CLF"]
_CURRENCIES = ["EUR", "JPY", "KWD", "CLF", "SEK", "BHD", "NOK", "ISK"]
_RATES = st.decimals("0.0001", "500", places=4).map(rate_of)


def _fraction_reference(c: Currencies, amount: int, currency: str, inverse: bool) -> int:
    """The conversion as exact fractions, as ``Currencies`` first did it (the specification)."""
    if c.house is None or currency == c.house:
        return amount
    rate = c.rates.get(currency, Fraction(1))
    factor = rate * Fraction(10) ** (exponent(c.house) - exponent(currency))
    return round(amount / factor if inverse else amount * factor)


@given(
    st.sampled_from(_HOUSES),
    st.dictionaries(st.sampled_from(_CURRENCIES[4:]), _RATES, max_size=3),
    st.lists(st.tuples(st.integers(-(10**13), 10**13), st.sampled_from(_CURRENCIES)), max_size=40),
)
def test_integer_conversion_equals_exact_fractions(house, rates, amounts):
    currencies = Currencies(house, rates)
    for amount, currency in amounts:
        there = currencies.to_house(amount, currency)
        assert there == _fraction_reference(currencies, amount, currency, inverse=False)
        assert currencies.from_house(amount, currency) == _fraction_reference(
            currencies, amount, currency, inverse=True
        )
        rated = currency in rates or currency == house
        major = there / 10 ** exponent(house) if rated else None
        assert currencies.house_major(amount, currency) == major


@pytest.mark.parametrize("rate", [Fraction(1, 2), Fraction(3, 2), Fraction(5, 4), Fraction(1, 8)])
def test_integer_rounding_ties_go_to_even_like_fractions(rate):
    currencies = Currencies("EUR", {"SEK": rate})
    for amount in range(-40, 41):
        assert currencies.to_house(amount, "SEK") == round(amount * rate)
        assert currencies.from_house(amount, "SEK") == round(amount / rate)


def test_wager_points_count_whole_house_units_in_every_currency():
    engine = Engine(ruleset(CURRENCIES + RULES))
    bets = [stake(2_500, "EUR"), stake(25_000, "SEK", T0 + 1), stake(4_000, "JPY", T0 + 2)]
    _, out = run(engine, bets)
    # 25.00 EUR; 250.00 SEK = 21.75 EUR; 4000 JPY = 24.80 EUR
    assert [r["amount"] for r in of_rule(out.rewards, "wager-points")] == [25, 21, 24]
    _, out = run(Engine(ruleset(RULES)), bets)  # no house: whole units of the bet's own currency
    assert [r["amount"] for r in of_rule(out.rewards, "wager-points")] == [25, 250, 4000]


def test_the_rapid_loss_threshold_means_the_same_amount_in_every_currency():
    """750.00 EUR by default: 8,000 SEK and 100,000 JPY are below it, 9,000 SEK is not."""
    engine = Engine(ruleset(CURRENCIES + RULES))
    for amount, currency, trips in (
        (800_000, "SEK", False),  # 696.00 EUR
        (900_000, "SEK", True),  # 783.00 EUR
        (100_000, "JPY", False),  # 620.00 EUR
        (125_000, "JPY", True),  # 775.00 EUR
        (75_000, "EUR", True),
    ):
        _, out = run(engine, [lost(amount, currency, T0)])
        started = [j for j in out.journal if j["decision"] == "COOLDOWN_STARTED"]
        assert bool(started) is trips, (amount, currency)
        if trips:
            assert started[0]["details"]["currency"] == "EUR"
    # Without a house currency, 75,000 JPY counts as 750.00 of something: today's meaning.
    _, out = run(Engine(ruleset(RULES)), [lost(75_000, "JPY", T0)])
    assert [c["reason"] for c in out.cooldowns] == ["RAPID_LOSS_AMOUNT"]


def test_loss_chasing_compares_stakes_across_currencies_in_the_house_currency():
    engine = Engine(ruleset(CURRENCIES + RULES))
    # five rising losses from 10.00 to 25.00 EUR, then 4,000 JPY (24.80 EUR): not a raise
    stakes = (1_000, 1_200, 1_500, 2_000, 2_500)
    losses = [lost(s, "EUR", T0 + i * MIN) for i, s in enumerate(stakes)]
    _, out = run(engine, [*losses, lost(4_000, "JPY", T0 + 5 * MIN)])
    assert out.cooldowns == []
    _, out = run(engine, [*losses, lost(5_000, "JPY", T0 + 5 * MIN)])  # 31.00 EUR: chasing
    assert [c["reason"] for c in out.cooldowns] == ["LOSS_CHASING"]


def test_a_streak_cash_back_adds_stakes_in_the_house_currency_and_pays_in_the_bets():
    engine = Engine(ruleset(CURRENCIES + RULES))
    losses = [lost(1_000, "EUR", T0), lost(10_000, "SEK", T0 + MIN), lost(2_000, "JPY", T0 + 2)]
    _, out = run(engine, losses)
    [cash] = of_rule(out.rewards, "loss-streak-3")
    # 10.00 + 8.70 + 12.40 = 31.10 EUR = 5016 JPY (rounded); 10% of it, in JPY
    assert (cash["amount"], cash["currency"]) == (501, "JPY")


def test_cel_sees_house_amounts_as_money():
    event = settled("WIN", bet={"bet_type": "main", "stake_minor": 10_000, "currency": "SEK"})
    # the profile's last deposit is 50.00 GBP: left out without a GBP rate
    assert money_view(event, profile(), EUR_HOUSE) == {"stake": 8.7, "payout": 4.35}
    with_gbp = Currencies("EUR", {**EUR_HOUSE.rates, "GBP": rate_of("1.17")})
    assert money_view(event, profile(), with_gbp)["deposit"] == 58.5
    big_stake = """
rules:
  - id: big-stake
    events: [BET_PLACED]
    when: money.stake >= 100
    reward: {kind: XP, amount: 5}
"""
    engine = Engine(ruleset(CURRENCIES + big_stake))
    _, out = run(engine, [stake(100_000, "SEK"), stake(200_000, "SEK", T0 + 1)])
    assert len(out.rewards) == 1  # 87.00 EUR no, 174.00 EUR yes


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ({"house": "eur"}, "currencies.house", "ISO-4217 code"),
        ({"house": "EUR", "rates": {"SEK": -1}}, "currencies.rates.SEK", "positive number"),
        ({"house": "EUR", "rates": {"SEK": "lots"}}, "currencies.rates.SEK", "positive number"),
        ({"house": "EUR", "rates": {"EUR": 2}}, "currencies.rates.EUR", "worth 1"),
        ({"house": "EUR", "rates": {"sek": 1}}, "currencies.rates.sek", "ISO-4217"),
    ],
)
def test_a_bad_currencies_section_is_refused_naming_the_field(section, field, message):
    with pytest.raises(RulesetError) as caught:
        compile_ruleset({"ruleset": "x", "rules": [], "currencies": section})
    assert caught.value.path == field and message in caught.value.message
