"""A Faust table read and written a micro-batch at a time, by explicit partition.

Stock Faust tables find a key's partition from the event being iterated, which forces one
write per event. Here the agent says which partition a player lives on (the one Kafka's
default partitioner gives their id, where events, profiles and state meet), reads all of a
batch's players at once and writes each changed player once: one RocksDB write batch and
one changelog record per player per batch. Recovery, standbys and rebalancing stay Faust's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables import TableManager as FaustTableManager
from faust.types import TP

from app.streaming.outbox import Outbox

try:  # the store Faust uses when python-rocksdb is absent
    from rocksdict import WriteBatch
except ImportError:  # pragma: no cover - rocksdict is a pinned dependency
    WriteBatch = None


class BatchTable(faust.Table):
    """Bytes keys to bytes values, with ``get_many``/``put_many`` per partition."""

    #: the changelog topic's name when it is not Faust's ``<app id>-<table>-changelog``
    changelog_name: str | None = None

    def _changelog_topic_name(self) -> str:
        return self.changelog_name or super()._changelog_topic_name()

    def get_many(self, partition: int, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        keys = list(keys)
        store = self.data
        if isinstance(store, RocksDBStore):
            db = store._db_for_partition(partition)
            found = db.get(keys)  # rocksdict multi-get: one call for the batch
            return {k: v for k, v in zip(keys, found, strict=True) if v is not None}
        raw = store.data  # the in-memory store keeps encoded bytes in a dict
        return {k: raw[k] for k in keys if k in raw}

    async def put_many(self, partition: int, items: Mapping[bytes, bytes | None]) -> None:
        """Write (or, for None, delete) each key: to the changelog first, and only once the
        broker has it, locally, then note the changelog offset the store now holds.

        The order matters after a SIGKILL: recovery replays the changelog past the noted
        offset over the local store, so a local write whose changelog record was lost (Faust
        writes locally first and sends later) could come back older than a neighbour that
        was not lost, and a store where some keys are ahead of others is not a state the
        worker ever had. Never ahead of its changelog, the local store always recovers to
        a state the worker had, as a worker with no local store does."""
        if not items:
            return
        topic = self.changelog_topic.get_topic_name()
        box = Outbox(self.app)
        for key, value in items.items():
            box.add(topic, self.partitions, key, value, partition)
        last = (await box.send())[topic, partition]
        self._write_local(partition, items.items(), TP(topic, partition), last)

    def restore(self, tp: TP, records: Sequence[Any]) -> None:
        """Changelog records of ``tp`` (in offset order) into the local store in one write,
        noting the offset: recovery a fetch at a time (see ``app.streaming.consumer``)."""
        pairs = ((record.key, record.value) for record in records)
        self._write_local(tp.partition, pairs, tp, records[-1].offset)

    def _write_local(
        self, partition: int, items: Iterable[tuple[bytes, bytes | None]], tp: TP, offset: int
    ) -> None:
        """Write (None: delete) to the partition's store, then note the changelog offset it
        now holds, as Faust's own recovery does."""
        store = self.data
        if isinstance(store, RocksDBStore):
            batch = WriteBatch(raw_mode=True)
            for key, value in items:
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            store._db_for_partition(partition).write(batch)
        else:
            raw = store.data
            for key, value in items:
                if value is None:
                    raw.pop(key, None)
                else:
                    raw[key] = value
        store.set_persisted_offset(tp, offset)


class TableManager(FaustTableManager):
    """Faust's, without the second it sleeps before it starts the tables and their
    recovery: that sleep leaves time for tables defined late, and every table here is
    defined when ``app.main`` is imported (``add`` refuses one after the start)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


#: RocksDB options for these tables of small records rewritten every batch. Faust's defaults
#: (per partition's database: 64 MB write buffers, up to 3, and a 2 GB block cache) let the
#: memtables and the write-ahead log grow by hundreds of MB per worker before the first
#: flush: scripts/bench/soak.py measured RSS and RocksDB size both rising ~40 MB/min at 1,000
#: events/s. Small buffers flush early, so memory and disk level off.
STORE_OPTIONS = {
    "write_buffer_size": 4 * 2**20,
    "max_write_buffer_number": 2,
    "block_cache_size": 32 * 2**20,
}


def batch_table(
    app: faust.App,
    name: str,
    partitions: int,
    help: str,
    changelog: str | None = None,
    **kwargs: Any,
) -> BatchTable:
    """Create and register a :class:`BatchTable` the way ``app.Table`` would; ``changelog``
    names its changelog topic (a topic of the contract) instead of Faust's default name."""
    kwargs.setdefault("options", dict(STORE_OPTIONS))  # a copy: the store pops from it
    table = BatchTable(
        app,
        name=name,
        default=None,
        beacon=app.tables.beacon,
        partitions=partitions,
        # bytes types make Faust pick the raw codec for the changelog and its recovery
        key_type=bytes,
        value_type=bytes,
        help=help,
        **kwargs,
    )
    table.changelog_name = changelog
    return app.tables.add(table)
