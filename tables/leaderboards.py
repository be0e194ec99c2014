"""The leaderboards table: one board (its top N) per board key, on the key's partition."""

from __future__ import annotations

from app.faust_app import app, settings
from tables.batch_table import batch_table

leaderboards_table = batch_table(
    app,
    "leaderboards",
    settings.partitions,
    help="One Board (top N, compact JSON) per board key, written once per micro-batch.",
)
