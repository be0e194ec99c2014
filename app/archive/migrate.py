"""The archive's schema: numbered SQL files applied once each, in order.

Three tables do not justify a migration framework. Each pending ``migrations/NNNN_*.sql``
runs in one transaction with its row in ``schema_migrations``, under an advisory lock, so
two archives starting together, or a re-run, apply every file exactly once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from psycopg import AsyncConnection, sql

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class Migration:
    version: str  # the file name without ".sql", e.g. "0001_timeline"
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The shipped migrations in the order they apply (by their number)."""
    files = sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [Migration(f.stem, f.read_text()) for f in files]


async def migrate(
    conn: AsyncConnection, schema: str, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Create ``schema`` if needed and apply its pending migrations; the versions applied."""
    applied_now: list[str] = []
    name = sql.Identifier(schema)
    async with conn.transaction():
        # Serialises concurrent runs on one schema until this transaction ends.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"pitboss:{schema}"])
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(name))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(name))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version, checksum FROM schema_migrations")
        applied = dict(await cursor.fetchall())
        for migration in migrations(directory):
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    log.warning(
                        "archive migration %s was edited after it was applied to schema %s; "
                        "the change is not applied (add a new numbered file instead)",
                        migration.version,
                        schema,
                    )
                continue
            await conn.execute(migration.text)  # without parameters: several statements, no %s
            await conn.execute(
                "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                [migration.version, migration.checksum],
            )
            applied_now.append(migration.version)
    for version in applied_now:
        log.info("archive schema %s: applied migration %s", schema, version)
    return applied_now
