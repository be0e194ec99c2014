"""Fetch pacing for brokers that answer an empty fetch at once.

Kafka holds a fetch that finds nothing for ``fetch_max_wait_ms``; the local broker
(noida-db 0.2.3) answers it at once, and aiokafka then fetches again at once: ~7,000
requests a second per consumer on idle partitions, a consumer thread that takes the GIL
from the agents (docs/operations.md, "The local broker"). Every consumer Pitboss runs starts
with ``start_paced``; where ``PITBOSS_PACE_EMPTY_FETCHES`` is on (by default with the local
broker only) its fetcher then pauses briefly after such a hasty empty answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

#: The pause after an empty fetch answered sooner than this: it bounds the requests to a
#: few hundred a second and adds at most this much to the time a new record waits.
EMPTY_FETCH_PAUSE = 0.005


async def start_paced(
    consumer: Any, start: Callable[[], Awaitable[None]] | None = None, *, pace: bool
) -> None:
    """Start an aiokafka consumer (with ``start``, its original ``start`` where that was
    replaced); with ``pace`` (``Settings.pace_empty_fetches``) its fetcher then pauses
    after a hasty empty fetch, without it the consumer is only started."""
    await (start or consumer.start)()
    if pace:
        pace_fetcher(consumer._fetcher)


def pace_fetcher(fetcher: Any) -> None:
    """Have an aiokafka ``Fetcher`` pause after an empty fetch answered sooner than
    ``EMPTY_FETCH_PAUSE``: its ``_proc_fetch_request`` is wrapped (app/streaming/README.md)."""
    fetch = fetcher._proc_fetch_request
    loop = asyncio.get_running_loop()

    async def paced(assignment: Any, node_id: int, request: Any) -> bool:
        started = loop.time()
        has_data = await fetch(assignment, node_id, request)
        if not has_data and loop.time() - started < EMPTY_FETCH_PAUSE:
            # cancelled by close() or an unassignment: end quietly, as aiokafka's own does
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(EMPTY_FETCH_PAUSE)
        return has_data

    fetcher._proc_fetch_request = paced
