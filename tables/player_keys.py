"""Each player's secret (crypto-shredding, ``app.security.player_keys``), on the compacted
``player-keys`` topic of the contract: this table's changelog. Faust recovers it before the
decide agent runs, so a worker that restarts finds the secrets it had made."""

from __future__ import annotations

from faust.types import TP

from app.pipeline.ingest import partition_for
from app.security.player_names import hold_secrets
from app.streaming.batch_table import batch_table
from app.streaming.faust_app import app, settings

player_keys = batch_table(
    app,
    "player-keys",
    settings.partitions,
    help="32 random bytes per player (key: player id); a tombstone once the player is erased.",
    changelog=settings.topics.player_keys,
)


def held_secret(player_id: str) -> bytes | None:
    """The player's secret if this worker decides for them now (else None: the table's
    store for a partition it does not own is not to be opened)."""
    partition = partition_for(player_id, settings.partitions)
    if TP(settings.topics.table_events, partition) not in app.assignor.assigned_actives():
        return None
    key = player_id.encode()
    return player_keys.get_many(partition, [key]).get(key)


hold_secrets(held_secret)  # the access log names this worker's players by their secrets
