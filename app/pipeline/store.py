"""What deciding reads its tables through, and the dict-backed tables of everything that
decides without a worker (the audit replay, the crash tests' reference, the benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

#: partition -> key -> value to write (None: a tombstone)
Writes = dict[int, dict[bytes, bytes | None]]


class Store(Protocol):
    """A table split by partition (the worker's RocksDB tables, ``tables/players.py``)."""

    def get_many(self, partition: int, keys: Iterable[bytes]) -> Mapping[bytes, bytes]:
        """The values of those keys that have one."""
        ...


@dataclass(slots=True)
class DictStore:
    """A table in plain dicts."""

    partitions: dict[int, dict[bytes, bytes]] = field(default_factory=dict)

    def get_many(self, partition: int, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        table = self.partitions.get(partition, {})
        return {k: table[k] for k in keys if k in table}

    def put_many(self, partition: int, writes: Mapping[bytes, bytes | None]) -> None:
        table = self.partitions.setdefault(partition, {})
        for key, value in writes.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value

    def apply(self, writes: Writes) -> None:
        for partition, changes in writes.items():
            self.put_many(partition, changes)
