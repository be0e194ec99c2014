"""Ingest's rules: what is refused (and why), where each player's records go."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.contract.codec import AvroCodec
from app.pipeline.ingest import FORGET_TYPE, RECORD_TYPE_HEADER, Ingest, partition_for, validate
from app.settings import Settings
from tests.support.factories import ERASURE_KEY, ms, natural, profile, settled, table_event

NOW = ms("2026-11-22T12:00:00Z")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"event_id": ""}, "event_id is empty"),
        ({"table_id": ""}, "studio_id and table_id are required"),
        ({"player_id": None}, "player_id is missing"),
        ({"player_id": "jane@example.com"}, "e-mail address"),
        ({"bet": None}, "needs a bet"),
        ({"bet": {"bet_type": "main", "stake_minor": 0, "currency": "EUR"}}, "must be positive"),
        ({"bet": {"bet_type": "main", "stake_minor": -5, "currency": "EUR"}}, "must be positive"),
        (
            {"bet": {"bet_type": "main", "stake_minor": 10**12, "currency": "EUR"}},
            "above the limit",
        ),
        ({"bet": {"bet_type": "main", "stake_minor": 100, "currency": "euro"}}, "ISO-4217"),
        ({"occurred_at": NOW + 10 * 60_000}, "after it was sent"),
        ({"occurred_at": NOW - 8 * 86_400_000}, "before it was sent"),
    ],
)
def test_a_bad_event_is_refused_with_the_reason(overrides, reason):
    assert reason in validate(table_event(**{"occurred_at": NOW, **overrides}), NOW)


def test_an_absurd_time_is_refused_even_without_a_kafka_timestamp():
    assert "between 2000 and 2100" in validate(table_event(occurred_at=2**62), None)
    assert "between 2000 and 2100" in validate(table_event(occurred_at=0), None)
    assert validate(table_event(occurred_at=NOW), None) is None


def test_settlements_and_chat_need_their_parts():
    assert "needs a settlement" in validate(
        table_event(event_type="BET_SETTLED", occurred_at=NOW), NOW
    )
    unknown = settled("WIN", occurred_at=NOW)
    unknown["settlement"]["outcome"] = "UNKNOWN"
    assert "unknown outcome" in validate(unknown, NOW)
    chat = table_event(event_type="CHAT_MESSAGE", bet=None, chat_text=None, occurred_at=NOW)
    assert "needs chat_text" in validate(chat, NOW)


def test_good_events_pass_including_table_level_ones():
    assert validate(natural(occurred_at=NOW), NOW) is None
    rounds = table_event(event_type="ROUND_STARTED", player_id=None, bet=None, occurred_at=NOW)
    assert validate(rounds, NOW) is None


@dataclass
class Msg:
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    offset: int = 0
    timestamp: int | None = NOW
    headers: tuple = ()


def test_sorting_routes_by_player_partition_and_forwards_strays():
    settings = Settings.from_env({"PITBOSS_PARTITIONS": "4"})
    ingest = Ingest(settings.topics, 4, erasure_key=ERASURE_KEY)
    codec = AvroCodec("TableEvent")
    topic = settings.topics.table_events
    player = "p-000007"
    right = partition_for(player, 4)
    event = natural(player_id=player, occurred_at=NOW)
    batch = ingest.sort(
        [
            Msg(topic, right, player.encode(), codec.encode(event)),
            Msg(
                topic,
                (right + 1) % 4,
                b"bj-01",
                codec.encode(natural(player_id=player, occurred_at=NOW)),
            ),
            Msg(topic, 0, b"x", b"garbage"),
            Msg(
                settings.topics.player_profiles,
                right,
                player.encode(),
                AvroCodec("PlayerProfile").encode(profile(player)),
            ),
            Msg(settings.topics.player_profiles, right, b"p-000007", None),  # a tombstone
            Msg(
                settings.topics.rekeyed,
                right,
                player.encode(),
                b"{}",
                headers=((RECORD_TYPE_HEADER, FORGET_TYPE),),
            ),
        ],
        NOW,
    )
    assert batch.events == {right: {player: [event]}}
    assert [(f[2], f[3]) for f in batch.forwards] == [(right, b"TableEvent")]
    assert [(letter["error"], letter["value"]) for _, letter in batch.dead_letters] == [
        ("UNDECODABLE", b"garbage")
    ]
    assert batch.profiles == {right: {player: None}}  # the tombstone came after the profile
    assert batch.forgets == {right: {player}}
    assert batch.origins[event["event_id"]].offset == 0
