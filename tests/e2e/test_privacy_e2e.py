"""Erasure on a running worker: ``pitboss forget`` leaves nothing to reward or recognise."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.contract.codec import AvroCodec
from app.devtools.deployment import wait_for
from app.operations.privacy import request_erasure
from tests.support.factories import natural, profile, table_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_a_forgotten_player_is_tombstoned_journaled_and_never_rewarded_again(dep):
    dep.start_worker()
    player = "p-forget-me"
    dep.produce(
        dep.settings.topics.player_profiles,
        [(player.encode(), AvroCodec("PlayerProfile").encode(profile(player)), None)],
    )
    now = int(time.time() * 1000)
    dep.produce_events([natural(player_id=player, occurred_at=now)])
    dep.player_when(player, lambda v: v["known"] and v["profile"] is not None)

    asyncio.run(request_erasure(dep.settings, player, "test"))
    journal = dep.consume(
        dep.settings.topics.journal,
        "JournalEntry",
        lambda es: any(e["decision"] == "PLAYER_ERASED" for e in es),
    )
    [marker] = [e for e in journal if e["decision"] == "PLAYER_ERASED"]
    assert marker["player_id"] == player
    view = dep.player_when(player, lambda v: not v["known"] and v["profile"] is None)
    assert view["state"]["xp"] == 0

    later = [
        table_event(player_id=player, occurred_at=now + 1000),
        natural(player_id=player, occurred_at=now + 2000),
    ]
    dep.produce_events(later)
    wait_for(
        lambda: dep.view("/pitboss/stats/")["totals"]["erased_events"] >= 2,
        what="the events to be ignored",
    )
    rewards = dep.consume(dep.settings.topics.rewards, "Reward", lambda rs: len(rs) >= 1)
    later_ids = {e["event_id"] for e in later}
    assert not [r for r in rewards if later_ids & set(r["trigger_event_ids"])]
    assert [r["event_time"] for r in rewards if r["player_id"] == player] == [now]
    assert not dep.view(f"/pitboss/players/{player}/")["known"]
