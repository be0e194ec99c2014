"""Every SQL statement of the archive: connecting, writing a batch, reading a timeline.

Writes are idempotent on the records' own ids (``ON CONFLICT DO NOTHING``): the follower
delivers at least once, so a re-delivered record must never make a second row. Erasure is
applied in the same transaction as the batch that carries its marker, or the tombstone of
the player's secret, whichever comes first.

The journal names a player by a pseudonym under their secret (``app.security.player_keys``);
``player_keys`` maps it back to the id while the secret exists, so the timeline is found by
player id. Rewards and cool-downs keep the id; access-log entries name the player by the
pseudonym, or by the erasure marker where the serving process had no secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from app.core.ids import pseudonym
from app.security.player_keys import is_player_pseudonym, player_pseudonym
from app.security.postgres import with_tls
from app.security.settings import PostgresTLS

ERASED = "PLAYER_ERASED"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ArchiveUnavailable(RuntimeError):
    """The archive cannot answer: disabled, PostgreSQL unreachable, or no schema yet."""


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain lower-case identifier (it names a PostgreSQL schema)."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(
            f"PITBOSS_ARCHIVE_SCHEMA must be lower-case letters, digits and _, got {schema!r}"
        )
    return schema


def location(url: str) -> str:
    """``host:port/database`` of a PostgreSQL URL, for messages (never its password)."""
    try:
        info = conninfo_to_dict(url)
    except Exception:  # an unparsable URL: say so rather than echo it
        return "an unparsable PITBOSS_ARCHIVE_URL"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


async def connect(
    url: str, schema: str, timeout: int = 5, tls: PostgresTLS | None = None
) -> AsyncConnection:
    """A connection in autocommit mode whose tables are the archive ``schema``'s, with the TLS
    settings (default: this process's environment; docs/security.md) over ``url``'s own."""
    check_schema_name(schema)
    conn = await AsyncConnection.connect(
        with_tls(url, tls or PostgresTLS.from_env(os.environ)),
        autocommit=True,
        connect_timeout=timeout,
        application_name="pitboss-archive",
    )
    try:
        await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    except BaseException:
        await conn.close()
        raise
    return conn


# -- time ----------------------------------------------------------------------------------


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- writing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record was read: kept on its row (the first delivery's)."""

    topic: str
    partition: int
    offset: int


Located = tuple[dict, Origin]


@dataclass
class Batch:
    """Decoded records of one poll, by kind, in the order they were read."""

    journal: list[Located] = field(default_factory=list)
    rewards: list[Located] = field(default_factory=list)
    cooldowns: list[Located] = field(default_factory=list)
    access_log: list[Located] = field(default_factory=list)
    #: the player-keys topic's records: (player id, secret; None: the player was erased)
    player_keys: list[tuple[str, bytes | None]] = field(default_factory=list)
    #: the operator's outcome figures (``app.experiments.outcomes``)
    outcomes: list[Located] = field(default_factory=list)
    #: the steps of rewards' fulfilment (``pitboss fulfil``'s reward-lifecycle)
    lifecycle: list[Located] = field(default_factory=list)

    def __len__(self) -> int:
        records = (self.journal, self.rewards, self.cooldowns, self.access_log, self.player_keys)
        return sum(len(kind) for kind in records) + len(self.outcomes) + len(self.lifecycle)


@dataclass(slots=True)
class Written:
    """What a batch did: rows added, records already there, records of erased players."""

    new: int = 0
    duplicates: int = 0
    erased_dropped: int = 0
    erasures: int = 0


def journal_row(entry: dict, at: Origin, player_id: str | None) -> tuple:
    return (
        entry["entry_id"],
        player_id,
        entry["decision"],
        entry["rule_id"],
        entry["rule_version"],
        entry["reason"],
        list(entry["event_ids"]),
        entry["reward_id"],
        Jsonb(entry["details"]),
        from_ms(entry["event_time"]),
        from_ms(entry["recorded_at"]),
        at.topic,
        at.partition,
        at.offset,
    )


def reward_row(reward: dict, at: Origin) -> tuple:
    return (
        reward["reward_id"],
        reward["player_id"],
        reward["rule_id"],
        reward["rule_version"],
        reward["kind"],
        reward["amount"],
        reward["currency"],
        reward["message"],
        reward["table_id"],
        reward["game"],
        reward["dealer_id"],
        list(reward["trigger_event_ids"]),
        from_ms(reward["event_time"]),
        from_ms(reward["issued_at"]),
        Jsonb(reward["attributes"]),
        at.topic,
        at.partition,
        at.offset,
    )


def cooldown_row(cooldown: dict, at: Origin) -> tuple:
    return (
        cooldown["cooldown_id"],
        cooldown["player_id"],
        cooldown["reason"],
        Jsonb(cooldown["figures"]),
        from_ms(cooldown["starts_at"]),
        from_ms(cooldown["ends_at"]),
        cooldown["message"],
        list(cooldown["trigger_event_ids"]),
        from_ms(cooldown["issued_at"]),
        at.topic,
        at.partition,
        at.offset,
    )


def access_row(entry: dict, at: Origin) -> tuple:
    return (
        entry["request_id"],
        from_ms(entry["occurred_at"]),
        entry["subject"],
        entry["kind"],
        list(entry["roles"]),
        entry["permission"],
        entry["action"],
        entry["player_id"],
        entry["allowed"],
        entry["reason"],
        list(entry["fields_hidden"]),
        entry["remote"],
        at.topic,
        at.partition,
        at.offset,
    )


def outcome_row(outcome: dict, at: Origin) -> tuple:
    return (
        outcome["player_id"],
        date.fromisoformat(outcome["day"]),
        outcome["deposits_minor"],
        outcome["ggr_minor"],
        outcome["currency"],
        from_ms(outcome["occurred_at"]),
        at.topic,
        at.partition,
        at.offset,
    )


def lifecycle_row(step: dict, at: Origin) -> tuple:
    return (
        step["lifecycle_id"],
        step["reward_id"],
        step["player_id"],
        step["kind"],
        step["amount"],
        step["currency"],
        step["adapter"],
        step["status"],
        step["attempts"],
        step["http_status"],
        step["reason"],
        from_ms(step["recorded_at"]),
        at.topic,
        at.partition,
        at.offset,
    )


def _insert(table: str, columns: str, key: str) -> str:
    count = len(columns.split(","))
    placeholders = ", ".join(["%s"] * count)
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT ({key}) DO NOTHING"


_ORIGIN = 'topic, "partition", "offset"'
INSERT_JOURNAL = _insert(
    "journal",
    "entry_id, player_id, decision, rule_id, rule_version, reason, event_ids, reward_id,"
    f" details, event_time, recorded_at, {_ORIGIN}",
    "entry_id",
)
INSERT_REWARD = _insert(
    "rewards",
    "reward_id, player_id, rule_id, rule_version, kind, amount, currency, message, table_id,"
    f" game, dealer_id, trigger_event_ids, event_time, issued_at, attributes, {_ORIGIN}",
    "reward_id",
)
INSERT_COOLDOWN = _insert(
    "cooldowns",
    "cooldown_id, player_id, reason, figures, starts_at, ends_at, message, trigger_event_ids,"
    f" issued_at, {_ORIGIN}",
    "cooldown_id",
)
INSERT_ACCESS = _insert(
    "access_log",
    "request_id, occurred_at, subject, kind, roles, permission, action, player_id, allowed,"
    f" reason, fields_hidden, remote, {_ORIGIN}",
    _ORIGIN,
)
INSERT_LIFECYCLE = _insert(
    "reward_lifecycle",
    "lifecycle_id, reward_id, player_id, kind, amount, currency, adapter, status, attempts,"
    f" http_status, reason, recorded_at, {_ORIGIN}",
    "lifecycle_id",
)
#: a player's figures for a day: the latest the operator computed replaces the others
INSERT_OUTCOME = (
    "INSERT INTO player_outcomes (player_id, day, deposits_minor, ggr_minor, currency,"
    f" occurred_at, {_ORIGIN}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (player_id, day) DO UPDATE SET deposits_minor = EXCLUDED.deposits_minor,"
    " ggr_minor = EXCLUDED.ggr_minor, currency = EXCLUDED.currency,"
    " occurred_at = EXCLUDED.occurred_at"
    " WHERE player_outcomes.occurred_at < EXCLUDED.occurred_at"
)


async def write(conn: AsyncConnection, batch: Batch, erasure_key: bytes) -> Written:
    """Archive one batch in one transaction: secrets and erasures first, then every other
    record once.

    A record of an erased player is never inserted, whether it arrives in the marker's
    batch, after it (rewards and the journal are different topics), or re-delivered later.
    The marker row keeps the erasure marker (the id's keyed hash under ``erasure_key``),
    never the id.
    """
    done = Written()
    async with conn.transaction(), conn.cursor() as cur:
        if batch.player_keys:
            filed, offered = await _file_keys(cur, batch.player_keys, erasure_key)
            done.new += filed
            done.duplicates += offered - filed
        markers = [(e, at) for e, at in batch.journal if e["decision"] == ERASED and e["player_id"]]
        if markers:
            done.erasures += await _erase(cur, markers, erasure_key)
        erased = await _erased(cur, set(_player_ids(batch)) - {None}, erasure_key)

        def kept(records: list[Located]) -> list[Located]:
            alive = [(r, at) for r, at in records if r["player_id"] not in erased]
            done.erased_dropped += len(records) - len(alive)
            return alive

        journal = [
            journal_row(e, at, e["player_id"])
            for e, at in kept([(e, at) for e, at in batch.journal if e["decision"] != ERASED])
        ]
        journal += [journal_row(e, at, _marker(e, erasure_key)) for e, at in markers]
        for statement, rows in (
            (INSERT_JOURNAL, journal),
            (INSERT_REWARD, [reward_row(r, at) for r, at in kept(batch.rewards)]),
            (INSERT_COOLDOWN, [cooldown_row(c, at) for c, at in kept(batch.cooldowns)]),
            (INSERT_ACCESS, [access_row(a, at) for a, at in kept(batch.access_log)]),
            (INSERT_OUTCOME, [outcome_row(o, at) for o, at in kept(batch.outcomes)]),
            (INSERT_LIFECYCLE, [lifecycle_row(s, at) for s, at in kept(batch.lifecycle)]),
        ):
            if rows:
                await cur.executemany(statement, rows)
                done.new += cur.rowcount
                done.duplicates += len(rows) - cur.rowcount
    return done


def _player_ids(batch: Batch) -> Iterable[str | None]:
    for records in (
        batch.journal,
        batch.rewards,
        batch.cooldowns,
        batch.access_log,
        batch.outcomes,
        batch.lifecycle,
    ):
        for record, _ in records:
            yield record["player_id"]


def _marker(entry: dict, erasure_key: bytes) -> str:
    """A PLAYER_ERASED entry's erasure marker: in ``details.player`` (an entry journaled
    before crypto-shredding names the id, and the marker is made from it)."""
    return entry["details"].get("player") or pseudonym(entry["player_id"], erasure_key)


async def _erased(cur: Any, names: set[str], erasure_key: bytes) -> set[str]:
    """The names (ids, pseudonyms, markers) among ``names`` that belong to erased players."""
    if not names:
        return set()
    hashes = {name: pseudonym(name, erasure_key) for name in names if not is_player_pseudonym(name)}
    await cur.execute(
        "SELECT player_hash, pseudonym FROM erasures"
        " WHERE player_hash = ANY(%s) OR pseudonym = ANY(%s)",
        [[*hashes.values(), *names], list(names)],
    )
    found = {value for row in await cur.fetchall() for value in row if value is not None}
    return {name for name in names if name in found or hashes.get(name) in found}


async def _file_keys(
    cur: Any, keys: Sequence[tuple[str, bytes | None]], erasure_key: bytes
) -> tuple[int, int]:
    """Map each new secret's pseudonym to its player; a tombstone (the player was erased)
    erases the player's rows, in case it is read before the PLAYER_ERASED entry. Rows
    added, and rows offered (the rest were there)."""
    latest: dict[str, bytes | None] = {}
    for player_id, secret in keys:
        if secret is None:
            await _forget_player(cur, player_id, erasure_key)
            latest.pop(player_id, None)
        else:
            latest[player_id] = secret
    if latest:
        await cur.executemany(
            "INSERT INTO player_keys (pseudonym, player_id) VALUES (%s, %s)"
            " ON CONFLICT (pseudonym) DO NOTHING",
            [(player_pseudonym(pid, secret), pid) for pid, secret in latest.items()],
        )
        return cur.rowcount, len(latest)
    return 0, 0


async def _forget_player(cur: Any, player_id: str, erasure_key: bytes) -> None:
    await cur.execute("SELECT pseudonym FROM player_keys WHERE player_id = %s", [player_id])
    names = [row[0] for row in await cur.fetchall()]
    marker = pseudonym(player_id, erasure_key)
    await _record_erasure(cur, [(marker, "", None, names[0] if names else None)])
    await _delete_rows(cur, [player_id], names, [marker])


async def _record_erasure(cur: Any, rows: Sequence[tuple[str, str, Any, str | None]]) -> None:
    """(marker, entry id or '', erased at or None: now, pseudonym or None) per erasure."""
    await cur.executemany(
        "INSERT INTO erasures (player_hash, entry_id, erased_at, pseudonym)"
        " VALUES (%s, %s, COALESCE(%s, now()), %s)"
        " ON CONFLICT (player_hash) DO UPDATE SET"
        " entry_id = CASE WHEN erasures.entry_id = '' THEN EXCLUDED.entry_id"
        " ELSE erasures.entry_id END,"
        " pseudonym = COALESCE(erasures.pseudonym, EXCLUDED.pseudonym)",
        rows,
    )


async def _delete_rows(
    cur: Any, ids: Sequence[str], names: Sequence[str], markers: Sequence[str]
) -> None:
    """Delete every row of the players: by id, by pseudonym and by marker."""
    every = [*ids, *names, *markers]
    for table, column_values in (
        ("journal", [*ids, *names]),  # not the markers: the marker row stays
        ("rewards", ids),
        ("cooldowns", ids),
        ("access_log", every),
        ("player_outcomes", ids),
        ("reward_lifecycle", ids),
    ):
        await cur.execute(
            sql.SQL("DELETE FROM {} WHERE player_id = ANY(%s)").format(sql.Identifier(table)),
            [list(column_values)],
        )
    await cur.execute(
        "DELETE FROM player_keys WHERE player_id = ANY(%s) OR pseudonym = ANY(%s)",
        [list(ids), list(names)],
    )


async def _erase(cur: Any, markers: Sequence[Located], erasure_key: bytes) -> int:
    """Record each erasure by its marker and delete the player's rows from every table,
    the access log's too (the entries of who read their data stay on the access-log topic,
    unlinkable once the secret is gone)."""
    names = [e["player_id"] for e, _ in markers if is_player_pseudonym(e["player_id"])]
    ids = [e["player_id"] for e, _ in markers if not is_player_pseudonym(e["player_id"])]
    await cur.execute("SELECT player_id FROM player_keys WHERE pseudonym = ANY(%s)", [names])
    ids += [row[0] for row in await cur.fetchall()]
    await _record_erasure(
        cur,
        [
            (
                _marker(e, erasure_key),
                e["entry_id"],
                from_ms(e["event_time"]),
                e["player_id"] if is_player_pseudonym(e["player_id"]) else None,
            )
            for e, _ in markers
        ],
    )
    marks = [_marker(e, erasure_key) for e, _ in markers]
    await _delete_rows(cur, sorted(set(ids)), names, marks)
    return len({*marks})


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a timeline page ends: the last item's (event_time, entry_id)."""

    event_time: datetime
    entry_id: str


@dataclass(frozen=True)
class TimelineQuery:
    player_id: str
    limit: int = 50
    before: Cursor | None = None
    decisions: tuple[str, ...] = ()
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


_TIMELINE = """
SELECT j.entry_id, j.event_time, j.recorded_at, j.decision, j.rule_id, j.rule_version,
       j.reason, j.event_ids, j.reward_id, j.details,
       r.kind, r.amount, r.currency, r.message,
       c.reason, c.starts_at, c.ends_at, c.message,
       l.status, l.adapter, l.attempts, l.reason, l.recorded_at
FROM journal j
LEFT JOIN rewards r ON j.decision = 'REWARD_ISSUED' AND r.reward_id = j.reward_id
LEFT JOIN cooldowns c ON j.decision = 'COOLDOWN_STARTED'
                      AND c.cooldown_id = j.details ->> 'cooldown_id'
LEFT JOIN LATERAL (
    -- the reward's latest fulfilment step (PENDING is written before the others)
    SELECT status, adapter, attempts, reason, recorded_at FROM reward_lifecycle
    WHERE j.decision = 'REWARD_ISSUED' AND reward_id = j.reward_id
    ORDER BY recorded_at DESC, (status = 'PENDING'), lifecycle_id DESC
    LIMIT 1
) l ON TRUE
WHERE {where}
ORDER BY j.event_time {order}, j.entry_id {order}
"""


def _page_window(
    time_column: str,
    id_column: str,
    since: datetime | None,
    until: datetime | None,
    before: tuple[Any, Any] | None,
    conditions: list[str],
    params: dict[str, Any],
) -> None:
    """Add a time range and a keyset cursor (rows strictly before ``before``) to a query."""
    if since is not None:
        conditions.append(f"{time_column} >= %(since)s")
        params["since"] = since
    if until is not None:
        conditions.append(f"{time_column} < %(until)s")
        params["until"] = until
    if before is not None:
        conditions.append(f"({time_column}, {id_column}) < (%(before_time)s, %(before_id)s)")
        params.update(before_time=before[0], before_id=before[1])


#: a player's journal rows: by the pseudonym of their secret (by the id: journaled before
#: crypto-shredding)
_PLAYER_JOURNAL = (
    "(j.player_id = %(player)s"
    " OR j.player_id IN (SELECT pseudonym FROM player_keys WHERE player_id = %(player)s))"
)


def _timeline_sql(
    query: TimelineQuery, newest_first: bool = True
) -> tuple[sql.Composable, dict[str, Any]]:
    conditions = [_PLAYER_JOURNAL]
    params: dict[str, Any] = {"player": query.player_id}
    if query.decisions:
        conditions.append("j.decision = ANY(%(decisions)s)")
        params["decisions"] = list(query.decisions)
    before = None if query.before is None else (query.before.event_time, query.before.entry_id)
    _page_window("j.event_time", "j.entry_id", query.since, query.until, before, conditions, params)
    statement = sql.SQL(_TIMELINE).format(
        where=sql.SQL(" AND ".join(conditions)),
        order=sql.SQL("DESC" if newest_first else "ASC"),
    )
    return statement, params


def item(row: Sequence[Any]) -> dict[str, Any]:
    """One timeline entry as JSON-ready data: the journal entry, with its reward (and where
    its fulfilment stands) or cool-down when it issued one."""
    (entry_id, event_time, recorded_at, decision, rule_id, rule_version, reason, event_ids,
     reward_id, details, kind, amount, currency, message,
     cd_reason, cd_starts, cd_ends, cd_message,
     lc_status, lc_adapter, lc_attempts, lc_reason, lc_at) = row  # fmt: skip
    return {
        "entry_id": entry_id,
        "event_time": iso(event_time),
        "event_time_ms": to_ms(event_time),
        "recorded_at": iso(recorded_at),
        "decision": decision,
        "rule_id": rule_id,
        "rule_version": rule_version,
        "reason": reason,
        "event_ids": event_ids,
        "reward_id": reward_id,
        "details": details,
        "reward": None
        if kind is None
        else {"kind": kind, "amount": amount, "currency": currency, "message": message},
        "cooldown": None
        if cd_reason is None
        else {
            "reason": cd_reason,
            "starts_at": iso(cd_starts),
            "ends_at": iso(cd_ends),
            "message": cd_message,
        },
        "lifecycle": None
        if lc_status is None
        else {
            "status": lc_status,
            "adapter": lc_adapter,
            "attempts": lc_attempts,
            "reason": lc_reason,
            "at": iso(lc_at),
        },
    }


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: Cursor | None
    erased: bool


async def timeline(conn: AsyncConnection, query: TimelineQuery, erasure_key: bytes) -> Page:
    """A page of the player's journal, newest first, and where the next page starts;
    ``erasure_key`` recognises an erased player's marker."""
    statement, params = _timeline_sql(query)
    statement += sql.SQL(" LIMIT %(limit)s")
    params["limit"] = query.limit + 1  # one more says whether there is a next page
    cursor = await conn.execute(statement, params)
    rows = await cursor.fetchall()
    items = [item(row) for row in rows[: query.limit]]
    after = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        after = Cursor(last[1], last[0])
    erased = (
        not items and query.before is None and await is_erased(conn, query.player_id, erasure_key)
    )
    return Page(items, after, erased)


async def is_erased(conn: AsyncConnection, player_id: str, erasure_key: bytes) -> bool:
    cursor = await conn.execute(
        "SELECT 1 FROM erasures WHERE player_hash = %s", [pseudonym(player_id, erasure_key)]
    )
    return await cursor.fetchone() is not None


async def export(
    conn: AsyncConnection, query: TimelineQuery, chunk: int = 1000
) -> AsyncIterator[dict[str, Any]]:
    """Every entry of the player in the query's time range, oldest first, streamed from a
    server-side cursor so a long history never sits in memory."""
    statement, params = _timeline_sql(query, newest_first=False)
    async with conn.transaction(), conn.cursor(name="pitboss_export") as cur:
        cur.itersize = chunk
        await cur.execute(statement, params)
        async for row in cur:
            yield item(row)


# -- the access log ------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessQuery:
    """Access-log entries, newest first: of one player, one subject, a time range, or all."""

    player_id: str | None = None
    subject: str | None = None
    limit: int = 50
    #: the player's erasure marker: the name of entries recorded without their secret
    player_marker: str | None = None
    #: the last entry of the previous page: (occurred_at, id)
    before: tuple[datetime, int] | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


_ACCESS = """
SELECT id, request_id, occurred_at, subject, kind, roles, permission, action, player_id,
       allowed, reason, fields_hidden, remote
FROM access_log
WHERE {where}
ORDER BY occurred_at DESC, id DESC
LIMIT %(limit)s
"""


async def access_entries(
    conn: AsyncConnection, query: AccessQuery
) -> tuple[list[dict[str, Any]], tuple[datetime, int] | None]:
    """A page of access-log entries and where the next page starts (None: the last page)."""
    conditions = ["TRUE"]
    params: dict[str, Any] = {"limit": query.limit + 1}
    if query.player_id is not None:  # by id, by the pseudonym of their secret, by marker
        conditions.append(
            "(player_id = %(player_id)s OR player_id = %(marker)s"
            " OR player_id IN (SELECT pseudonym FROM player_keys WHERE player_id = %(player_id)s))"
        )
        params.update(player_id=query.player_id, marker=query.player_marker)
    if query.subject is not None:
        conditions.append("subject = %(subject)s")
        params["subject"] = query.subject
    _page_window("occurred_at", "id", query.since, query.until, query.before, conditions, params)
    statement = sql.SQL(_ACCESS).format(where=sql.SQL(" AND ".join(conditions)))
    cursor = await conn.execute(statement, params)
    rows = await cursor.fetchall()
    names = [d.name for d in cursor.description or ()]
    items = [dict(zip(names, row, strict=True)) for row in rows[: query.limit]]
    for entry in items:
        entry["occurred_at"] = iso(entry["occurred_at"])
    after = None
    if len(rows) > query.limit:
        last = rows[query.limit - 1]
        after = (last[2], last[0])
    return items, after
