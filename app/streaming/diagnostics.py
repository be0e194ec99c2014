"""Where a worker's consumer stands, as plain data for the ``/pitboss/consumer/`` view, the
metrics (``consumer_state``) and the readiness probe (``ready``).

Faust and aiokafka keep this bookkeeping in private attributes; reading them here keeps
every such access in app/streaming (listed in app/streaming/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from app.metrics.consumer import ConsumerState
from app.streaming.consumer import Consumer


def consumer_positions(consumer: Consumer) -> dict[str, Any]:
    """Per assigned partition: the offset Faust commits from, the last read, the offsets
    acknowledged but not committed yet (with the gaps Faust fills in), the messages in
    flight and aiokafka's fetch position; plus whether the flow is active and where the
    fetch loop waits."""
    in_flight: dict[TP, list[int]] = {}
    for message in list(consumer._unacked_messages):
        in_flight.setdefault(message.tp, []).append(message.offset)
    active = consumer._active_partitions
    subscription = consumer._thread._ensure_consumer()._subscription.subscription
    partitions = []
    for tp in sorted(consumer.assignment()):
        fetch = subscription.assignment.state_value(tp) if subscription else None
        acked = sorted(consumer._acked.get(tp, ()))
        gaps = consumer._gap.get(tp)
        unacked = sorted(in_flight.get(tp, ()))
        partitions.append(
            {
                "topic": tp.topic,
                "partition": tp.partition,
                "committed": consumer._committed_offset.get(tp),
                "read": consumer._read_offset.get(tp),
                "highwater": consumer.highwater(tp),
                "acked_uncommitted": len(acked),
                "acked_range": [acked[0], acked[-1]] if acked else None,
                "gaps": sorted([i.begin, i.end] for i in gaps) if gaps else [],
                "in_flight": len(unacked),
                "in_flight_range": [unacked[0], unacked[-1]] if unacked else None,
                "paused": tp in consumer._paused_partitions,
                "active": None if active is None else tp in active,
                "fetch": None
                if fetch is None
                else {
                    "position": fetch._position,
                    "paused": fetch.paused,
                    "status": str(fetch._status),
                    "reset": fetch._reset_strategy,
                },
            }
        )
    return {
        "flow_active": consumer.flow_active,
        "fetch_loop": fetch_loop_stack(),
        "partitions": partitions,
    }


def fetch_loop_stack() -> list[str] | None:
    """The await chain of the consumer's fetch loop (Faust's ``_drain_messages``): where it
    is waiting (None: no task is running it)."""
    for task in asyncio.all_tasks():
        chain = []
        coro = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
            if frame is not None:
                where = frame.f_code.co_filename.rsplit("/", 2)[-1]
                chain.append(f"{frame.f_code.co_qualname} ({where}:{frame.f_lineno})")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
        if any("._drain_messages" in step for step in chain):
            return chain
    return None


def ready(app: faust.App) -> bool:
    """Tables recovered and partitions assigned, no rebalance running: the worker decides.
    Recovery's ``completed`` is set once the streams resume after a rebalance's recovery (with
    an empty assignment too: a worker with nothing to do is ready)."""
    return app.tables.recovery.completed.is_set() and not app.rebalancing and not app.in_recovery


def consumer_state(app: faust.App) -> ConsumerState:
    """The metrics' view of the consumer: lag per assigned partition (high-water mark minus
    the next offset to read), rebalances, the changelog records recovery still has to read."""
    consumer = app.consumer
    lag = {}
    with contextlib.suppress(ConsumerNotStarted):  # a scrape before the consumer runs
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            read = consumer._read_offset.get(tp)
            if highwater is not None:
                next_offset = 0 if read is None else read + 1
                lag[(tp.topic, tp.partition)] = max(highwater - next_offset, 0)
    recovery = app.tables.recovery
    return ConsumerState(
        lag=lag,
        rebalances=app.rebalancing_count,
        recovery_active=recovery.active_remaining_total(),
        recovery_standby=recovery.standby_remaining_total(),
        ready=ready(app),
    )
