"""The garbage collector's settings for a process that decides micro-batches: the worker, and
the benchmarks of its decision path, so they measure what the worker does."""

from __future__ import annotations

import gc

#: Allocations between two young-generation collections (CPython's default: 700). A
#: decision batch allocates hundreds of thousands of short-lived dicts and lists that
#: reference counting frees anyway; collecting every 700 of them, the collector walking
#: the same live objects again, cost 16-18 % of a worker's events/s (scripts/bench/).
GC_THRESHOLD = 50_000


def tune_for_batches() -> None:
    """Call once the process has imported what it keeps for good (modules, schemas, codecs,
    compiled rules): that is frozen out of the collector's sight, and the young generation
    is collected every ``GC_THRESHOLD`` allocations."""
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
