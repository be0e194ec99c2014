"""Sliding windows over event time, shared by window triggers and the loss detectors."""

from __future__ import annotations

from collections.abc import Sequence


def first_run_reaching(
    entries: Sequence[Sequence],
    t: int,
    within_ms: int,
    count_at_least: int | None = None,
    sum_at_least: int | None = None,
) -> list | None:
    """The earliest run of ``entries`` spanning less than ``within_ms`` that includes time
    ``t`` and reaches the threshold (a count, or a sum of ``entry[1]``), or None.

    ``entries`` are ``[time, value, …]`` sorted by time; checking every run that contains
    ``t`` makes the answer the same whatever order the events arrived in.
    """
    lo = 0
    total = 0
    for hi in range(len(entries)):
        total += entries[hi][1]
        while entries[hi][0] - entries[lo][0] >= within_ms:
            total -= entries[lo][1]
            lo += 1
        if not entries[lo][0] <= t <= entries[hi][0]:
            continue
        run = entries[lo : hi + 1]
        if count_at_least is not None and len(run) >= count_at_least:
            return list(run)
        if sum_at_least is not None and total >= sum_at_least:
            return list(run)
    return None
