"""The points wallet: a balance a player earns into, spends from and (where the ruleset says
so) loses to expiry. It never goes negative: a spend larger than the balance is refused whole.

With ``points_expiry``, points are kept per UTC period earned (day, or week from Monday), so
the oldest expire first and spending takes the oldest first; points earned while no expiry
was configured (the balance beyond the periods) never expire and are spent before any.
"""

from __future__ import annotations

from app.core.rules import PointsExpiry
from app.core.state import PlayerState

DAY_MS = 86_400_000
#: 1970-01-01 was a Thursday: shifting by three days makes period indices start on Mondays.
_PERIOD = {"day": (DAY_MS, 0), "week": (7 * DAY_MS, 3 * DAY_MS)}


def period_index(period: str, t: int) -> int:
    """The UTC day or week (from Monday) of event time ``t``, as a whole number."""
    length, shift = _PERIOD[period]
    return (t + shift) // length


def expires_at(expiry: PointsExpiry, index: int) -> int:
    """When the points earned in period ``index`` expire: ``after`` periods after it ends."""
    length, shift = _PERIOD[expiry.period]
    return (index + 1 + expiry.after) * length - shift


def credit(state: PlayerState, amount: int, t: int, expiry: PointsExpiry | None) -> None:
    """Add earned points, dated by event time ``t`` where they can expire."""
    if amount <= 0:
        return
    state.balance += amount
    if expiry is None:
        return
    index = period_index(expiry.period, t)
    for bucket in state.expiring:
        if bucket[0] == index:
            bucket[1] += amount
            return
    state.expiring.append([index, amount])
    state.expiring.sort()


def spend(state: PlayerState, price: int) -> bool:
    """Take ``price`` from the balance, oldest points first; False (and nothing taken) if
    the balance is short."""
    if price < 0 or price > state.balance:
        return False
    # the points that never expire are the oldest: the periods give what they do not cover
    left = max(0, price - unexpiring(state))
    state.balance -= price
    while left > 0 and state.expiring:
        bucket = state.expiring[0]
        taken = min(left, bucket[1])
        bucket[1] -= taken
        left -= taken
        if bucket[1] == 0:
            state.expiring.pop(0)
    return True


def unexpiring(state: PlayerState) -> int:
    """The part of the balance that no period holds (earned while nothing expired)."""
    return state.balance - sum(b[1] for b in state.expiring)


def expire_due(
    state: PlayerState, t: int, expiry: PointsExpiry | None
) -> list[tuple[int, int, int]]:
    """Take from the balance every period's points whose expiry ``t`` has reached:
    (period index, expired at, amount) for each, oldest first."""
    if expiry is None or not state.expiring:
        return []
    gone = []
    while state.expiring:
        index, amount = state.expiring[0]
        at = expires_at(expiry, index)
        if at > t:
            break
        state.expiring.pop(0)
        state.balance -= amount
        gone.append((index, at, amount))
    return gone
