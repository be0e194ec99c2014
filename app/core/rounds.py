"""A player's rounds: every bet of a round summed into one result, so that the harm detectors
count rounds and not settlements (a four-bet roulette spin is one round, lost or won whole).

Decided in record order from the player's own events, so it never depends on batching:
a round closes when every bet the player placed in it is settled, when the player's next
round starts (an event of theirs with another table or round id), or on a ``ROUND_ENDED``
that names the player. A settlement without a round id is a round of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from app.core.ids import event_fingerprint
from app.core.money import Currencies
from app.core.state import PlayerState

PLACED = frozenset({"BET_PLACED", "SIDE_BET_PLACED"})
SETTLED = frozenset({"BET_SETTLED", "SIDE_BET_SETTLED"})

# The open round's fields in ``PlayerState.round``.
_KEY, _OPEN, _SETTLED, _STAKE, _NET, _AT = range(6)


@dataclass(frozen=True, slots=True)
class Round:
    """A closed round's result in house minor units: ``net`` > 0 is money lost."""

    stake: int
    net: int
    #: event time of its last settlement
    at: int
    #: settled bets in it: ``stake / bets`` is the round's stake per bet
    bets: int = 1


def observe_round(state: PlayerState, event: Mapping, currencies: Currencies) -> list[Round]:
    """Feed one event of the player; the rounds it closes, in the order they closed."""
    closed: list[Round] = []
    round_id = event.get("round_id")
    key = None if round_id is None else _round_key(event["table_id"], round_id)
    if state.round and key is not None and state.round[_KEY] != key:
        _close(state, closed)  # the player's next round has started
    event_type = event["event_type"]
    if event_type == "ROUND_ENDED":
        _close(state, closed)
        return closed
    bet = event.get("bet")
    if bet is None or (key is None and event_type in PLACED):
        return closed
    if event_type in PLACED:
        _open(state, key)[_OPEN] += 1
    elif event_type in SETTLED and event.get("settlement"):
        currency, t = bet["currency"], event["occurred_at"]
        stake = currencies.to_house(bet["stake_minor"], currency)
        net = stake - currencies.to_house(event["settlement"]["payout_minor"], currency)
        if key is None:
            closed.append(Round(stake, net, t))
            return closed
        current = _open(state, key)
        current[_OPEN] -= 1
        current[_SETTLED] += 1
        current[_STAKE] += stake
        current[_NET] += net
        current[_AT] = max(current[_AT], t)
        if current[_OPEN] <= 0:  # every bet placed in it is settled (or none was seen placed)
            _close(state, closed)
    return closed


@lru_cache(maxsize=4096)
def _round_key(table_id: str, round_id: str) -> int:
    """The round's fingerprint (cached: every player at the table asks for it)."""
    return event_fingerprint(f"{table_id}\x1f{round_id}")


def _open(state: PlayerState, key: int | None) -> list:
    if not state.round:
        state.round = [key, 0, 0, 0, 0, 0]
    return state.round


def _close(state: PlayerState, closed: list[Round]) -> None:
    """End the open round; one with no settlement (bets never settled) counts nothing."""
    current, state.round = state.round, []
    if current and current[_SETTLED]:
        closed.append(Round(current[_STAKE], current[_NET], current[_AT], current[_SETTLED]))
