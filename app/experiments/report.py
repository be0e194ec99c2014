"""``pitboss experiments report RULE``: each arm of an A/B-tested rule against its holdout,
from the archive (PostgreSQL).

Per arm: the players exposed (by the arm of their first exposure), exposures, grants and the
amounts issued (the rule's ``EXPOSED`` journal entries, joined with ``rewards``), how many of
those rewards were shown and clicked (``INTERACTION_RECORDED``, joined by reward id), and the
outcome figures the operator sent (``player_outcomes``): deposits and GGR per exposed player
over the ``days`` operator days from the day of their first exposure, a player with no
figures counting as zero. Each arm is compared with the holdout by Welch's t interval for
the difference of means (``app.experiments.stats``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from app.core.experiments import HOLDOUT
from app.experiments.stats import Difference, Sample, welch

#: The actions counted per arm, as the console counts them (``app.console.figures``).
ANSWERS = ("SHOWN", "CLICKED")
#: The outcome figures compared, as (key, label).
METRICS = (("ggr", "GGR/player"), ("deposits", "deposits/player"))


class ReportProblem(ValueError):
    """The archive holds nothing to report on, or figures that do not add up."""


@dataclass
class Arm:
    name: str
    players: int = 0
    exposures: int = 0
    grants: int = 0
    #: issued amounts by reward kind
    amounts: dict[str, int] = field(default_factory=dict)
    #: distinct rewards shown, clicked
    answered: dict[str, int] = field(default_factory=dict)
    #: per exposed player over the days measured, in minor units
    samples: dict[str, Sample] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    arm: str
    metric: str
    difference: Difference | None

    def verdict(self) -> str:
        """One plain line: ``B beats holdout on GGR/player: +10.2% [+4.1%, +16.3%], 95%``."""
        d, label = self.difference, dict(METRICS)[self.metric]
        if d is None:
            return f"{self.arm} vs holdout on {label}: not yet (fewer than 2 players on a side)"
        figures = f"{_interval(d)}, {d.confidence:.0%}"
        if d.verdict == "better":
            return f"{self.arm} beats holdout on {label}: {figures}"
        if d.verdict == "worse":
            return f"{self.arm} trails holdout on {label}: {figures}"
        return f"{self.arm} vs holdout on {label}: not yet, no difference shown ({figures})"


@dataclass
class ExperimentReport:
    rule_id: str
    days: int
    confidence: float
    timezone: str
    currency: str | None
    arms: list[Arm]
    comparisons: list[Comparison]

    @property
    def has_holdout(self) -> bool:
        return any(a.name == HOLDOUT for a in self.arms)

    @property
    def winner(self) -> str | None:
        """The arm that beats the holdout on GGR per player with the highest mean (None:
        no arm has, yet)."""
        beating = {
            c.arm
            for c in self.comparisons
            if c.metric == "ggr" and c.difference is not None and c.difference.verdict == "better"
        }
        arms = [a for a in self.arms if a.name in beating]
        return max(arms, key=lambda a: a.samples["ggr"].mean).name if arms else None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "days": self.days,
            "confidence": self.confidence,
            "timezone": self.timezone,
            "currency": self.currency,
            "interval": "Welch's t interval for the difference of means",
            "arms": [
                {
                    "arm": a.name,
                    "players": a.players,
                    "exposures": a.exposures,
                    "grants": a.grants,
                    "amounts": a.amounts,
                    "shown": a.answered.get("SHOWN", 0),
                    "clicked": a.answered.get("CLICKED", 0),
                    **{
                        f"{key}_per_player": {"mean": s.mean, "variance": s.variance}
                        for key, s in a.samples.items()
                    },
                }
                for a in self.arms
            ],
            "comparisons": [_comparison_json(c) for c in self.comparisons],
            "winner": self.winner,
        }


def _comparison_json(c: Comparison) -> dict[str, Any]:
    d = c.difference
    out: dict[str, Any] = {"arm": c.arm, "against": HOLDOUT, "metric": c.metric}
    if d is None:
        return {**out, "verdict": "not yet"}
    relative = d.relative
    return {
        **out,
        "difference": d.difference,
        "low": d.low,
        "high": d.high,
        "df": None if math.isinf(d.df) else d.df,
        "relative": None
        if relative is None
        else dict(zip(("lift", "low", "high"), relative, strict=True)),
        "verdict": d.verdict,
        "text": c.verdict(),
    }


def _interval(d: Difference) -> str:
    relative = d.relative
    if relative is None:  # a holdout mean of zero or less: in minor units
        return f"{d.difference:+,.0f} [{d.low:+,.0f}, {d.high:+,.0f}] minor units"
    lift, low, high = relative
    return f"{lift:+.1%} [{low:+.1%}, {high:+.1%}]"


# -- the archive's figures -------------------------------------------------------------------

#: each exposed player once, with the arm and operator day of their first exposure (the
#: journal names players by pseudonym: ``player_keys`` maps it back to the id)
_FIRSTS = """
WITH firsts AS (
  SELECT DISTINCT ON (player) player, arm, first_day FROM (
    SELECT coalesce(k.player_id, j.player_id) AS player, j.details->>'arm' AS arm, j.event_time,
           (j.event_time AT TIME ZONE %(tz)s)::date AS first_day
      FROM journal j LEFT JOIN player_keys k ON k.pseudonym = j.player_id
     WHERE j.decision = 'EXPOSED' AND j.rule_id = %(rule)s
  ) exposed
  ORDER BY player, event_time, arm
), measured AS (
  SELECT f.player, f.arm, o.deposits_minor, o.ggr_minor, o.currency
    FROM firsts f JOIN player_outcomes o ON o.player_id = f.player
     AND o.day >= f.first_day AND o.day < f.first_day + %(days)s::integer
)
"""
OUTCOMES = (
    _FIRSTS
    + """, per_player AS (
  SELECT f.player, f.arm, coalesce(sum(m.deposits_minor), 0) AS deposits,
         coalesce(sum(m.ggr_minor), 0) AS ggr
    FROM firsts f LEFT JOIN measured m ON m.player = f.player
   GROUP BY 1, 2
)
SELECT arm, count(*), avg(deposits)::float8, coalesce(var_samp(deposits), 0)::float8,
       avg(ggr)::float8, coalesce(var_samp(ggr), 0)::float8
  FROM per_player GROUP BY arm
"""
)
CURRENCIES = _FIRSTS + "SELECT DISTINCT currency FROM measured ORDER BY 1"
EXPOSURES = """
SELECT e.details->>'arm', r.kind, count(*), count(*) FILTER (WHERE e.details->>'granted' = 'true'),
       coalesce(sum(r.amount), 0)
  FROM journal e
  LEFT JOIN rewards r ON e.details->>'granted' = 'true' AND r.reward_id = e.reward_id
 WHERE e.decision = 'EXPOSED' AND e.rule_id = %(rule)s
 GROUP BY 1, 2
"""
ANSWERED = """
SELECT e.arm, i.details->>'action', count(DISTINCT i.reward_id)
  FROM journal i
  JOIN (SELECT DISTINCT reward_id, details->>'arm' AS arm FROM journal
         WHERE decision = 'EXPOSED' AND rule_id = %(rule)s) e ON e.reward_id = i.reward_id
 WHERE i.decision = 'INTERACTION_RECORDED' AND i.rule_id = %(rule)s
 GROUP BY 1, 2
"""


async def experiment_report(
    conn: AsyncConnection, rule_id: str, days: int, confidence: float, timezone: str
) -> ExperimentReport:
    """The report on ``rule_id``; ``ReportProblem`` when it was never exposed or its players'
    figures come in more than one currency."""
    params = {"rule": rule_id, "tz": timezone, "days": days}
    arms: dict[str, Arm] = {}

    def arm(name: str) -> Arm:
        return arms.setdefault(name, Arm(name))

    async with conn.cursor() as cur:
        await cur.execute(EXPOSURES, params)
        for name, kind, exposures, grants, amount in await cur.fetchall():
            figures = arm(name)
            figures.exposures += exposures
            figures.grants += grants
            if kind is not None:
                figures.amounts[kind] = figures.amounts.get(kind, 0) + int(amount)
        if not arms:
            raise ReportProblem(f"no exposures of rule {rule_id!r} in the archive")
        await cur.execute(ANSWERED, params)
        for name, action, count in await cur.fetchall():
            if action in ANSWERS:
                arm(name).answered[action] = count
        await cur.execute(CURRENCIES, params)
        currencies = [row[0] for row in await cur.fetchall()]
        if len(currencies) > 1:
            raise ReportProblem(
                f"the outcome figures of rule {rule_id!r}'s players come in "
                f"{', '.join(currencies)}: send them in one currency"
            )
        await cur.execute(OUTCOMES, params)
        for name, players, dep_mean, dep_var, ggr_mean, ggr_var in await cur.fetchall():
            figures = arm(name)
            figures.players = players
            figures.samples = {
                "deposits": Sample(players, dep_mean, dep_var),
                "ggr": Sample(players, ggr_mean, ggr_var),
            }
    ordered = sorted(arms.values(), key=lambda a: (a.name != HOLDOUT, a.name))
    control = arms.get(HOLDOUT)
    comparisons = []
    if control is not None and control.samples:
        for a in ordered:
            if a is control or not a.samples:
                continue
            for key, _label in METRICS:
                difference = welch(a.samples[key], control.samples[key], confidence)
                comparisons.append(Comparison(a.name, key, difference))
    currency = currencies[0] if currencies else None
    return ExperimentReport(rule_id, days, confidence, timezone, currency, ordered, comparisons)


# -- text ----------------------------------------------------------------------------------


def render(report: ExperimentReport) -> str:
    """The report for people: a table of the arms, then one verdict line per comparison."""
    currency = report.currency or "no outcome figures yet"
    lines = [
        f"experiment {report.rule_id}: outcomes over {report.days} days from each player's "
        f"first exposure ({report.timezone} days; minor units of {currency})"
    ]
    header = ("arm", "players", "exposures", "grants", "amounts", "shown", "clicked",
              "deposits/player", "GGR/player")  # fmt: skip
    rows = [header]
    for a in report.arms:
        amounts = ", ".join(f"{kind} {amount:,}" for kind, amount in sorted(a.amounts.items()))
        means = [f"{a.samples[k].mean:,.1f}" if a.samples else "-" for k in ("deposits", "ggr")]
        rows.append(
            (a.name, f"{a.players:,}", f"{a.exposures:,}", f"{a.grants:,}", amounts or "-",
             f"{a.answered.get('SHOWN', 0):,}", f"{a.answered.get('CLICKED', 0):,}", *means)
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]  # fmt: skip
    if not report.has_holdout:
        lines.append(
            "no holdout: give the rule a holdout (or the ruleset experiments.holdout) to "
            "measure its arms"
        )
        return "\n".join(lines)
    lines.append(
        f"against the holdout (Welch's t interval for the difference of means, "
        f"{report.confidence:.0%}):"
    )
    lines += [f"  {c.verdict()}" for c in report.comparisons]
    winner = report.winner
    lines.append(f"winner: {winner} (GGR/player)" if winner else "winner: not yet")
    return "\n".join(lines)
