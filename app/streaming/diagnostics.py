"""Where a worker's consumer stands, as plain data for the ``/pitboss/consumer/`` view.

Faust and aiokafka keep this bookkeeping in private attributes; reading them here keeps
every such access in app/streaming (listed in app/streaming/README.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

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
