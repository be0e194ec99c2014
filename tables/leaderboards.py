"""The leaderboards table: one board (its top N) per board key, on the key's partition."""

from __future__ import annotations

from app.streaming.batch_table import batch_table
from app.streaming.faust_app import app, settings

leaderboards_table = batch_table(
    app,
    "leaderboards",
    settings.partitions,
    help="One Board (top N, compact JSON) per board key, written once per micro-batch.",
)
