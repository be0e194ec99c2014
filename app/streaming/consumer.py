"""Faust's Kafka consumer, with the hot topics' records delivered to their agent a fetch at a
time (``lane``, ``fetches``); partitions the group never committed read from their beginning;
commits counted on distinct offsets; and batch tables recovered a fetch at a time.

Stock Faust's per-message path caps a worker near 10k events/s whatever the agent does;
a lane hands each fetch to its agent as one ``LaneBatch`` and acknowledges it at once, while
Faust keeps assignment, recovery, offset commits and flow control
(docs/architecture.md#micro-batches; the guarantees it keeps across rebalances and restarts
are in docs/architecture.md#what-is-guaranteed). Each override of a private Faust or aiokafka
name, and why, is listed in app/streaming/README.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import Any

from faust.channels import Channel
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, AppT, ChannelT, StreamT, TopicT
from faust.types.tuples import ack_lock
from faust.utils.functional import consecutive_numbers
from mode.utils.futures import notify
from mode.utils.queues import ThrowableQueue

from app.streaming.pacing import start_paced

log = logging.getLogger(__name__)


@dataclass(slots=True)
class LaneBatch:
    """One fetch's records of a lane's topics (aiokafka ``ConsumerRecord``s, in offset
    order per partition), the consumer generation they were fetched in, and the lanes'
    epoch then (``Consumer.drop_lanes``)."""

    records: list[Any]
    generation_id: int
    epoch: int = 0


#: topic -> the channel its records go to as batches; filled by ``lane`` at import time
LANES: dict[str, ChannelT] = {}


class _LaneQueue(ThrowableQueue):
    """A lane's queue. Faust's flow control clears it when the flow resumes after a
    rebalance, which can come after the seek to the committed offsets: a batch fetched
    from there and cleared here would never be decided (the fetcher has moved past it),
    so the consumer is told to read the lanes' partitions again."""

    def __init__(self, *args: Any, on_drop: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_drop = on_drop

    def clear(self) -> None:
        dropped = self.qsize()
        super().clear()
        if dropped:
            self._on_drop(dropped)


class LaneChannel(Channel):
    """A channel whose queues (its own and its agent's clone's) are ``_LaneQueue``s."""

    @property
    def queue(self) -> ThrowableQueue:
        if self._queue is None:
            self._queue = _LaneQueue(
                maxsize=self.maxsize,
                flow_control=self.app.flow_control,
                clear_on_resume=True,
                on_drop=lambda n: self.app.consumer.lane_batches_dropped(n),
            )
        return self._queue


def lane(app: AppT, source: TopicT, maxsize: int = 1) -> ChannelT:
    """A channel that receives the records of ``source``'s topics a fetch at a time, for
    an agent to iterate with ``fetches``. The topics stay subscribed as any agent's."""
    app.topics.add(source)
    channel = LaneChannel(app, maxsize=maxsize)
    for topic in source.topics:
        LANES[topic] = channel
    return channel


async def fetches(stream: StreamT[LaneBatch]) -> AsyncIterator[list[Any]]:
    """The records of each batch on a lane, acknowledged once the loop body is done with
    them (an exception leaves them unacknowledged, to be read again). A batch fetched
    before a rebalance, or before fetched records were dropped (an older lane epoch), is
    skipped unacknowledged: the consumer seeks back to the committed offsets after it."""
    app = stream.app
    async for fetched in stream:
        if (
            fetched.generation_id != app.consumer_generation_id
            or fetched.epoch != app.consumer.lane_epoch
        ):
            continue
        yield fetched.records
        app.consumer.ack_batch(fetched)


def _being_cancelled() -> bool:
    """Whether the running task itself is being cancelled (not an awaitable under it)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


class Consumer(driver.Consumer):
    #: Bumped whenever fetched records were dropped before being decided. A partition's
    #: records must be decided in offset order (the applied offsets are high-water marks:
    #: a later batch decided first would make the dropped records look re-delivered), so
    #: a batch of an older epoch is skipped too, and nothing is delivered to a lane until
    #: the consumer has sought back to the committed offsets (``_reread``).
    lane_epoch = 0
    _reread = False

    def drop_lanes(self, why: str) -> None:
        log.info("%s: reading the partitions again from the committed offsets", why)
        self.lane_epoch += 1
        self._reread = True

    def lane_batches_dropped(self, count: int) -> None:
        self.drop_lanes(f"flow control cleared {count} fetched batch(es) from a lane")

    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset != "earliest":
            return committed
        changelogs = self.app.tables.changelog_topics  # their positions are recovery's
        never = sorted(
            tp
            for tp, offset in committed.items()
            if (not offset or offset < 0) and tp.topic not in changelogs
        )
        if never:
            log.info(
                "reading %d partitions the group never committed from their beginning: %s",
                len(never),
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in never),
            )
            # explicit offsets, as Faust's own seeks, rather than an aiokafka offset reset
            for tp, offset in (await self.earliest_offsets(*never)).items():
                self._thread.seek(tp, offset)
        return committed

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's: the offset to commit, after the first run of consecutive acknowledged
        offsets (gaps a compaction left count as acknowledged), or None while the offset
        after the commit is not acknowledged yet. Counted on distinct offsets: Faust merges
        a gap into the list even where those offsets were read and acknowledged too (after
        a rejoin the read offset can run ahead of the seek back), and a list with repeats
        ends Faust's runs after one or two offsets, so the commit crawled a few offsets per
        interval and the lag stayed up."""
        acked = self._acked[tp]
        if not acked:
            return None
        gap = self._gap[tp]
        if gap:
            top = max(acked)
            spans = sorted(gap.overlap(0, top), key=lambda span: span.begin)
            if spans:
                filled = [o for span in spans for o in range(span.begin, span.end)]
                acked.extend(filled)
                gap.chop(0, max(filled[-1], top + 1))
        offsets = sorted(set(acked))
        committed = self._committed_offset[tp]
        if committed and offsets[0] - committed > 1:
            acked[:] = offsets
            return None
        run = next(consecutive_numbers(offsets))
        acked[:] = offsets[len(run) :]
        self._acked_index[tp].difference_update(run)
        return run[-1] + 1

    def ack_batch(self, batch: LaneBatch) -> None:
        """Mark every record of ``batch`` processed: Faust's ``ack``, once per batch."""
        with ack_lock:
            # a fetch's records come a partition at a time: one lookup per partition
            for (topic, partition), run in groupby(
                batch.records, key=lambda r: (r.topic, r.partition)
            ):
                tp = TP(topic, partition)
                committed = self._committed_offset[tp]
                index, acked = self._acked_index[tp], self._acked[tp]
                for record in run:
                    offset = record.offset
                    if (committed is None or offset >= committed) and offset not in index:
                        index.add(offset)
                        acked.append(offset)
                        self._n_acked += 1
        notify(self._waiting_for_ack)

    async def _deliver(self, delivery: Awaitable[Any]) -> bool:
        """Await ``delivery`` unless the flow is suspended first; False when it was dropped:
        the flow was suspended (a rebalance), or flow control cleared the queue the put was
        waiting on, which cancels the put (it does so when the flow resumes after recovery)
        and, unhandled, ended the fetch loop for good."""
        try:
            waited = await self.wait_first(delivery, self.suspend_flow.wait())
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            return False
        return delivery in waited.done

    def _restore(self, tp: TP, records: list[Any]) -> bool:
        """Recover an active table partition a fetch at a time; False where Faust's own
        recovery takes the records (other tables, standbys, streams).

        Faust's recovery takes changelog records one event each through the conductor and a
        queue (~9,000 a second: 1,000,000 players took two minutes). Here a fetch of a
        table with ``restore`` (app.streaming.batch_table) goes into its store in one write, with
        the bookkeeping Faust's recovery keeps: the partition's offset, and the end of
        recovery once every active partition has reached its highwater."""
        recovery = self.app.tables.recovery
        if tp not in recovery.active_tps:
            return False
        table = recovery.tp_to_table.get(tp)
        restore = getattr(table, "restore", None)
        if restore is None:
            return False
        seen = recovery.active_offsets.get(tp)
        fresh = records  # in offset order: filtered only where the first was seen
        if seen is not None and records and records[0].offset <= seen:
            fresh = [r for r in records if r.offset > seen]
        if fresh:
            restore(tp, fresh)
            recovery.active_offsets[tp] = fresh[-1].offset
        if recovery.in_recovery and not recovery.need_recovery():
            recovery.flush_buffers()
            recovery._set_recovery_ended()
            recovery.signal_recovery_end.set()
        return True

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - worker loop
        """Faust's fetch loop, with the lanes' records delivered a fetch at a time; the
        other topics' records take Faust's per-message path as before."""
        if not LANES:
            return await super()._drain_messages(fetcher)
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        callback = self.callback
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                if (
                    self._reread
                    and self.flow_active
                    and not self.app.rebalancing
                    and self.assignment()
                ):
                    self._reread = False
                    await self.perform_seek()
                try:
                    records, active = await self._wait_next_records(timeout=1.0)
                except asyncio.CancelledError:
                    if _being_cancelled():
                        raise
                    continue  # a call in the consumer thread was cancelled, not this loop
                if not records or self.should_stop:
                    await self.sleep(0)
                    continue
                if not self.flow_active:  # as Faust: a rebalance began, read again later
                    await self.perform_seek()
                    continue
                if self._reread:  # not sought back yet: these are read again after it
                    await self.sleep(0.01)
                    continue
                generation_id, epoch = self.app.consumer_generation_id, self.lane_epoch
                lanes: dict[ChannelT, list[Any]] = {}
                for tp, fetched in records.items():
                    if active is not None and tp not in active:
                        continue
                    last = read_offset.get(tp)
                    fresh = [r for r in fetched if last is None or r.offset >= last]
                    if not fresh:
                        continue
                    if last and acks_enabled_for(tp.topic):
                        for record in fresh:  # offsets a compaction or a marker skipped
                            if record.offset - last > 1:
                                await self._add_gap(tp, last + 1, record.offset)
                            last = record.offset
                    self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                    if self._restore(tp, fresh):
                        read_offset[tp] = fresh[-1].offset
                        continue
                    lane = LANES.get(tp.topic)
                    if lane is not None:
                        lanes.setdefault(lane, []).extend(fresh)
                    else:
                        for record in fresh:
                            if not await self._deliver(callback(self._to_message(tp, record))):
                                self.drop_lanes("a fetched record was dropped by flow control")
                                break
                    read_offset[tp] = fresh[-1].offset
                for lane, batch in lanes.items():
                    if not await self._deliver(lane.put(LaneBatch(batch, generation_id, epoch))):
                        self.drop_lanes("a fetched batch was dropped by flow control")
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as exc:
            log.exception("the fetch loop failed: %r", exc)
            raise
        finally:
            log.info(
                "the fetch loop stopped (consumer stopped: %s, fetcher stopped: %s)",
                consumer_stopped(),
                fetcher_stopped(),
            )


#: Records a fetch hands over while the tables recover: a decide batch is bounded
#: (``PITBOSS_BATCH_MAX``), a store write is not, and each hand-over is a hop between the
#: consumer's thread and the worker's; 1,000,000 players took 500 of them at 2,000 each.
RECOVERY_FETCH_RECORDS = 20_000


class ConsumerThread(driver.AIOKafkaConsumerThread):
    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> Any:
        """Faust's, with up to ``RECOVERY_FETCH_RECORDS`` records a fetch during recovery.
        Only the changelogs are active then (Faust resumes the other partitions once the
        recovery has ended), so no lane ever gets a batch larger than ``PITBOSS_BATCH_MAX``."""
        consumer = self._ensure_consumer()
        most = consumer._max_poll_records
        if self.app.tables.recovery.in_recovery:
            most = max(most, RECOVERY_FETCH_RECORDS)
        return await self.call_thread(
            self._fetch_records, consumer, active_partitions, timeout=timeout, max_records=most
        )

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer.start = partial(
            start_paced, consumer, consumer.start, pace=transport.pace_empty_fetches
        )
        return consumer


class Transport(driver.Transport):
    """Faust's aiokafka transport on this module's ``Consumer``; ``pace_empty_fetches``
    (``Settings.pace_empty_fetches``) says whether its consumer paces empty fetches."""

    Consumer = Consumer

    def __init__(self, *args: Any, pace_empty_fetches: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pace_empty_fetches = pace_empty_fetches
