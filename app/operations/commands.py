"""``pitboss`` / ``faust -A app.main`` commands besides ``worker``."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import socket

from faust.cli import argument, option

from app.operations.admin import ensure_topics
from app.operations.privacy import request_erasure
from app.operations.tail import tail as tail_rewards
from app.streaming.faust_app import app, settings


@app.command(
    option("--from-beginning", is_flag=True, default=False, help="Replay what is on the topics."),
    option("--limit", type=int, default=None, help="Stop after this many lines."),
)
async def tail(self, from_beginning: bool, limit: int | None) -> None:
    """Show rewards and cool-downs live as the worker issues them."""
    self.say(f"rewards and cool-downs from {settings.kafka_url} (Ctrl-C stops)")
    with contextlib.suppress(asyncio.CancelledError):
        await tail_rewards(settings, from_beginning=from_beginning, limit=limit)


@app.command()
async def topics(self) -> None:
    """Create every Pitboss topic with its partition count and configs (idempotent)."""
    for result in await ensure_topics(settings):
        self.say(f"{result.name}: {result.outcome} ({result.actual_partitions} partitions)")


@app.command()
async def show_settings(self) -> None:
    """Print the settings this process would run with."""
    for name, value in settings.describe().items():
        self.say(f"{name:24} {value}")


@app.command(argument("player_id"))
async def forget(self, player_id: str) -> None:
    """Erase a player: state and profile tombstoned, no rewards for the id from now on."""
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    partition = await request_erasure(settings, player_id, who)
    self.say(
        f"erasure of {player_id} requested (partition {partition}): the worker that owns the "
        "player tombstones their state and profile and journals PLAYER_ERASED"
    )
