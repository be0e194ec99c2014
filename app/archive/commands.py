"""``pitboss archive`` and ``pitboss archive-migrate``: the timeline archive's commands."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import psycopg
from faust.cli import option

from app.archive import store
from app.archive.follow import Follower
from app.archive.migrate import migrate
from app.operations.cli import Command
from app.streaming.faust_app import app, settings


def _require_archive() -> None:
    if not settings.archive_url:
        print("the archive is disabled: PITBOSS_ARCHIVE_URL is empty", file=sys.stderr)
        raise SystemExit(2)


@app.command(
    option(
        "--from-beginning",
        is_flag=True,
        default=False,
        help="Re-read the topics from their start (a rebuild: every row stays single).",
    ),
    base=Command,
)
async def archive(self, from_beginning: bool) -> None:
    """Copy the journal, rewards and cool-downs into PostgreSQL, as consumer group
    <app id>-archive; waits for PostgreSQL when it is down, losing nothing."""
    _require_archive()
    with contextlib.suppress(asyncio.CancelledError):
        await Follower(settings, from_beginning=from_beginning).run()


@app.command(base=Command)
async def archive_migrate(self) -> None:
    """Create the archive's schema and tables in PostgreSQL, or bring them up to date."""
    _require_archive()
    where = store.location(settings.archive_url)
    try:
        conn = await store.connect(settings.archive_url, settings.archive_schema)
        try:
            applied = await migrate(conn, settings.archive_schema)
        finally:
            await conn.close()
    except (psycopg.Error, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0]
        print(f"archive schema {settings.archive_schema} at {where}: {reason}", file=sys.stderr)
        raise SystemExit(1) from None
    done = ", ".join(applied) if applied else "nothing to apply, already up to date"
    self.say(f"archive schema {settings.archive_schema} at {where}: {done}")
