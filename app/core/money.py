"""Money that means the same everywhere: a house currency, conversion rates, minor units.

Amounts on the wire are whole minor units of an ISO-4217 currency (docs/contract.md). A
ruleset's ``currencies`` section names the house currency and what one unit of each other
currency is worth in it; every place a rule or a guard compares or adds up money converts
to house minor units first, so 500.00 means the same in EUR, SEK and JPY. Rates are exact
decimals (their YAML text), applied with integer arithmetic: a conversion never depends on
float rounding. Without the section nothing is converted, as before rates existed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

#: ISO-4217 currencies whose minor unit is not a hundredth (every other one has 2 digits).
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


def exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency``'s minor unit (JPY 0, EUR 2, KWD 3)."""
    return EXPONENTS.get(currency, 2)


def major(amount_minor: int, currency: str) -> float:
    """Whole units of ``currency`` (2550 EUR cents -> 25.5; 2550 JPY -> 2550.0)."""
    return amount_minor / 10 ** exponent(currency)


@dataclass(frozen=True)
class Currencies:
    """The house currency and the rates into it; ``house`` None: nothing is converted."""

    house: str | None = None
    #: currency -> house units one unit of it is worth (exact)
    rates: dict[str, Fraction] = field(default_factory=dict)
    version: int = 1
    #: currency -> (numerator, denominator) of the factor from its minor units to house
    #: minor units (built from ``rates``): integers, since conversion is on the hot path
    _factors: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)
    #: house minor units in one house unit
    _house_scale: int = field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.house is None:
            return
        house_digits = exponent(self.house)
        object.__setattr__(self, "_house_scale", 10**house_digits)
        for currency, rate in {**self.rates, self.house: Fraction(1)}.items():
            factor = rate * Fraction(10) ** (house_digits - exponent(currency))
            self._factors[currency] = (factor.numerator, factor.denominator)

    def to_house(self, amount_minor: int, currency: str) -> int:
        """``amount_minor`` of ``currency`` in house minor units, rounded half to even.

        Without a house currency the amount is returned as it is (the old meaning). A
        currency without a rate counts one to one, adjusted for its exponent, so a missing
        rate never switches a guard off (docs/rules.md, "Currencies").
        """
        if self.house is None or currency == self.house:
            return amount_minor
        numerator, denominator = self._factor(self.house, currency)
        return round_half_even(amount_minor * numerator, denominator)

    def from_house(self, amount_minor: int, currency: str) -> int:
        """House minor units as minor units of ``currency`` (the inverse of ``to_house``)."""
        if self.house is None or currency == self.house:
            return amount_minor
        numerator, denominator = self._factor(self.house, currency)
        return round_half_even(amount_minor * denominator, numerator)

    def _factor(self, house: str, currency: str) -> tuple[int, int]:
        factor = self._factors.get(currency)
        if factor is None:  # no rate: one to one, in whole units
            shift = exponent(house) - exponent(currency)
            factor = (10**shift, 1) if shift >= 0 else (1, 10**-shift)
        return factor

    def house_major(self, amount_minor: int, currency: str) -> float | None:
        """Whole house units (the bet's own units without a house); None without a rate."""
        if self.house is None:
            return major(amount_minor, currency)
        factor = self._factors.get(currency)
        if factor is None:
            return None
        return round_half_even(amount_minor * factor[0], factor[1]) / self._house_scale


def round_half_even(numerator: int, denominator: int) -> int:
    """``round(Fraction(numerator, denominator))`` in integers alone (half to even), without
    building a Fraction: conversions run for every bet."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient & 1):
        quotient += 1
    return quotient


def rate_of(value: object) -> Fraction:
    """A rate as written (``0.087``, ``"0.087"``, ``1``) as an exact fraction."""
    return Fraction(Decimal(str(value)))


NO_CONVERSION = Currencies()


def money_view(event: dict, profile: dict, currencies: Currencies) -> dict[str, float]:
    """What CEL sees as ``money``: the event's and profile's amounts in whole house units
    (``stake``, ``payout``, ``deposit``); one the rates cannot convert is left out, so an
    expression reading it reads as no match."""
    out: dict[str, float] = {}
    bet = event.get("bet")
    if bet is not None:
        currency = bet["currency"]
        _put(out, "stake", currencies.house_major(bet["stake_minor"], currency))
        settlement = event.get("settlement")
        if settlement is not None:
            _put(out, "payout", currencies.house_major(settlement["payout_minor"], currency))
    deposit = profile.get("last_deposit")
    if deposit:
        _put(out, "deposit", currencies.house_major(deposit["amount_minor"], deposit["currency"]))
    return out


def _put(out: dict[str, float], name: str, value: float | None) -> None:
    if value is not None:
        out[name] = value
