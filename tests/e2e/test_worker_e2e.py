"""A real worker on the real broker: Avro events in, rewards, journal and dead letters out."""

from __future__ import annotations

import shutil
import signal
import time

import pytest

from app.contract.codec import AvroCodec
from app.devtools.deployment import Deployment
from app.pipeline.ingest import partition_for
from app.security.player_keys import player_pseudonym, unseal
from tests.support.factories import natural, profile, settled, table_event
from tests.support.reference import settle_and_compare

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    dep = Deployment.create(tmp_path_factory.mktemp("e2e"))
    dep.start_worker()
    yield dep
    dep.stop_all()


def rewards_for(dep: Deployment, n: int, player_ids: set[str], timeout: float = 30.0) -> list[dict]:
    records = dep.consume(
        dep.settings.topics.rewards,
        "Reward",
        lambda rs: sum(r["player_id"] in player_ids for r in rs) >= n,
        timeout,
    )
    return [r for r in records if r["player_id"] in player_ids]


def journal_for(dep: Deployment, n: int, player_ids: set[str]) -> list[dict]:
    """The players' journal entries: named by their pseudonyms, never by the id."""
    names = {dep.named(p) for p in player_ids}
    records = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda rs: sum(r["player_id"] in names for r in rs) >= n,
    )
    return [r for r in records if r["player_id"] in names]


def test_an_avro_event_in_gives_a_reward_and_a_journal_entry_out(deployment):
    now = int(time.time() * 1000)
    event = natural(player_id="p-e2e-1", occurred_at=now)
    losing = settled("LOSS", player_id="p-e2e-1", occurred_at=now + 1)
    deployment.produce_events([event, losing])
    [reward] = rewards_for(deployment, 1, {"p-e2e-1"})
    assert reward["rule_id"] == "first-natural-blackjack-of-day"
    assert (reward["kind"], reward["amount"]) == ("XP", 10)
    assert reward["trigger_event_ids"] == [event["event_id"]]
    assert reward["event_time"] == now
    [entry] = journal_for(deployment, 1, {"p-e2e-1"})
    assert entry["decision"] == "REWARD_ISSUED"
    assert entry["reward_id"] == reward["reward_id"]
    assert entry["rule_version"] == 1


def test_garbage_goes_to_dead_letters_and_the_worker_keeps_going(deployment):
    topic = deployment.settings.topics.table_events
    now = int(time.time() * 1000)
    bad_event = table_event(player_id="p-e2e-bad", bet=None, occurred_at=now)  # a bet without bet
    deployment.produce(
        topic,
        [
            (b"p-e2e-garbage", b"\x00\x01 not avro at all", None),
            (b"p-e2e-bad", AvroCodec("TableEvent").encode(bad_event), None),
        ],
    )
    letters = deployment.consume(
        deployment.settings.topics.dead_letters, "DeadLetter", lambda rs: len(rs) >= 2
    )
    [garbage] = [letter for letter in letters if letter["key"] == b"p-e2e-garbage"]
    assert garbage["value"] == b"\x00\x01 not avro at all"
    assert garbage["topic"] == topic and garbage["offset"] >= 0
    assert garbage["error"] in {"UNDECODABLE", "UNKNOWN_SCHEMA"}
    # a known player's letter: keyed by their pseudonym, the record sealed under their secret
    secret = deployment.secret("p-e2e-bad")
    [invalid] = [letter for letter in letters if letter["error"] == "INVALID"]
    raw = deployment.consume(deployment.settings.topics.dead_letters, None, lambda rs: len(rs) >= 2)
    assert {r.key for r in raw} == {
        b"p-e2e-garbage",
        player_pseudonym("p-e2e-bad", secret).encode(),
    }
    assert "needs a bet" in invalid["reason"]
    assert unseal(invalid["value"], secret) == AvroCodec("TableEvent").encode(bad_event)
    assert unseal(invalid["key"], secret) == b"p-e2e-bad"
    [rejected] = journal_for(deployment, 1, {"p-e2e-bad"})
    assert rejected["decision"] == "EVENT_REJECTED"
    assert rejected["event_ids"] == [bad_event["event_id"]]
    # ...and the worker still decides what follows.
    deployment.produce_events([natural(player_id="p-e2e-after", occurred_at=now)])
    assert len(rewards_for(deployment, 1, {"p-e2e-after"})) == 1
    assert deployment.workers[0].alive()


def test_an_event_keyed_by_table_is_rekeyed_and_decided_once(deployment):
    now = int(time.time() * 1000)
    player = "p-e2e-rekey"
    right = partition_for(player, deployment.settings.partitions)
    wrong = (right + 1) % deployment.settings.partitions
    event = natural(player_id=player, occurred_at=now)
    deployment.produce(
        deployment.settings.topics.table_events,
        [(b"bj-01", AvroCodec("TableEvent").encode(event), wrong)],
    )
    [reward] = rewards_for(deployment, 1, {player})
    assert reward["trigger_event_ids"] == [event["event_id"]]


def test_the_profile_time_zone_decides_the_players_day(deployment):
    player = "p-e2e-tz"
    deployment.produce(
        deployment.settings.topics.player_profiles,
        [
            (
                player.encode(),
                AvroCodec("PlayerProfile").encode(profile(player, time_zone="Pacific/Auckland")),
                None,
            )
        ],
    )
    deployment.player_when(player, lambda v: v["profile"] is not None)
    # 09:00 and 13:00 UTC are 22:00 on one day and 02:00 on the next in Auckland (UTC+13).
    # Yesterday's, so both are in the past whatever the hour: ingest dead-letters an event
    # stamped more than 5 minutes after it was sent.
    base = (int(time.time() * 1000) // 86_400_000 - 1) * 86_400_000
    events = [
        natural(player_id=player, occurred_at=base + 9 * 3_600_000),
        natural(player_id=player, occurred_at=base + 13 * 3_600_000),
    ]
    deployment.produce_events(events)
    rewards = rewards_for(deployment, 2, {player})
    assert [r["trigger_event_ids"][0] for r in rewards] == [e["event_id"] for e in events]
    view = deployment.view(f"/pitboss/players/{player}/")
    assert view["profile"]["time_zone"] == "Pacific/Auckland"
    assert view["state"]["xp"] == 20


def test_a_killed_worker_rebuilds_its_table_state_from_the_changelog(dep):
    worker = dep.start_worker("keeper")
    now = int(time.time() * 1000)
    dep.produce_events([natural(player_id="p-keep", occurred_at=now)])
    assert len(rewards_for(dep, 1, {"p-keep"})) == 1
    # Kill only once the state's changelog record is on the broker: that is what survives.
    changelog = f"{dep.settings.app_id}-player-state-changelog"
    dep.consume(changelog, None, lambda rs: any(r.key == b"p-keep" for r in rs))
    worker.stop(signal.SIGKILL)
    # Same worker id, local RocksDB wiped: the state can only come back from Kafka.
    local_store = dep.settings.state_dir / "workers" / "keeper"
    assert any(local_store.iterdir())
    shutil.rmtree(local_store)
    dep.start_worker("keeper")
    dep.produce_events([natural(player_id="p-keep", occurred_at=now + 1000)])
    view = dep.player_when("p-keep", lambda v: v["state"]["last_event_at"] == now + 1000)
    assert view["state"]["last_event_at"] == now + 1000
    assert view["state"]["xp"] == 10  # the day's natural was remembered: no second reward
    assert len(rewards_for(dep, 1, {"p-keep"})) == 1


@pytest.mark.deployment(PITBOSS_SHUTDOWN_TIMEOUT="10")
def test_sigterm_stops_a_busy_worker_within_the_shutdown_bound_and_loses_nothing(dep):
    worker = dep.start_worker("stopper")
    # an hour ago, so that every cool-down the losses start is over when we compare
    start = int(time.time() * 1000) - 3_600_000
    dep.produce_events(
        settled("LOSS", player_id=f"p-load-{i % 300}", occurred_at=start + i) for i in range(20_000)
    )
    took = worker.stop(signal.SIGTERM, timeout=30)
    assert took < 12, f"SIGTERM took {took:.1f} s"
    # What it had not committed is re-delivered to the restarted worker: decided once.
    dep.start_worker("stopper")
    outcome = settle_and_compare(dep)
    assert outcome.players == 300 + dep.settings.partitions, outcome
