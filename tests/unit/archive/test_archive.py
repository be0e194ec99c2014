"""The timeline archive against the real PostgreSQL: schema, idempotent writes, erasure (of
a journal in clear, as older versions wrote it, and of a sealed one), timeline paging and
filters, and the export formats.

Each test works in a schema of its own (dropped afterwards), so runs never collide.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
import psycopg
import pytest

from app.archive import store, views
from app.archive.migrate import migrate, migrations
from app.archive.store import Batch, Origin, TimelineQuery
from app.archive.views import (
    BadRequest,
    decode_cursor,
    encode_cursor,
    render,
    timeline_query,
)
from app.contract.codec import AvroCodec
from app.core import outputs
from app.core.ids import pseudonym
from app.delivery import lifecycle
from app.security.player_keys import Sealer, player_pseudonym
from app.settings import Settings
from tests.support.factories import ERASURE_KEY

T = TypeVar("T")
URL = Settings.from_env().archive_url or "postgresql://127.0.0.1:5432/test"
T0 = 1_795_000_000_000  # 2026-11-18T11:06:40Z, any fixed moment
MINUTE = 60_000


@pytest.fixture(scope="module")
def pg() -> str:
    """The archive URL, or a test failure that says PostgreSQL is missing (never a hang)."""

    async def probe() -> None:
        conn = await psycopg.AsyncConnection.connect(URL, connect_timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except (psycopg.Error, OSError) as exc:
        pytest.fail(
            f"PostgreSQL at {store.location(URL)} is unreachable ({exc}); the archive tests "
            "need it (it runs on 127.0.0.1:5432 on our machines; set PITBOSS_ARCHIVE_URL "
            "to point elsewhere)",
            pytrace=False,
        )
    return URL


@pytest.fixture
def run(pg: str) -> Callable[[Callable[[psycopg.AsyncConnection], Awaitable[T]]], T]:
    """Run ``scenario(conn)`` on a migrated schema of its own, dropped afterwards."""
    schema = f"test_archive_{uuid.uuid4().hex[:10]}"

    def runner(scenario: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        async def go() -> T:
            conn = await store.connect(pg, schema)
            try:
                await migrate(conn, schema)
                return await scenario(conn)
            finally:
                await conn.close()

        return asyncio.run(go())

    yield runner

    async def drop() -> None:
        conn = await psycopg.AsyncConnection.connect(pg, autocommit=True)
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()

    asyncio.run(drop())


# -- records as the topics carry them (round-tripped through the codec to be sure) ---------


def _decoded(schema: str, record: dict) -> dict:
    codec = AvroCodec(schema)
    return codec.decode(codec.encode(record))


def entry(
    player: str, decision: str = "MISSION_PROGRESS", at: int = T0, n: int = 0, **extra: Any
) -> dict:
    fields: dict[str, Any] = {
        "decision": decision,
        "player_id": player,
        "rule_id": "baccarat-banker-x3",
        "rule_version": 1,
        "reason": "step",
        "event_ids": [f"e-{player}-{n}"],
        "reward_id": None,
        "details": {"step": str(n)},
        "event_time": at,
        "now_ms": at + 5,
    }
    fields.update(extra)
    return _decoded("JournalEntry", outputs.journal_entry(**fields))


def reward(player: str, reward_id: str, at: int = T0, amount: int = 10) -> dict:
    return _decoded(
        "Reward",
        {
            "reward_id": reward_id,
            "player_id": player,
            "rule_id": "first-natural-blackjack-of-day",
            "rule_version": 1,
            "kind": "XP",
            "amount": amount,
            "message": f"+{amount} XP",
            "game": "BLACKJACK",
            "trigger_event_ids": [f"e-{reward_id}"],
            "event_time": at,
            "issued_at": at + 5,
            "attributes": {},
        },
    )


def issued(player: str, reward_id: str, at: int, n: int) -> tuple[dict, dict]:
    """A REWARD_ISSUED journal entry and its reward."""
    e = entry(player, "REWARD_ISSUED", at, n, reward_id=reward_id, rule_id="x", reason="issued")
    return e, reward(player, reward_id, at)


def cooldown(player: str, cooldown_id: str, at: int = T0) -> dict:
    return _decoded(
        "CoolDown",
        {
            "cooldown_id": cooldown_id,
            "player_id": player,
            "reason": "RAPID_LOSS_COUNT",
            "figures": {"losses": 8},
            "starts_at": at,
            "ends_at": at + 30 * MINUTE,
            "message": "Take a break",
            "trigger_event_ids": ["e-cd"],
            "issued_at": at + 5,
        },
    )


def access(player: str, request_id: str, at: int = T0) -> dict:
    return _decoded(
        "AccessLogEntry",
        {
            "request_id": request_id,
            "occurred_at": at,
            "subject": "alice",
            "kind": "STAFF",
            "roles": ["support"],
            "permission": "player.read",
            "action": "GET /pitboss/players/{player_id}/",
            "player_id": player,
            "allowed": True,
            "reason": "granted",
            "fields_hidden": [],
            "remote": None,
        },
    )


def batch(
    journal: list[dict] = (),
    rewards: list[dict] = (),
    cooldowns: list[dict] = (),
    access: list[dict] = (),
) -> Batch:
    def located(topic: str, items: list[dict]) -> list[tuple[dict, Origin]]:
        return [(item, Origin(topic, 0, offset)) for offset, item in enumerate(items)]

    return Batch(
        located("journal", list(journal)),
        located("rewards", list(rewards)),
        located("cooldowns", list(cooldowns)),
        located("access-log", list(access)),
    )


async def rows(conn: psycopg.AsyncConnection, query: str, *params: Any) -> list[tuple]:
    cursor = await conn.execute(query, params or None)
    return await cursor.fetchall()


# -- schema ----------------------------------------------------------------------------------


def test_migrations_apply_once_even_when_two_archives_start_together(pg):
    schema = f"test_archive_{uuid.uuid4().hex[:10]}"

    async def scenario() -> tuple[list[list[str]], list[str], list[tuple]]:
        a = await store.connect(pg, schema)
        b = await store.connect(pg, schema)
        try:
            together = await asyncio.gather(migrate(a, schema), migrate(b, schema))
            again = await migrate(a, schema)
            applied = await rows(a, "SELECT version FROM schema_migrations")
            await a.execute(f"DROP SCHEMA {schema} CASCADE")
            return together, again, applied
        finally:
            await a.close()
            await b.close()

    together, again, applied = asyncio.run(scenario())
    shipped = [m.version for m in migrations()]
    assert shipped and shipped[0] == "0001_timeline"
    assert sorted(together, key=len) == [[], shipped]  # one of them applied everything
    assert again == []
    assert sorted(v for (v,) in applied) == shipped


# -- writing ----------------------------------------------------------------------------------


def test_a_redelivered_batch_makes_no_second_row(run):
    journal = [entry("p-1", n=n, at=T0 + n) for n in range(5)]
    e, r = issued("p-1", "rw-1", T0 + 10, 10)
    everything = batch([*journal, e], [r], [cooldown("p-1", "cd-1")])

    async def scenario(conn):
        first = await store.write(conn, everything, ERASURE_KEY)
        second = await store.write(conn, everything, ERASURE_KEY)
        counts = [
            (await rows(conn, f"SELECT count(*), count(DISTINCT {key}) FROM {table}"))[0]
            for table, key in (
                ("journal", "entry_id"),
                ("rewards", "reward_id"),
                ("cooldowns", "cooldown_id"),
            )
        ]
        return first, second, counts

    first, second, counts = run(scenario)
    assert (first.new, first.duplicates) == (8, 0)
    assert (second.new, second.duplicates) == (0, 8)
    assert counts == [(6, 6), (1, 1), (1, 1)]


def test_erasure_deletes_the_players_rows_and_keeps_them_out_for_good(run):
    history = [entry("p-gone", n=n, at=T0 + n) for n in range(3)]
    gone_issued, gone_reward = issued("p-gone", "rw-gone", T0 + 5, 5)
    kept_issued, kept_reward = issued("p-kept", "rw-kept", T0 + 5, 5)
    marker = _decoded("JournalEntry", outputs.player_erased("p-gone", "dpo", T0 + MINUTE))
    # a reward decided before the erasure but read after the marker (another topic)
    late = reward("p-gone", "rw-late", T0 + 6)

    async def scenario(conn):
        await store.write(
            conn,
            batch(
                [*history, gone_issued, kept_issued],
                [gone_reward, kept_reward],
                [cooldown("p-gone", "cd-gone")],
                [access("p-gone", "r-1"), access("p-kept", "r-2")],
            ),
            ERASURE_KEY,
        )
        erased = await store.write(conn, batch([marker], [late]), ERASURE_KEY)
        replay = await store.write(
            conn,
            batch([*history, gone_issued, marker], [gone_reward], access=[access("p-gone", "r-3")]),
            ERASURE_KEY,
        )
        players = {
            table: sorted(p for (p,) in await rows(conn, f"SELECT player_id FROM {table}"))
            for table in ("journal", "rewards", "cooldowns", "access_log")
        }
        erasures = await rows(conn, "SELECT player_hash, entry_id FROM erasures")
        page = await store.timeline(conn, TimelineQuery("p-gone"), ERASURE_KEY)
        return erased, replay, players, erasures, page

    erased, replay, players, erasures, page = run(scenario)
    hashed = pseudonym("p-gone", ERASURE_KEY)
    assert erased.erasures == 1 and erased.erased_dropped == 1  # the late reward
    assert replay.new == 0 and replay.erased_dropped == 6  # nothing of theirs comes back
    assert players == {
        "journal": sorted([hashed, "p-kept"]),  # the marker row keeps only the hash
        "rewards": ["p-kept"],
        "cooldowns": [],
        "access_log": ["p-kept"],
    }
    assert hashed != pseudonym("p-gone", b"another-deployment-key-0123456789")
    assert erasures == [(hashed, marker["entry_id"])]
    assert page.items == [] and page.erased


# -- reading ----------------------------------------------------------------------------------


def _history(player: str) -> tuple[list[dict], list[dict]]:
    """Ten entries a minute apart but two pairs that share a moment; every third a reward."""
    journal, rewards = [], []
    for n, minute in enumerate((0, 1, 2, 2, 3, 4, 5, 5, 6, 7)):
        at = T0 + minute * MINUTE
        if n % 3 == 0:
            e, r = issued(player, f"rw-{player}-{n}", at, n)
            journal.append(e)
            rewards.append(r)
        else:
            journal.append(entry(player, n=n, at=at))
    return journal, rewards


def test_the_timeline_pages_newest_first_and_filters(run):
    journal, rewards = _history("p-1")
    other, _ = _history("p-2")

    async def scenario(conn):
        await store.write(conn, batch([*journal, *other], rewards), ERASURE_KEY)
        pages, before = [], None
        while True:
            page = await store.timeline(
                conn, TimelineQuery("p-1", limit=3, before=before), ERASURE_KEY
            )
            pages.append(page.items)
            if page.next is None:
                break
            before = page.next
        issued_only = await store.timeline(
            conn, TimelineQuery("p-1", decisions=("REWARD_ISSUED",)), ERASURE_KEY
        )
        ranged = await store.timeline(
            conn,
            TimelineQuery(
                "p-1", since=store.from_ms(T0 + 2 * MINUTE), until=store.from_ms(T0 + 5 * MINUTE)
            ),
            ERASURE_KEY,
        )
        return pages, issued_only.items, ranged.items

    pages, issued_only, ranged = run(scenario)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    listed = [i for page in pages for i in page]
    expected = sorted(journal, key=lambda e: (e["event_time"], e["entry_id"]), reverse=True)
    assert [i["entry_id"] for i in listed] == [e["entry_id"] for e in expected]
    assert [i["event_time_ms"] for i in listed] == [e["event_time"] for e in expected]

    assert {i["decision"] for i in issued_only} == {"REWARD_ISSUED"}
    assert [i["reward_id"] for i in issued_only] == [
        e["reward_id"] for e in expected if e["decision"] == "REWARD_ISSUED"
    ]
    assert all(i["reward"] == {"kind": "XP", "amount": 10, "currency": None,
                               "message": "+10 XP"} for i in issued_only)  # fmt: skip
    assert {i["event_time_ms"] for i in ranged} == {T0 + m * MINUTE for m in (2, 3, 4)}
    assert len(ranged) == 4  # minute 2 holds two entries


def test_export_is_oldest_first_in_csv_and_json_lines(run):
    journal, rewards = _history("p-1")
    since, until = T0 + MINUTE, T0 + 8 * MINUTE

    async def scenario(conn):
        await store.write(conn, batch(journal, rewards), ERASURE_KEY)
        query = TimelineQuery("p-1", since=store.from_ms(since), until=store.from_ms(until))
        return [i async for i in store.export(conn, query, chunk=2)]

    exported = run(scenario)
    expected = sorted(
        (e for e in journal if since <= e["event_time"] < until),
        key=lambda e: (e["event_time"], e["entry_id"]),
    )
    assert [i["entry_id"] for i in exported] == [e["entry_id"] for e in expected]

    lines = render("jsonl", exported, header=True).decode().splitlines()
    assert [orjson.loads(line) for line in lines] == exported

    table = list(csv.DictReader(io.StringIO(render("csv", exported, header=True).decode())))
    assert [r["entry_id"] for r in table] == [e["entry_id"] for e in expected]
    first_reward = next(r for r in table if r["decision"] == "REWARD_ISSUED")
    assert (first_reward["reward_kind"], first_reward["reward_amount"]) == ("XP", "10")
    assert orjson.loads(table[0]["details"]) == expected[0]["details"]
    assert table[0]["event_ids"] == " ".join(expected[0]["event_ids"])


# -- request parameters ------------------------------------------------------------------------


def test_request_parameters_are_checked_and_cursors_round_trip():
    query = timeline_query(
        "p-1",
        {
            "limit": "20",
            "decision": "reward_issued,LEVEL_UP",
            "from": "2026-11-02T18:00:00Z",
            "to": str(T0),
        },
    )
    assert query.limit == 20 and query.decisions == ("REWARD_ISSUED", "LEVEL_UP")
    assert store.iso(query.since) == "2026-11-02T18:00:00.000Z" and store.to_ms(query.until) == T0
    cursor = store.Cursor(store.from_ms(T0 + 123), "je-abc:def")
    assert decode_cursor(encode_cursor(cursor)) == cursor
    for bad in (
        {"limit": "0"},
        {"limit": "5000"},
        {"decision": "REWARD_GIVEN"},
        {"from": "yesterday"},
        {"from": "2026-11-22T00:00:00"},  # no zone: refused, not guessed
        {"to": "99999999999999999999"},  # out of range: a 400, not a 500
        {"from": "2026-11-22T00:00:00Z", "to": "2026-11-21T00:00:00Z"},
        {"before": "not-a-cursor"},
    ):
        with pytest.raises(BadRequest):
            timeline_query("p-1", bad)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "the archive is disabled on this worker (PITBOSS_ARCHIVE_URL)"),
        ("postgresql://127.0.0.1:1/test", "the archive's PostgreSQL at 127.0.0.1:1/test cannot"),
    ],
)
def test_the_views_say_why_the_archive_cannot_answer(monkeypatch, url, says):
    monkeypatch.setattr(views, "settings", dataclasses.replace(views.settings, archive_url=url))

    async def ask() -> None:
        async with views.archive_connection():
            pass

    with pytest.raises(store.ArchiveUnavailable, match=f"^{re.escape(says)}"):
        asyncio.run(ask())


def test_the_views_say_when_the_schema_has_no_tables_yet(pg, monkeypatch):
    empty = dataclasses.replace(views.settings, archive_url=pg, archive_schema="no_such_schema")
    monkeypatch.setattr(views, "settings", empty)

    async def ask() -> None:
        async with views.archive_connection() as conn:
            await store.timeline(conn, TimelineQuery("p-1"), ERASURE_KEY)

    with pytest.raises(
        store.ArchiveUnavailable, match="has no tables yet: start `pitboss archive`"
    ):
        asyncio.run(ask())


def test_the_timeline_shows_a_players_consent_history(run):
    changes = [
        _decoded(
            "JournalEntry",
            outputs.consent_changed(
                "p-1", "casino", "email", before, after, "player-profiles", at, at + 5
            ),
        )
        for before, after, at in ((None, True, T0), (True, False, T0 + MINUTE))
    ]

    async def scenario(conn):
        await store.write(conn, batch([*changes, entry("p-1", at=T0 + 2 * MINUTE)]), ERASURE_KEY)
        query = timeline_query("p-1", {"decision": "consent_changed"})
        return await store.timeline(conn, query, ERASURE_KEY)

    page = run(scenario)
    assert [(i["decision"], i["details"]["to"]) for i in page.items] == [
        ("CONSENT_CHANGED", "withdrawn"),  # newest first
        ("CONSENT_CHANGED", "granted"),
    ]


# -- crypto-shredding --------------------------------------------------------------------------

SECRET = b"k" * 32


def sealed(*entries: dict, secret: bytes = SECRET) -> list[dict]:
    """Entries as the journal keeps them: under the player's secret."""
    sealer = Sealer({e["player_id"]: secret for e in entries}, ERASURE_KEY)
    return [_decoded("JournalEntry", sealer.entry(e)) for e in entries]


def keys_batch(*keys: tuple[str, bytes | None], journal: list[dict] = ()) -> Batch:
    return dataclasses.replace(batch(journal), player_keys=list(keys))


@pytest.mark.parametrize("tombstone_first", [False, True])
def test_a_sealed_journal_is_filed_by_player_and_erased_by_marker_or_tombstone(
    run, tombstone_first
):
    history = sealed(*(entry("p-gone", n=n, at=T0 + n) for n in range(3)))
    other = sealed(entry("p-kept", n=9, at=T0 + 9), secret=b"o" * 32)
    name = player_pseudonym("p-gone", SECRET)
    [marker] = sealed(_decoded("JournalEntry", outputs.player_erased("p-gone", "dpo", T0 + MINUTE)))
    hashed = pseudonym("p-gone", ERASURE_KEY)

    async def scenario(conn):
        await store.write(
            conn,
            dataclasses.replace(
                batch(
                    [*history, *other],
                    [reward("p-gone", "rw-1")],
                    [cooldown("p-gone", "cd-1")],
                    [access(name, "r-1"), access(hashed, "r-2"), access("p-kept", "r-3")],
                ),
                player_keys=[("p-gone", SECRET), ("p-kept", b"o" * 32)],
            ),
            ERASURE_KEY,
        )
        before = await store.timeline(conn, TimelineQuery("p-gone"), ERASURE_KEY)
        audited, _ = await store.access_entries(
            conn, store.AccessQuery(player_id="p-gone", player_marker=hashed)
        )
        steps = [keys_batch(("p-gone", None)), batch([marker])]
        for step in reversed(steps) if not tombstone_first else steps:
            await store.write(conn, step, ERASURE_KEY)
        again = await store.write(conn, batch(history, [reward("p-gone", "rw-2")]), ERASURE_KEY)
        tables = {
            table: sorted(p for (p,) in await rows(conn, f"SELECT player_id FROM {table}"))
            for table in ("journal", "rewards", "cooldowns", "access_log", "player_keys")
        }
        erasures = await rows(conn, "SELECT player_hash, entry_id, pseudonym FROM erasures")
        after = await store.timeline(conn, TimelineQuery("p-gone"), ERASURE_KEY)
        return before, audited, again, tables, erasures, after

    before, audited, again, tables, erasures, after = run(scenario)
    assert [i["entry_id"] for i in before.items] == [e["entry_id"] for e in reversed(history)]
    assert {a["request_id"] for a in audited} == {"r-1", "r-2"}  # by pseudonym and by marker
    assert again.new == 0 and again.erased_dropped == 4
    assert tables == {
        "journal": sorted([hashed, other[0]["player_id"]]),  # the marker row: the marker
        "rewards": [],
        "cooldowns": [],
        "access_log": ["p-kept"],
        "player_keys": ["p-kept"],
    }
    assert erasures == [(hashed, marker["entry_id"], name)]
    assert after.items == [] and after.erased


# -- reward lifecycle (pitboss fulfil) ----------------------------------------------------------


def lifecycle_steps(reward: dict, *statuses: str, at: int = T0) -> list[tuple[dict, Origin]]:
    """The reward's fulfilment steps as reward-lifecycle carries them, a second apart."""
    return [
        (
            _decoded("RewardLifecycle", lifecycle.step(reward, "wallet", status, at + n * 1000)),
            Origin("lc", 0, n),
        )
        for n, status in enumerate(statuses)
    ]


def test_the_timeline_shows_each_rewards_latest_fulfilment_step_until_erased(run):
    paid_entry, paid = issued("p-lc", "rw-paid", T0, 1)
    open_entry, still_open = issued("p-lc", "rw-open", T0 + MINUTE, 2)
    plain_entry, plain = issued("p-lc", "rw-plain", T0 + 2 * MINUTE, 3)
    steps = lifecycle_steps(paid, "PENDING", "CREDITED") + lifecycle_steps(still_open, "PENDING")
    marker = _decoded("JournalEntry", outputs.player_erased("p-lc", "dpo", T0 + 5 * MINUTE))

    async def scenario(conn):
        first = await store.write(
            conn,
            dataclasses.replace(
                batch([paid_entry, open_entry, plain_entry], [paid, still_open, plain]),
                lifecycle=steps,
            ),
            ERASURE_KEY,
        )
        again = await store.write(conn, Batch(lifecycle=steps), ERASURE_KEY)
        page = await store.timeline(conn, TimelineQuery("p-lc"), ERASURE_KEY)
        await store.write(conn, batch([marker]), ERASURE_KEY)
        late = await store.write(conn, Batch(lifecycle=steps), ERASURE_KEY)
        left = await rows(conn, "SELECT count(*) FROM reward_lifecycle")
        return first, again, page, late, left

    first, again, page, late, left = run(scenario)
    assert first.new == 6 + 3 and (again.new, again.duplicates) == (0, 3)
    by_reward = {i["reward_id"]: i["lifecycle"] for i in page.items}
    assert by_reward["rw-paid"]["status"] == "CREDITED"
    assert by_reward["rw-paid"]["adapter"] == "wallet"
    assert by_reward["rw-open"]["status"] == "PENDING" and by_reward["rw-plain"] is None
    assert late.erased_dropped == 3 and left == [(0,)]  # erased with the player, kept out
