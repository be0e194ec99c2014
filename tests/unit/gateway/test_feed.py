"""The gateway's memory of the followed topics: states and erasure markers, secrets, recent
rewards paged, and journal entries handed to the listening streams in order."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from app.contract.codec import AvroCodec
from app.core.ids import pseudonym
from app.core.state import PlayerState
from app.gateway.cursor import Cursor
from app.gateway.feed import PlayerFeed
from app.pipeline.keys import ERASED
from app.rules import default_document
from app.security.player_keys import player_pseudonym
from tests.support.factories import ERASURE_KEY

PLAYER = "p-000001"
SECRET = b"s" * 32


def feed(rewards_kept: int = 10) -> PlayerFeed:
    return PlayerFeed(4, ERASURE_KEY, "UTC", rewards_kept)


def reward(n: int, kind: str = "POINTS", badge: str | None = None) -> bytes:
    return AvroCodec("Reward").encode(
        {
            "reward_id": f"rw-{n}",
            "player_id": PLAYER,
            "rule_id": "r",
            "rule_version": 1,
            "kind": kind,
            "amount": n,
            "currency": None,
            "message": f"reward {n}",
            "table_id": "bj-01",
            "game": "BLACKJACK",
            "dealer_id": None,
            "trigger_event_ids": [f"e{n}"],
            "event_time": n,
            "issued_at": n,
            "attributes": {"badge": badge, "variant": "B"} if badge else {"variant": "B"},
        }
    )


def entry(n: int, decision: str = "REWARD_ISSUED") -> bytes:
    return AvroCodec("JournalEntry").encode(
        {
            "entry_id": f"je-{n}",
            "player_id": "p1-x",
            "decision": decision,
            "rule_id": "r",
            "rule_version": 1,
            "reason": "why",
            "event_ids": [f"e{n}"],
            "reward_id": f"rw-{n}",
            "details": {"kind": "POINTS", "amount": str(n)},
            "event_time": n,
            "recorded_at": n,
        }
    )


def test_a_state_is_read_with_the_cores_reader_and_dropped_by_its_tombstone():
    f = feed()
    f.apply_state(PLAYER.encode(), PlayerState(xp=7).to_bytes(), 1)
    f.apply_reward(reward(1), 1, 0)
    assert f.state(PLAYER).xp == 7
    f.apply_state(PLAYER.encode(), None, 1)
    assert f.state(PLAYER).xp == 0 and f.recent_rewards(PLAYER, None, 5) == ([], False)


def test_an_erased_player_is_known_by_the_marker_on_their_partition():
    f = feed()
    assert not f.is_erased(PLAYER)
    marker = pseudonym(PLAYER, ERASURE_KEY)
    f.apply_state(ERASED, orjson.dumps([marker]), f.partition(PLAYER))
    assert f.is_erased(PLAYER) and not f.is_erased("p-000002")
    assert f.state(PLAYER).xp == 0  # a reserved key is no player's state


def test_rewards_are_paged_newest_first_without_their_variant():
    f = feed(rewards_kept=5)
    for n in range(7):  # the oldest two fall out of what is kept
        f.apply_reward(
            reward(n, "BADGE" if n == 1 else "POINTS", "first" if n == 1 else None), 2, n
        )
    page, more = f.recent_rewards(PLAYER, None, 2)
    assert [r["reward_id"] for _, r in page] == ["rw-6", "rw-5"] and more
    page, more = f.recent_rewards(PLAYER, page[-1][0], 2)
    assert [r["reward_id"] for _, r in page] == ["rw-4", "rw-3"] and more
    page, more = f.recent_rewards(PLAYER, page[-1][0], 2)
    assert [r["reward_id"] for _, r in page] == ["rw-2"] and not more
    assert "variant" not in page[0][1] and page[0][1]["message"] == "reward 2"


def test_a_stream_waits_for_the_players_first_secret():
    async def run() -> str:
        f = feed()
        waiting = asyncio.ensure_future(f.named(PLAYER))
        await asyncio.sleep(0)
        assert not waiting.done()
        f.apply_secret(PLAYER.encode(), SECRET)
        return await waiting

    assert asyncio.run(run()) == player_pseudonym(PLAYER, SECRET)


def test_journal_entries_reach_the_listeners_of_their_player_only():
    f = feed()
    mine, other = f.listen("p1-mine", 10), f.listen("p1-other", 10)
    f.apply_journal([(b"p1-mine", entry(1), 40), (b"p1-else", entry(2), 41)], 3)
    f.apply_journal([(b"p1-mine", entry(3), 42)], 3)
    got = [mine.queue.get_nowait() for _ in range(mine.queue.qsize())]
    assert [(o, e["reward_id"]) for o, e in got] == [(40, "rw-1"), (42, "rw-3")]
    assert other.queue.empty() and f.journal_next[3] == 43
    f.unlisten("p1-mine", mine)
    f.apply_journal([(b"p1-mine", entry(4), 43)], 3)
    assert mine.queue.empty()


def test_a_listener_that_falls_behind_is_told_once_and_given_nothing_more():
    f = feed()
    slow = f.listen("p1-mine", 2)
    f.apply_journal([(b"p1-mine", entry(n), n) for n in range(5)], 0)
    got = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert [g[0] if g else None for g in got] == [0, 1, None] and slow.overflowed


@pytest.mark.parametrize("value", [b"not avro", None])
def test_an_undecodable_or_empty_journal_record_is_passed_over(value):
    f = feed()
    listener = f.listen("p1-mine", 5)
    f.apply_journal([(b"p1-mine", value, 7), (b"p1-mine", entry(8), 8)], 1)
    assert [listener.queue.get_nowait()[0] for _ in range(listener.queue.qsize())] == [8]
    assert Cursor(1, f.journal_next[1]) == Cursor(1, 9)


def test_the_view_follows_the_published_ruleset():
    f = feed()
    shipped = f.ruleset()
    assert shipped.levels  # the shipped default until one is published
    document = {**default_document(), "levels": [{"level": 2, "xp": 999}]}
    f.apply_rules("default", b"other", orjson.dumps(document))  # another ruleset id
    assert f.ruleset().levels == shipped.levels
    f.apply_rules("default", b"default", orjson.dumps(document))
    assert [(lv.level, lv.xp) for lv in f.ruleset().levels] == [(2, 999)]
    f.apply_rules("default", b"default", None)  # withdrawn: the shipped one again
    assert f.ruleset().levels == shipped.levels
