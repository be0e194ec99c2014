"""The lanes' guard against deciding a partition's records out of order (app.streaming.consumer).

Faust's flow control clears the agents' queues when the flow resumes after a rebalance,
which can come after its seek to the committed offsets: a batch cleared then was never
decided, and a later batch decided before it is read again would make it look
re-delivered (tests/e2e/test_broker_outage_e2e.py caught this as lost decisions). The e2e
test causes it for real; these pin the two halves of the guard down.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from mode.utils.queues import FlowControlEvent

from app.streaming.consumer import Consumer, LaneBatch, _LaneQueue, fetches


def test_resuming_the_flow_reports_the_batches_it_cleared():
    async def run() -> list[int]:
        dropped: list[int] = []
        flow = FlowControlEvent()
        queue = _LaneQueue(
            maxsize=1, flow_control=flow, clear_on_resume=True, on_drop=dropped.append
        )
        flow.resume()  # nothing queued: nothing to report
        await queue.put("batch")
        flow.suspend()
        flow.resume()  # what Faust's recovery does once it has sought
        assert queue.qsize() == 0
        return dropped

    assert asyncio.run(run()) == [1]


def test_a_drop_bumps_the_epoch_and_asks_for_a_seek():
    consumer = Consumer.__new__(Consumer)
    before = consumer.lane_epoch
    consumer.drop_lanes("flow control cleared 1 fetched batch(es) from a lane")
    assert consumer.lane_epoch == before + 1 and consumer._reread


def test_batches_of_an_older_epoch_or_generation_are_skipped_unacknowledged():
    acked: list[LaneBatch] = []
    consumer = SimpleNamespace(lane_epoch=2, ack_batch=acked.append)
    app = SimpleNamespace(consumer_generation_id=5, consumer=consumer)
    batches = [
        LaneBatch(["before the drop"], 5, 1),
        LaneBatch(["an older generation"], 4, 2),
        LaneBatch(["after the seek"], 5, 2),
    ]

    class Stream:
        def __init__(self) -> None:
            self.app = app

        async def __aiter__(self):
            for batch in batches:
                yield batch

    async def run() -> list[list]:
        return [records async for records in fetches(Stream())]

    assert asyncio.run(run()) == [["after the seek"]]
    assert acked == [batches[2]]
