"""Faults inside the worker: one player's bad state never stops or drops anyone else."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest

from app.contract.codec import AvroCodec
from app.operations.admin import ensure_topics
from app.operations.topics import TopicSpec
from app.pipeline.ingest import partition_for
from app.security.player_keys import unseal
from tests.support.factories import natural

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_an_old_or_corrupt_player_state_is_handled_and_nobody_else_waits(dep):
    n = dep.settings.partitions
    changelog = f"{dep.settings.app_id}-player-state-changelog"
    asyncio.run(
        ensure_topics(dep.settings, [TopicSpec(changelog, n, {"cleanup.policy": "compact"}, "")])
    )
    now = int(time.time() * 1000)
    today = datetime.fromtimestamp(now / 1000, UTC).date().isoformat()
    v1_state = json.dumps(
        {"v": 1, "o": {"first-natural-blackjack-of-day": [today]}, "xp": 10, "s": [1, 2]}
    )
    dep.produce(
        changelog,
        [
            (b"p-v1", v1_state.encode(), partition_for("p-v1", n)),
            (b"p-corrupt", b"\x00 this is not a state", partition_for("p-corrupt", n)),
        ],
    )
    dep.start_worker()
    events = [natural(player_id=p, occurred_at=now) for p in ("p-v1", "p-corrupt", "p-ok")]
    dep.produce_events(events)

    rewards = dep.consume(
        dep.settings.topics.rewards,
        "Reward",
        lambda rs: any(r["player_id"] == "p-ok" for r in rs),
    )
    letters = dep.consume(dep.settings.topics.dead_letters, "DeadLetter", lambda ls: len(ls) >= 1)
    [letter] = letters
    assert letter["error"] == "OTHER" and "decision core failed" in letter["reason"]
    # the original key and bytes, sealed under the player's secret (crypto-shredding)
    secret = dep.secret("p-corrupt")
    assert unseal(letter["key"], secret) == b"p-corrupt"
    assert AvroCodec("TableEvent").decode(unseal(letter["value"], secret)) == events[1]
    view = dep.player_when("p-v1", lambda v: v["state"]["last_event_at"] == now)
    assert view["state"]["xp"] == 10  # the v1 state's "already fired today" was honoured
    assert not [r for r in rewards if r["player_id"] in ("p-v1", "p-corrupt")]
    assert dep.workers[0].alive()
