"""The backoff schedule: doubling from the first delay, capped, jittered into the upper half."""

from __future__ import annotations

import random

from app.delivery.backoff import backoff


def test_each_pause_lies_in_the_upper_half_of_its_doubling_capped_ceiling():
    rand = random.Random(7)
    for attempt in range(1, 30):
        ceiling = min(10.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(50):
            pause = backoff(attempt, 0.5, 10.0, rand)
            assert ceiling / 2 <= pause <= ceiling


def test_the_schedule_grows_then_stays_at_the_cap_and_jitter_spreads_it():
    low = [backoff(a, 1.0, 8.0, _Fixed(0.0)) for a in range(1, 7)]
    high = [backoff(a, 1.0, 8.0, _Fixed(1.0)) for a in range(1, 7)]
    assert low == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    spread = {round(backoff(3, 1.0, 60.0, random.Random(seed)), 6) for seed in range(20)}
    assert len(spread) == 20
    assert backoff(10_000, 1.0, 60.0, random.Random(1)) <= 60.0  # no overflow


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value
