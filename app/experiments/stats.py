"""Welch's t interval for the difference of two means (unequal variances, unequal sizes):
what ``pitboss experiments report`` puts around each arm's lift over the holdout.

Pure arithmetic on per-arm summaries (count, mean, sample variance), so PostgreSQL does the
per-player sums and nothing here needs a player's rows. The Student t quantile comes from
the Cornish-Fisher expansion around the normal one (within 0.004 of the exact value from 3
degrees of freedom up; no SciPy in the image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class Sample:
    """One arm's per-player figure: how many players, their mean and sample variance."""

    n: int
    mean: float
    variance: float


@dataclass(frozen=True, slots=True)
class Difference:
    """``arm - control`` with its interval at ``confidence``; ``relative`` is over the
    control's mean (None when that is not positive)."""

    difference: float
    low: float
    high: float
    df: float
    confidence: float
    control_mean: float

    @property
    def relative(self) -> tuple[float, float, float] | None:
        """(lift, low, high) as shares of the control's mean, the control's mean taken as
        known (the interval is the difference's, scaled)."""
        base = self.control_mean
        if base <= 0:
            return None
        return self.difference / base, self.low / base, self.high / base

    @property
    def verdict(self) -> str:
        """``better``, ``worse`` or ``not yet`` (the interval spans zero)."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "not yet"


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (Cornish-Fisher)."""
    z = NormalDist().inv_cdf(p)
    if math.isinf(df):
        return z
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def welch(arm: Sample, control: Sample, confidence: float = 0.95) -> Difference | None:
    """The difference of means ``arm - control`` with Welch's interval; None with fewer
    than two players on a side (no variance to speak of)."""
    if arm.n < 2 or control.n < 2:
        return None
    a, c = arm.variance / arm.n, control.variance / control.n
    difference = arm.mean - control.mean
    spread = a + c
    if spread == 0:  # every player the same on both sides: the difference is exact
        return Difference(difference, difference, difference, math.inf, confidence, control.mean)
    df = spread**2 / (a**2 / (arm.n - 1) + c**2 / (control.n - 1))
    margin = t_quantile((1 + confidence) / 2, df) * math.sqrt(spread)
    return Difference(
        difference, difference - margin, difference + margin, df, confidence, control.mean
    )
