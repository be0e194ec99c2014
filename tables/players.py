"""The per-player tables: decision state and the latest profile."""

from __future__ import annotations

from app.streaming.batch_table import batch_table
from app.streaming.faust_app import app, settings

player_state = batch_table(
    app,
    "player-state",
    settings.partitions,
    help="One compact PlayerState per player (JSON), written once per micro-batch.",
)

player_profiles = batch_table(
    app,
    "player-profiles",
    settings.partitions,
    help="The latest PlayerProfile per player (JSON), from the player-profiles topic.",
)
