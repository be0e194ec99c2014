"""Outcome models of the live games, with the odds of the real tables.

Pure functions of a ``random.Random`` so the studio simulator stays deterministic. Models
draw one uniform number per outcome from a cumulative table rather than dealing cards:
that keeps the real frequencies (what CRM rules react to) at a fraction of the cost.

Payouts are in minor units and include the stake, as ``Settlement.payout_minor`` does.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate
from typing import NamedTuple

WIN, LOSS, PUSH = "WIN", "LOSS", "PUSH"


class Settled(NamedTuple):
    """One bet's settlement: what a ``Settlement`` record carries."""

    outcome: str
    payout_minor: int
    hand: str | None


# --- blackjack ------------------------------------------------------------------------------


class BlackjackHand(NamedTuple):
    """A player's hand against the dealer; ``payout_halves`` is the return per stake, x2."""

    outcome: str
    payout_halves: int
    hand: str
    doubled: bool


#: Eight decks, dealer stands on soft 17, basic strategy, no splits. Totals (wizardofodds):
#: win 42.42%, push 8.48%, loss 49.09%; naturals 4.75% of hands (3:2, or a push when the
#: dealer has one too); 11.2% of hands are doubled, which is what brings the return to ~99.5%.
BLACKJACK_HANDS: tuple[tuple[float, BlackjackHand], ...] = (
    (0.0453, BlackjackHand(WIN, 5, "natural_blackjack", False)),
    (0.0022, BlackjackHand(PUSH, 2, "natural_blackjack", False)),
    (0.0720, BlackjackHand(WIN, 4, "double_down", True)),
    (0.0060, BlackjackHand(PUSH, 2, "double_down", True)),
    (0.0340, BlackjackHand(LOSS, 0, "double_down", True)),
    (0.1400, BlackjackHand(WIN, 4, "dealer_bust", False)),
    (0.1669, BlackjackHand(WIN, 4, "higher_total", False)),
    (0.0766, BlackjackHand(PUSH, 2, "equal_total", False)),
    (0.1550, BlackjackHand(LOSS, 0, "bust", False)),
    (0.0450, BlackjackHand(LOSS, 0, "dealer_blackjack", False)),
    (0.2570, BlackjackHand(LOSS, 0, "dealer_higher", False)),
)
_BJ_CUM = list(accumulate(p for p, _ in BLACKJACK_HANDS))
_BJ = [h for _, h in BLACKJACK_HANDS]
_BJ_TOTAL = _BJ_CUM[-1]


def deal_blackjack_hand(rng: random.Random) -> BlackjackHand:
    """One basic-strategy hand; a doubled hand means a second, equal ``double_down`` bet."""
    return _BJ[bisect(_BJ_CUM, rng.random() * _BJ_TOTAL)]


def settle_blackjack(hand: BlackjackHand, stake_minor: int) -> Settled:
    """Settle the main bet (and a ``double_down`` bet, which shares the hand's fate)."""
    return Settled(hand.outcome, stake_minor * hand.payout_halves // 2, hand.hand)


# --- side bets ------------------------------------------------------------------------------

#: Side bet pay tables: (probability, hand, return per stake including it); else a loss.
#: Eight decks. Perfect Pairs 25/12/6:1 (RTP ~95.9%); 21+3 100/40/30/10/5:1 (RTP 96.3%,
#: enumerated); baccarat pairs 11:1 on the first two cards (31/415).
SIDE_BETS: dict[str, tuple[tuple[float, str, int], ...]] = {
    "perfect_pairs": (
        (7 / 415, "perfect_pair", 26),
        (8 / 415, "coloured_pair", 13),
        (16 / 415, "mixed_pair", 7),
    ),
    "21+3": (
        (0.000244, "suited_trips", 101),
        (0.002063, "straight_flush", 41),
        (0.005169, "three_of_a_kind", 31),
        (0.030947, "straight", 11),
        (0.058841, "flush", 6),
    ),
}
BLACKJACK_SIDE_BETS = ("perfect_pairs", "21+3")
BACCARAT_SIDE_BETS = ("player_pair", "banker_pair")
BACCARAT_PAIR_P = 31 / 415


def settle_side_bet(rng: random.Random, bet_type: str, stake_minor: int) -> Settled:
    """A blackjack side bet on the player's own cards (independent per seat)."""
    u = rng.random()
    for p, hand, ret in SIDE_BETS[bet_type]:
        if u < p:
            return Settled(WIN, stake_minor * ret, hand)
        u -= p
    return Settled(LOSS, 0, None)


# --- roulette -------------------------------------------------------------------------------

RED = frozenset({1, 3, 5, 7, 9, 12, 14, 16, 18, 19, 21, 23, 25, 27, 30, 32, 34, 36})
_LABEL = tuple(f"{n}_{'green' if n == 0 else 'red' if n in RED else 'black'}" for n in range(37))
#: Lightning Roulette strikes 1-5 numbers a round with a multiplier; a straight bet then
#: pays 29:1, or the multiplier on a struck number. These weights give an RTP near the
#: published 97.1% (check: ``roulette_straight_rtp(lightning=True)``).
LIGHTNING_MULTIPLIERS: tuple[tuple[int, float], ...] = (
    (50, 0.52),
    (100, 0.24),
    (150, 0.10),
    (200, 0.07),
    (250, 0.03),
    (300, 0.02),
    (400, 0.01),
    (500, 0.01),
)
_LM_CUM = list(accumulate(w for _, w in LIGHTNING_MULTIPLIERS))
_LM = [m for m, _ in LIGHTNING_MULTIPLIERS]

#: (bet_type, weight) as players spread chips; straight-ups dominate Lightning tables.
ROULETTE_BETS = (
    ("straight", 0.35),
    ("split", 0.08),
    ("dozen", 0.10),
    ("column", 0.07),
    ("red", 0.11),
    ("black", 0.11),
    ("even", 0.05),
    ("odd", 0.05),
    ("low", 0.04),
    ("high", 0.04),
)
LIGHTNING_BETS = (
    ("straight", 0.62),
    ("split", 0.06),
    ("dozen", 0.06),
    ("column", 0.04),
    ("red", 0.08),
    ("black", 0.08),
    ("even", 0.02),
    ("odd", 0.02),
    ("low", 0.01),
    ("high", 0.01),
)


class Spin(NamedTuple):
    number: int
    label: str
    lightning: dict[int, int]


def spin_roulette(rng: random.Random, lightning: bool = False) -> Spin:
    """One spin of a single-zero wheel; Lightning also strikes its numbers."""
    number = int(rng.random() * 37)
    struck: dict[int, int] = {}
    if lightning:
        for n in rng.sample(range(37), 1 + int(rng.random() * 5)):
            struck[n] = _LM[bisect(_LM_CUM, rng.random() * _LM_CUM[-1])]
    return Spin(number, _LABEL[number], struck)


def lightning_label(spin: Spin) -> str:
    """Struck numbers as text, e.g. ``"7:50,23:200"``, for the round's attributes."""
    return ",".join(f"{n}:{m}" for n, m in sorted(spin.lightning.items()))


def roulette_pick(rng: random.Random, bet_type: str) -> str | None:
    """The numbers a bet covers, as text: ``"17"``, ``"14/17"`` (split), ``"2"`` (dozen)."""
    if bet_type == "straight":
        return str(int(rng.random() * 37))
    if bet_type == "split":
        low = 1 + int(rng.random() * 33)
        return f"{low}/{low + 3}"
    if bet_type in ("dozen", "column"):
        return str(1 + int(rng.random() * 3))
    return None


def _roulette_wins(n: int, bet_type: str, pick: str | None) -> bool:
    if bet_type == "straight":
        return pick == str(n)
    if n == 0:
        return False
    if bet_type == "red":
        return n in RED
    if bet_type == "black":
        return n not in RED
    if bet_type == "even":
        return n % 2 == 0
    if bet_type == "odd":
        return n % 2 == 1
    if bet_type == "low":
        return n <= 18
    if bet_type == "high":
        return n >= 19
    if bet_type == "dozen":
        return (n - 1) // 12 + 1 == int(pick or 0)
    if bet_type == "column":
        return (n - 1) % 3 + 1 == int(pick or 0)
    if bet_type == "split":
        return str(n) in (pick or "").split("/")
    raise ValueError(f"unknown roulette bet type {bet_type!r}")


#: Return per stake, including it, on a win.
ROULETTE_RETURNS = {
    "straight": 36,
    "split": 18,
    "dozen": 3,
    "column": 3,
    "red": 2,
    "black": 2,
    "even": 2,
    "odd": 2,
    "low": 2,
    "high": 2,
}


def settle_roulette(
    spin: Spin, bet_type: str, pick: str | None, stake_minor: int, lightning: bool = False
) -> Settled:
    """Settle one chip against the spin; no la partage (European rules as streamed live)."""
    if not _roulette_wins(spin.number, bet_type, pick):
        return Settled(LOSS, 0, spin.label)
    if lightning and bet_type == "straight":
        mult = spin.lightning.get(spin.number)
        if mult:
            return Settled(WIN, stake_minor * (mult + 1), f"{spin.label}_lightning_{mult}x")
        return Settled(WIN, stake_minor * 30, spin.label)
    return Settled(WIN, stake_minor * ROULETTE_RETURNS[bet_type], spin.label)


def roulette_straight_rtp(lightning: bool = False) -> float:
    """Expected return of a straight-up bet, from the model's own tables (for tests/docs)."""
    if not lightning:
        return 36 / 37
    mean_struck = 3.0  # 1-5 numbers, uniform
    total = _LM_CUM[-1]
    mean_mult = sum(m * w for m, w in LIGHTNING_MULTIPLIERS) / total
    q = mean_struck / 37
    return ((1 - q) * 30 + q * (mean_mult + 1)) / 37


# --- baccarat -------------------------------------------------------------------------------

BACCARAT_BETS = (("banker", 0.50), ("player", 0.40), ("tie", 0.10))


class Coup(NamedTuple):
    result: str
    player_pair: bool
    banker_pair: bool


def deal_baccarat_coup(rng: random.Random) -> Coup:
    """One coup, shared by every bet at the table."""
    u = rng.random()
    result = "BANKER" if u < 0.458597 else "PLAYER" if u < 0.904844 else "TIE"
    return Coup(result, rng.random() < BACCARAT_PAIR_P, rng.random() < BACCARAT_PAIR_P)


def settle_baccarat(coup: Coup, bet_type: str, stake_minor: int) -> Settled:
    """Banker pays 0.95:1, player 1:1, tie 8:1; a tie pushes banker and player bets."""
    result = coup.result
    hand = result.lower() + "_win" if result != "TIE" else "tie"
    if bet_type == "tie":
        return Settled(WIN, stake_minor * 9, hand) if result == "TIE" else Settled(LOSS, 0, hand)
    if bet_type in ("player_pair", "banker_pair"):
        hit = coup.player_pair if bet_type == "player_pair" else coup.banker_pair
        return Settled(WIN, stake_minor * 12, bet_type) if hit else Settled(LOSS, 0, None)
    if result == "TIE":
        return Settled(PUSH, stake_minor, hand)
    if bet_type == result.lower():
        ret = stake_minor * 195 // 100 if result == "BANKER" else stake_minor * 2
        return Settled(WIN, ret, hand)
    return Settled(LOSS, 0, hand)


def weighted_picker(
    options: tuple[tuple[str, float], ...],
) -> tuple[list[float], list[str], float]:
    """Cumulative weights for :func:`pick`, built once per table."""
    cum = list(accumulate(w for _, w in options))
    return cum, [o for o, _ in options], cum[-1]


def pick(rng: random.Random, picker: tuple[list[float], list[str], float]) -> str:
    cum, names, total = picker
    return names[bisect(cum, rng.random() * total)]
