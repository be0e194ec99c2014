"""Erasure on a running worker and archive: ``pitboss forget`` surveys, asks, and leaves
nothing that links to the id: no topic (keys and values, raw and decoded) and no archive
table holds the id, or any value computable from it with the keys that remain (the
deployment's erasure key and the other players' secrets), but the erasure marker, a keyed
hash kept by design so later events for the id are refused (docs/security.md)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from aiokafka import TopicPartition
from psycopg import sql

from app.contract.codec import AvroCodec
from app.core.ids import pseudonym
from app.devtools.deployment import Deployment, wait_for
from app.devtools.supervise import Child
from app.operations.privacy import changelog
from app.operations.reading import read_to_end
from app.operations.topics import topic_specs
from app.security import kafka_clients
from app.security.erasure_key import erasure_key
from app.security.player_keys import player_pseudonym, unseal
from tests.e2e.test_archive_e2e import start_archive
from tests.support.factories import natural, profile, settled, table_event
from tests.support.reference import replay
from tests.unit.archive.test_archive import URL, pg  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

PITBOSS = str(Path(sys.executable).with_name("pitboss"))


def pitboss(dep: Deployment, *args: str) -> subprocess.CompletedProcess:
    env = {**dep.env, "PITBOSS_TOKEN": dep.token("admin", subject="dpo")}
    env.pop("PITBOSS_TOKEN_FILE", None)
    return subprocess.run(
        [PITBOSS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def kept_topics(dep: Deployment) -> dict[str, tuple[int, bool]]:
    """Every topic kept for ever or compacted (the contract's and the workers' changelogs):
    its partition count and whether it is compacted."""
    kept = {}
    for spec in topic_specs(dep.settings):
        compacted = spec.configs.get("cleanup.policy") == "compact"
        if compacted or spec.configs.get("retention.ms") == "-1":
            kept[spec.name] = (spec.partitions, compacted)
    for table in ("player-state", "player-profiles", "leaderboards"):
        kept[changelog(dep.settings, table)] = (dep.settings.partitions, True)
    return kept


def latest(dep: Deployment, topic: str) -> dict[bytes | None, bytes | None]:
    """A compacted topic as compaction leaves it: each key's latest value (None: tombstone)."""
    return {r.key: r.value for r in dep.read_all(topic)}


def topics_naming(dep: Deployment, needles: set[bytes]) -> dict[str, set[bytes]]:
    """The kept topics whose records hold any of ``needles``, with the needles found: any
    record of a topic kept for ever; of a compacted one, only what compaction leaves (each
    key's latest value, none for a tombstone). Keys and values, raw, and the Avro records
    decoded (a dead letter's original bytes inside, unless sealed)."""
    codecs = {
        dep.settings.topics.journal: AvroCodec("JournalEntry"),
        dep.settings.topics.dead_letters: AvroCodec("DeadLetter"),
        dep.settings.topics.access_log: AvroCodec("AccessLogEntry"),
    }

    async def scan() -> dict[str, set[bytes]]:
        consumer = kafka_clients.consumer(dep.settings, enable_auto_commit=False)
        await consumer.start()
        found: dict[str, set[bytes]] = {}
        try:
            for topic, (partitions, compacted) in kept_topics(dep).items():
                tps = [TopicPartition(topic, p) for p in range(partitions)]
                if topic not in await consumer.topics():
                    continue
                kept: dict[bytes | None, bytes | None] = {}
                records: list[tuple[bytes | None, bytes | None]] = []
                async for record in read_to_end(consumer, tps, timeout_s=60):
                    if compacted:
                        kept[record.key] = record.value
                    else:
                        records.append((record.key, record.value))
                records += [(k, v) for k, v in kept.items() if v is not None]
                for key, value in records:
                    text = (key or b"") + (value or b"")
                    if topic in codecs and value is not None:
                        text += str(codecs[topic].decode(value)).encode()
                    hits = {n for n in needles if n in text}
                    if hits:
                        found.setdefault(topic, set()).update(hits)
        finally:
            await consumer.stop()
        return found

    return asyncio.run(scan())


def archive_tables_naming(schema: str, needles: set[str]) -> dict[str, int]:
    """Rows per archive table whose text holds any of ``needles``, over every table."""
    with psycopg.connect(URL) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [schema],
            )
        ]
        assert {"journal", "rewards", "cooldowns", "access_log", "erasures", "player_keys"} <= set(
            tables
        )
        counts = {}
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}.{} t WHERE t::text LIKE ANY(%s)").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            (counts[table],) = conn.execute(query, [[f"%{n}%" for n in needles]]).fetchone()
        return {table: n for table, n in counts.items() if n}


def derived_ids(dep: Deployment, player: str) -> set[str]:
    """The ids the decision core derives from the player id for their entries and
    cool-downs (``entry_id``, ``cooldown_id``): what a guessed id would be checked against
    if the journal kept them unsealed (the worker's own procedure, run over the input)."""
    topics = dep.settings.topics
    ref = replay(
        dep.settings, dep.read_all(topics.table_events), dep.read_all(topics.player_profiles)
    )
    mine = [e for e in ref.journal.values() if e["player_id"] == player]
    assert mine, "the player has decisions"
    return {e["entry_id"] for e in mine} | {
        e["details"]["cooldown_id"] for e in mine if "cooldown_id" in e["details"]
    }


def test_forget_surveys_asks_and_leaves_nothing_linkable_to_the_id(tmp_path, pg):  # noqa: F811
    schema = f"test_privacy_e2e_{uuid.uuid4().hex[:8]}"
    dep = Deployment.create(tmp_path, PITBOSS_ARCHIVE_SCHEMA=schema)
    archive: Child | None = None
    player, other = f"p-forget-{uuid.uuid4().hex[:6]}", "p-stays"
    try:
        dep.start_worker()
        archive = start_archive(dep, URL)
        dep.produce(
            dep.settings.topics.player_profiles,
            [(player.encode(), AvroCodec("PlayerProfile").encode(profile(player)), None)],
        )
        now = int(time.time() * 1000) - 60_000
        bad = settled("WIN", player_id=player, occurred_at=now)
        bad["settlement"]["payout_minor"] = -1  # a dead letter keyed by the id
        events = [
            natural(player_id=player, occurred_at=now),
            table_event(player_id=player, occurred_at=now + 1000),
            table_event(player_id=other, occurred_at=now + 1000),
            bad,
        ]
        dep.produce_events(events)
        dep.player_when(player, lambda v: v["profile"] is not None and v["state"]["xp"] > 0)
        board = wait_for(
            lambda: [
                key
                for key in dep.view("/pitboss/leaderboards/")["boards"]
                if player in str(dep.view(f"/pitboss/leaderboards/{key}/"))
            ],
            what="the player on a leaderboard",
        )

        # before: the journal and dead letters name the player by their secret's pseudonym,
        # and support can open the dead letter with the secret
        dep.wait_quiet()
        secret = latest(dep, dep.settings.topics.player_keys)[player.encode()]
        named = player_pseudonym(player, secret)
        letters = dep.consume(dep.settings.topics.dead_letters, "DeadLetter", bool)
        [letter] = [d for d in letters if d["key"] and d["value"]]
        opened = AvroCodec("TableEvent").decode(unseal(letter["value"], secret))
        assert (opened["event_id"], opened["player_id"]) == (bad["event_id"], player)
        journal = dep.consume(dep.settings.topics.journal, "JournalEntry", bool)
        assert {e["player_id"] for e in journal} >= {named} and player not in str(journal)
        ids = derived_ids(dep, player)

        # the survey: what there is to erase, and an unknown id refused
        dry = pitboss(dep, "forget", player, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "state: yes" in dry.stdout and "profile: yes" in dry.stdout, dry.stdout
        assert "secret (the journal and dead letters name the player by it): yes" in dry.stdout
        assert board[0] in dry.stdout
        unknown = pitboss(dep, "forget", "p-nobody-at-all", "--yes")
        assert unknown.returncode == 1 and "unknown to Pitboss" in unknown.stderr, (
            unknown.stdout + unknown.stderr
        )
        unconfirmed = pitboss(dep, "forget", player)  # no terminal, no --yes
        assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
        forgot = pitboss(dep, "forget", player, "--yes")
        assert forgot.returncode == 0, forgot.stderr

        journal = dep.consume(
            dep.settings.topics.journal,
            "JournalEntry",
            lambda es: any(e["decision"] == "PLAYER_ERASED" for e in es),
        )
        hashed = pseudonym(player, erasure_key(dep.settings))
        [marker] = [e for e in journal if e["decision"] == "PLAYER_ERASED"]
        assert marker["player_id"] == named
        assert marker["details"] == {"requested_by": "dpo", "player": hashed}
        view = dep.player_when(player, lambda v: not v["known"] and v["profile"] is None)
        assert view["state"]["xp"] == 0
        wait_for(
            lambda: (
                not any(
                    player in str(dep.view(f"/pitboss/leaderboards/{key}/"))
                    for key in dep.view("/pitboss/leaderboards/")["boards"]
                )
            ),
            what="every leaderboard to drop the player",
        )

        # a new event for the id: refused, and journaled by the marker, not the id
        erased_before = dep.view("/pitboss/stats/")["totals"]["erased_events"]
        later = natural(player_id=player, occurred_at=now + 5000)
        dep.produce_events([later])
        wait_for(
            lambda: dep.view("/pitboss/stats/")["totals"]["erased_events"] > erased_before,
            what="the new event to be refused",
        )
        dep.wait_quiet()
        journal = dep.consume(
            dep.settings.topics.journal,
            "JournalEntry",
            lambda es: any(later["event_id"] in e["event_ids"] for e in es),
        )
        [refused] = [e for e in journal if later["event_id"] in e["event_ids"]]
        assert refused["decision"] == "EVENT_REJECTED" and refused["player_id"] is None
        assert refused["details"]["player"] == hashed and player not in str(refused)

        # the archive keeps only the marker's keyed hash

        def archive_erased() -> bool:
            with psycopg.connect(URL) as conn:
                rows = conn.execute(
                    sql.SQL("SELECT player_hash FROM {}.erasures").format(sql.Identifier(schema))
                ).fetchall()
            return (hashed,) in rows

        wait_for(archive_erased, timeout=60, what="the archive to erase the player")
        dep.wait_quiet()
        # the secret is gone; what could link to the id: the id itself, the ids the core
        # derives from it, and its pseudonym under every secret that remains (the erasure
        # marker, the deployment key's hash, is the one value kept by design)
        secrets = latest(dep, dep.settings.topics.player_keys)
        assert secrets[player.encode()] is None  # a tombstone: compaction drops the secret
        remaining = [s for s in secrets.values() if s is not None]
        assert secret not in remaining and remaining  # the other player keeps theirs
        needles = {player, *ids, *(player_pseudonym(player, s) for s in remaining)}
        assert topics_naming(dep, {n.encode() for n in needles}) == {}
        # from the marker on, the follower deletes and drops every record of theirs
        assert archive_tables_naming(schema, needles) == {}
        # the records stay, sealed under a secret nobody has any more
        assert (
            named.encode()
            in str(dep.consume(dep.settings.topics.journal, "JournalEntry", bool)).encode()
        )
    finally:
        if archive is not None:
            archive.stop()
        dep.stop_all()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_an_email_as_player_id_is_refused_and_kept_nowhere_in_clear(dep):
    dep.start_worker()
    email = f"jane.{uuid.uuid4().hex[:6]}@example.com"
    now = int(time.time() * 1000)
    dep.produce_events([natural(player_id=email, occurred_at=now)])
    letters = dep.consume(dep.settings.topics.dead_letters, "DeadLetter", lambda ls: bool(ls))
    [letter] = letters
    assert letter["value"] is None and "e-mail" in letter["reason"]
    assert letter["key"] == pseudonym(email, erasure_key(dep.settings)).encode()
    dep.wait_quiet()
    for topic in (dep.settings.topics.dead_letters, dep.settings.topics.journal):
        raw = dep.consume(topic, None, lambda rs: bool(rs))
        assert not [r for r in raw if email.encode() in (r.key or b"") + (r.value or b"")]
