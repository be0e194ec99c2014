"""Getting and deleting players' secrets in a table split by partition (the worker's
``player-keys`` table): a new player's secret is durable before any record naming its
pseudonym is published, so a re-decision after a crash seals with the same secret."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

from app.pipeline.ingest import partition_for
from app.security.player_keys import new_secret


class KeyTable(Protocol):
    """What the secrets are kept in (``tables/player_keys.py``: a ``BatchTable``)."""

    def get_many(self, partition: int, keys: Iterable[bytes]) -> Mapping[bytes, bytes]: ...

    async def put_many(self, partition: int, items: Mapping[bytes, bytes | None]) -> None: ...


def _by_partition(players: Iterable[str], partitions: int) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for player_id in players:
        grouped.setdefault(partition_for(player_id, partitions), []).append(player_id)
    return grouped


async def secrets_for(table: KeyTable, players: Iterable[str], partitions: int) -> dict[str, bytes]:
    """The secret of each player, made for those without one and written (its changelog
    record acknowledged by the broker) before this returns."""
    found: dict[str, bytes] = {}
    made: dict[int, dict[bytes, bytes | None]] = {}
    for partition, ids in _by_partition(players, partitions).items():
        stored = table.get_many(partition, [pid.encode() for pid in ids])
        for player_id in ids:
            key = player_id.encode()
            secret = stored.get(key)
            if secret is None:
                secret = made.setdefault(partition, {})[key] = new_secret()
            found[player_id] = secret
    await asyncio.gather(*(table.put_many(p, items) for p, items in made.items()))
    return found


async def shred(table: KeyTable, players: Iterable[str], partitions: int) -> None:
    """Delete the secrets the players still have (tombstones; compaction then drops them)."""
    doomed = {}
    for partition, ids in _by_partition(players, partitions).items():
        stored = table.get_many(partition, [pid.encode() for pid in ids])
        if stored:
            doomed[partition] = dict.fromkeys(stored, None)
    await asyncio.gather(*(table.put_many(p, items) for p, items in doomed.items()))
