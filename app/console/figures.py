"""Per-rule figures from the archive for the Rules page: fires, players reached, amounts,
suppressions by reason and A/B arms per rule and version over a range of days; per rule and
A/B variant, how players answered the rewards (shown, clicked, dismissed, claimed: the
journal's ``INTERACTION_RECORDED`` entries) and the click-through; and the daily amounts and
mission progress the flags (``app.console.flags``) judge.

Read-only queries on the archive's ``journal`` (and ``rewards`` for the currency), over the
connection the archive's views open. Days are the operator's calendar days
(``PITBOSS_OPERATOR_TIMEZONE``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

#: The longest range of days the page adds up.
MAX_DAYS = 92
#: The range shown when none is asked for: today and the seven days before.
DEFAULT_DAYS = 8
#: An amount as the journal writes it (a whole number in a string).
_AMOUNT = (
    "CASE WHEN j.details->>'amount' ~ '^-?[0-9]{1,18}$' "
    "THEN (j.details->>'amount')::bigint ELSE 0 END"
)


class BadRange(ValueError):
    """The asked-for days cannot be used; the message says why."""


@dataclass(frozen=True)
class DayRange:
    first: date
    last: date
    timezone: str

    def start(self, day: date | None = None) -> datetime:
        """The first instant of ``day`` (default: the range's first day)."""
        return datetime.combine(day or self.first, time(), ZoneInfo(self.timezone))

    def end(self) -> datetime:
        """The first instant after the range's last day."""
        return self.start(self.last + timedelta(days=1))


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRange(f"{name} must be a day as YYYY-MM-DD, got {text[:40]!r}") from None


def day_range(query: Mapping[str, str], today: date, timezone: str) -> DayRange:
    """The days ``from`` to ``to`` (both included, YYYY-MM-DD); default the last eight."""
    last = _day(query["to"], "to") if query.get("to") else today
    first = _day(query["from"], "from") if query.get("from") else last - timedelta(DEFAULT_DAYS - 1)
    if first > last:
        raise BadRange(f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(f"at most {MAX_DAYS} days at a time")
    if first.year < 2 or last.year > 9998:
        raise BadRange("the days must be between the years 2 and 9998")
    return DayRange(first, last, timezone)


@dataclass
class RuleFigures:
    """What one version of one rule did in the range."""

    rule_id: str
    version: int
    fires: int = 0
    players: int = 0
    #: issued amounts by "KIND" or "KIND CURRENCY"
    amounts: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    #: A/B arm -> {"fires", "amount"}
    arms: dict[str, dict[str, int]] = field(default_factory=dict)


#: The actions a player's interaction names (``app.core.interactions``), as the page counts them.
ACTIONS = ("SHOWN", "CLICKED", "DISMISSED", "CLAIMED")


@dataclass
class Engagement:
    """How players answered one rule's rewards under one A/B variant ("" for none): rewards
    issued, and the distinct rewards (or messages) shown, clicked, dismissed and claimed."""

    rule_id: str
    variant: str
    issued: int = 0
    answered: dict[str, int] = field(default_factory=dict)

    def count(self, action: str) -> int:
        return self.answered.get(action, 0)

    @property
    def click_through(self) -> float | None:
        """Clicked over shown; None before anything was shown."""
        shown = self.count("SHOWN")
        return self.count("CLICKED") / shown if shown else None


OUTCOMES = f"""
SELECT j.rule_id, j.rule_version, j.decision, j.reason, j.details->>'kind',
       j.details->>'variant', r.currency, count(*), sum({_AMOUNT})
  FROM journal j LEFT JOIN rewards r ON r.reward_id = j.reward_id
 WHERE j.event_time >= %s AND j.event_time < %s AND j.rule_id IS NOT NULL
   AND j.decision IN ('REWARD_ISSUED', 'REWARD_SUPPRESSED')
 GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
PLAYERS = """
SELECT rule_id, rule_version, count(DISTINCT player_id) FROM journal
 WHERE event_time >= %s AND event_time < %s AND decision = 'REWARD_ISSUED'
 GROUP BY 1, 2
"""
DAILY = f"""
SELECT j.rule_id, j.details->>'kind', (j.event_time AT TIME ZONE %s)::date, sum({_AMOUNT})
  FROM journal j
 WHERE j.event_time >= %s AND j.event_time < %s AND j.decision = 'REWARD_ISSUED'
 GROUP BY 1, 2, 3
"""
MISSIONS = """
SELECT rule_id, count(DISTINCT player_id) FILTER (WHERE decision = 'MISSION_PROGRESS'),
       count(*) FILTER (WHERE decision = 'MISSION_COMPLETED')
  FROM journal
 WHERE event_time >= %s AND event_time < %s
   AND decision IN ('MISSION_PROGRESS', 'MISSION_COMPLETED')
 GROUP BY 1
"""

#: Per rule and variant: rewards issued, and the distinct rewards (or messages) per action.
ENGAGEMENT = """
SELECT rule_id, coalesce(details->>'variant', ''), 'ISSUED', count(*)
  FROM journal
 WHERE event_time >= %(start)s AND event_time < %(end)s AND decision = 'REWARD_ISSUED'
   AND rule_id IS NOT NULL
 GROUP BY 1, 2
UNION ALL
SELECT rule_id, coalesce(details->>'variant', ''), details->>'action',
       count(DISTINCT coalesce(nullif(reward_id, ''), nullif(details->>'message_id', ''),
                               entry_id))
  FROM journal
 WHERE event_time >= %(start)s AND event_time < %(end)s AND decision = 'INTERACTION_RECORDED'
   AND rule_id IS NOT NULL
 GROUP BY 1, 2, 3
"""


def fold(outcomes: list[tuple[Any, ...]], players: list[tuple[Any, ...]]) -> list[RuleFigures]:
    """The rows of OUTCOMES and PLAYERS as figures per rule and version, by rule then
    newest version first."""
    found: dict[tuple[str, int], RuleFigures] = {}

    def of(rule_id: str, version: int | None) -> RuleFigures:
        key = (rule_id, version or 0)
        return found.setdefault(key, RuleFigures(*key))

    for rule_id, version, decision, reason, kind, arm, currency, count, amount in outcomes:
        figures = of(rule_id, version)
        if decision == "REWARD_SUPPRESSED":
            figures.suppressed[reason or "-"] = figures.suppressed.get(reason or "-", 0) + count
            continue
        figures.fires += count
        label = " ".join(filter(None, (kind or "OTHER", currency)))
        figures.amounts[label] = figures.amounts.get(label, 0) + int(amount or 0)
        if arm:
            tally = figures.arms.setdefault(arm, {"fires": 0, "amount": 0})
            tally["fires"] += count
            tally["amount"] += int(amount or 0)
    for rule_id, version, count in players:
        of(rule_id, version).players = count
    return sorted(found.values(), key=lambda f: (f.rule_id, -f.version))


async def rule_figures(conn: AsyncConnection, days: DayRange) -> list[RuleFigures]:
    start, end = days.start(), days.end()
    async with conn.cursor() as cur:
        await cur.execute(OUTCOMES, (start, end))
        outcomes = await cur.fetchall()
        await cur.execute(PLAYERS, (start, end))
        players = await cur.fetchall()
    return fold(outcomes, players)


async def daily_amounts(
    conn: AsyncConnection, days: DayRange, history_days: int
) -> dict[tuple[str, str], dict[date, int]]:
    """(rule, kind) -> day -> amount issued, from ``history_days`` before the range to its end."""
    daily: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    since = days.start(days.first - timedelta(days=history_days))
    async with conn.cursor() as cur:
        await cur.execute(DAILY, (days.timezone, since, days.end()))
        for rule_id, kind, day, amount in await cur.fetchall():
            daily[(rule_id, kind or "OTHER")][day] = int(amount or 0)
    return dict(daily)


async def mission_progress(
    conn: AsyncConnection, days: DayRange, window_days: int
) -> dict[str, tuple[int, int]]:
    """Mission rule -> (players who made progress, completions) in the ``window_days`` that
    end with the range."""
    end = days.end()
    async with conn.cursor() as cur:
        await cur.execute(MISSIONS, (end - timedelta(days=window_days), end))
        return {rule_id: (players, done) for rule_id, players, done in await cur.fetchall()}


def fold_engagement(rows: list[tuple[Any, ...]]) -> list[Engagement]:
    """The rows of ENGAGEMENT per rule and variant, by rule then variant."""
    found: dict[tuple[str, str], Engagement] = {}
    for rule_id, variant, action, count in rows:
        figures = found.setdefault((rule_id, variant), Engagement(rule_id, variant))
        if action == "ISSUED":
            figures.issued += count
        elif action in ACTIONS:
            figures.answered[action] = figures.answered.get(action, 0) + count
    return sorted(found.values(), key=lambda e: (e.rule_id, e.variant))


async def engagement(conn: AsyncConnection, days: DayRange) -> list[Engagement]:
    async with conn.cursor() as cur:
        await cur.execute(ENGAGEMENT, {"start": days.start(), "end": days.end()})
        return fold_engagement(await cur.fetchall())
