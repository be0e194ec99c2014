"""The Rules page's warnings, as pure functions of archived figures: an over-generous rule (a
day's amount far above the rule's own trailing daily median) and a dead mission (started by
many players, completed by none)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

#: A median of fewer earlier days than this is no history to judge by.
MIN_HISTORY_DAYS = 3


@dataclass(frozen=True)
class Generous:
    rule_id: str
    kind: str
    day: date
    amount: int
    median: float

    def words(self) -> str:
        times = self.amount / self.median
        return (
            f"{self.rule_id} issued {self.amount:,} {self.kind} on {self.day.isoformat()}, "
            f"{times:.1f} times its trailing daily median of {self.median:,.0f}"
        )


@dataclass(frozen=True)
class DeadMission:
    rule_id: str
    players: int
    days: int

    def words(self) -> str:
        return (
            f"{self.rule_id}: started by {self.players:,} players, completed by nobody "
            f"in the last {self.days} days"
        )


def over_generous(
    daily: Mapping[tuple[str, str], Mapping[date, int]],
    first: date,
    last: date,
    factor: float,
    history_days: int,
) -> list[Generous]:
    """Each day from ``first`` to ``last`` on which a rule issued more of a kind than
    ``factor`` times the median of its daily amounts over the ``history_days`` before that day.

    Days without issuance do not count towards the median (a rule that fires on a few days a
    week would otherwise have a median of nothing), and a rule with fewer than
    ``MIN_HISTORY_DAYS`` earlier days of issuance has no history to be judged by.
    """
    found = []
    for (rule_id, kind), amounts in sorted(daily.items()):
        day = first
        while day <= last:
            amount = amounts.get(day, 0)
            earlier = [
                v
                for d, v in amounts.items()
                if day - timedelta(days=history_days) <= d < day and v > 0
            ]
            if amount > 0 and len(earlier) >= MIN_HISTORY_DAYS:
                typical = median(earlier)
                if amount > factor * typical:
                    found.append(Generous(rule_id, kind, day, amount, typical))
            day += timedelta(days=1)
    return found


def dead_missions(
    missions: Mapping[str, tuple[int, int]], min_players: int, days: int
) -> list[DeadMission]:
    """Missions (rule id -> players who made progress, completions) started by at least
    ``min_players`` and completed by none."""
    return [
        DeadMission(rule_id, players, days)
        for rule_id, (players, completions) in sorted(missions.items())
        if players >= min_players and completions == 0
    ]
