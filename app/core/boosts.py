"""Boosts: what a MULTIPLIER grant does to the grants after it.

A MULTIPLIER reward that reaches the player starts a boost in their state; a later grant in
its scope (its kinds, games and table; bets only, for a boost of "the next N bets"), of an
event inside its window of event time, is multiplied by it. Where boosts overlap, the
largest factor in scope applies, alone: boosts never compound. Ties go to the boost that
started first. The engine applies a boost only to a grant no guard holds back entirely,
before the caps, so caps count the multiplied amount.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.core.rules import BET_EVENTS, BoostSpec
from app.core.state import BoostState

Record = dict


def start(spec: BoostSpec, reward: Record) -> BoostState:
    """The boost a MULTIPLIER ``reward`` starts (its id is the reward's id)."""
    t = reward["event_time"]
    table = reward["table_id"] if spec.table == "same" else spec.table
    return BoostState(
        boost_id=reward["reward_id"],
        rule_id=reward["rule_id"],
        rule_version=reward["rule_version"],
        factor=spec.factor,
        kinds=sorted(spec.kinds),
        games=sorted(spec.games),
        table=table,
        starts_at=t,
        ends_at=None if spec.duration_ms is None else t + spec.duration_ms,
        bets_left=spec.bets,
    )


def applies(boost: BoostState, kind: str, event: Record) -> bool:
    """True if ``boost`` multiplies a grant of ``kind`` on ``event``."""
    t = event["occurred_at"]
    return (
        kind in boost.kinds
        and boost.starts_at <= t
        and (boost.ends_at is None or t < boost.ends_at)
        and (not boost.games or event["game"] in boost.games)
        and (boost.table is None or event["table_id"] == boost.table)
        and (boost.bets_left is None or event["event_type"] in BET_EVENTS)
    )


def strongest(boosts: Iterable[BoostState], kind: str, event: Record) -> BoostState | None:
    """The boost with the largest factor that applies (the first started, on a tie)."""
    best = None
    for boost in boosts:
        if applies(boost, kind, event) and (best is None or boost.factor > best.factor):
            best = boost
    return best


def boosted(amount: int, factor: float) -> int:
    """``amount`` multiplied, in whole units (rounded down, like the rule multipliers)."""
    return int(amount * factor)


def describe(boost: BoostState) -> dict[str, str]:
    """The boost in the journal's and the reward's terms (strings only)."""
    out = {"factor": f"{boost.factor:g}", "kinds": ",".join(boost.kinds)}
    if boost.games:
        out["games"] = ",".join(boost.games)
    if boost.table is not None:
        out["table"] = boost.table
    if boost.ends_at is not None:
        out["ends_at"] = str(boost.ends_at)
    if boost.bets_left is not None:
        out["bets"] = str(boost.bets_left)
    return out
