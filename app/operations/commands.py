"""``pitboss`` / ``faust -A app.main`` commands besides ``worker``."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import socket
import sys

import click
from faust.cli import argument, option

from app.operations.admin import AdminError, describe_topics, ensure_topics, list_topics
from app.operations.privacy import request_erasure
from app.operations.tail import tail as tail_rewards
from app.operations.topics import topic_specs
from app.streaming.faust_app import app, settings

TOPIC_ACTIONS = ("create", "describe", "list")


@app.command(
    option("--from-beginning", is_flag=True, default=False, help="Replay what is on the topics."),
    option("--limit", type=int, default=None, help="Stop after this many lines."),
)
async def tail(self, from_beginning: bool, limit: int | None) -> None:
    """Show rewards and cool-downs live as the worker issues them."""
    self.say(f"rewards and cool-downs from {settings.kafka_url} (Ctrl-C stops)")
    with contextlib.suppress(asyncio.CancelledError):
        await tail_rewards(settings, from_beginning=from_beginning, limit=limit)


@app.command(
    argument("action", type=click.Choice(TOPIC_ACTIONS)),
    argument("names", nargs=-1),
    option("--all", "include_internal", is_flag=True, default=False, help="list: with __ topics"),
    option("--timeout", type=float, default=30.0, help="create: seconds to wait for the topics"),
)
async def topics(
    self: object, action: str, names: tuple[str, ...], include_internal: bool, timeout: float
) -> None:
    """Topics: create every Pitboss topic (idempotent), describe them [NAME...], or list all.

    Exit codes: 0 fine; 1 a topic has the wrong partition count (or, for describe, is
    missing); 2 the broker could not be reached or refused a request.
    """
    try:
        if action == "create":
            code = await _create_topics(timeout)
        elif action == "describe":
            code = await _describe_topics(names)
        else:
            for name in await list_topics(settings, include_internal=include_internal):
                print(name, flush=True)
            code = 0
    except AdminError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        code = 2
    if code:
        raise SystemExit(code)


async def _create_topics(timeout: float) -> int:
    results = await ensure_topics(settings, strict=False, timeout=timeout)
    for r in results:
        print(f"{r.name}: {r.outcome} ({r.actual_partitions} partitions)", flush=True)
        for warning in r.warnings:
            print(f"  {warning}", flush=True)
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(
            f"{r.name} has {r.actual_partitions} partitions, not {r.wanted_partitions}",
            file=sys.stderr,
            flush=True,
        )
    return 1 if bad else 0


async def _describe_topics(names: tuple[str, ...]) -> int:
    infos = await describe_topics(settings, list(names) or None)
    wanted = {spec.name: spec.partitions for spec in topic_specs(settings)}
    width = max((len(info.name) for info in infos), default=10)
    missing = 0
    for info in infos:
        if not info.exists:
            missing += 1
            print(f"{info.name:<{width}}  MISSING", flush=True)
            continue
        note = ""
        if wanted.get(info.name, info.partitions) != info.partitions:
            note = f"  (wanted {wanted[info.name]} partitions)"
        configs = (
            "configs not available"
            if info.configs is None
            else ", ".join(f"{k}={v}" for k, v in sorted(info.configs.items())) or "defaults"
        )
        print(f"{info.name:<{width}}  {info.partitions:>3} partitions  {configs}{note}", flush=True)
    return 1 if missing else 0


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
