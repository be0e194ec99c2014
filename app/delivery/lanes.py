"""Following topics in order per partition, at least once.

Each assigned partition has a lane: its records are handled one after the other (a record
waits for the previous one of its partition, so a player's records arrive in order), while the
lanes of different partitions run side by side. A partition's offset is committed only up to
the records its lane has finished (delivered or dead-lettered), so a process stopped or killed
mid-way is given the unfinished records again when it (or another member) takes the partition.
A lane that falls behind by ``max_queued`` records pauses fetching of its partition until it
has caught up halfway, so a slow endpoint never makes the process hold an unbounded backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

Handle = Callable[[ConsumerRecord], Awaitable[None]]


class _Lane:
    """One partition's records, handled in offset order by one task."""

    def __init__(self, handle: Handle, failed: Callable[[BaseException], None]) -> None:
        self.queue: deque[ConsumerRecord] = deque()
        self.wake = asyncio.Event()
        #: the next offset to commit (None: nothing finished yet), and the last committed
        self.done: int | None = None
        self.committed: int | None = None
        self.handle, self.failed = handle, failed
        self.task = asyncio.ensure_future(self._run())

    def put(self, records: list[ConsumerRecord]) -> None:
        self.queue.extend(records)
        self.wake.set()

    async def _run(self) -> None:
        try:
            while True:
                while not self.queue:
                    self.wake.clear()
                    await self.wake.wait()
                record = self.queue[0]
                await self.handle(record)
                self.queue.popleft()
                self.done = record.offset + 1
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug: stop the process rather than skip the record
            self.failed(exc)

    async def cancel(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Lanes(ConsumerRebalanceListener):
    """Runs ``handle`` over every record of the consumer's topics, lane by partition."""

    def __init__(self, consumer: AIOKafkaConsumer, handle: Handle, max_queued: int) -> None:
        self.consumer, self.handle, self.max_queued = consumer, handle, max_queued
        self.lanes: dict[TopicPartition, _Lane] = {}
        self.failure: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch, hand out and commit until ``stop`` is set (or a lane fails: raised)."""
        try:
            while not stop.is_set():
                if self.failure.done():
                    raise self.failure.result()
                polled = await self.consumer.getmany(timeout_ms=200, max_records=self.max_queued)
                for tp, records in polled.items():
                    self._lane(tp).put(records)
                self._pace()
                await self._commit(self.lanes)
        finally:
            lanes, self.lanes = self.lanes, {}
            for lane in lanes.values():
                await lane.cancel()
            await self._commit(lanes)

    def _lane(self, tp: TopicPartition) -> _Lane:
        lane = self.lanes.get(tp)
        if lane is None:
            lane = self.lanes[tp] = _Lane(self.handle, self._failed)
        return lane

    def _failed(self, exc: BaseException) -> None:
        if not self.failure.done():
            self.failure.set_result(exc)

    def _pace(self) -> None:
        paused = self.consumer.paused()
        for tp, lane in self.lanes.items():
            behind = len(lane.queue)
            if tp not in paused and behind >= self.max_queued:
                self.consumer.pause(tp)
            elif tp in paused and behind <= self.max_queued // 2:
                self.consumer.resume(tp)

    async def _commit(self, lanes: dict[TopicPartition, _Lane]) -> None:
        owned = self.consumer.assignment()
        offsets = {
            tp: lane.done
            for tp, lane in lanes.items()
            if lane.done is not None and lane.done != lane.committed and tp in owned
        }
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("could not commit offsets (%s): those records will be delivered again", exc)
            return
        for tp, offset in offsets.items():
            lanes[tp].committed = offset

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Stop the lanes of partitions taken away and commit what they finished: another
        member delivers the rest (and again what was in flight: at least once)."""
        gone = {tp: self.lanes.pop(tp) for tp in revoked if tp in self.lanes}
        for lane in gone.values():
            await lane.cancel()
        await self._commit(gone)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
