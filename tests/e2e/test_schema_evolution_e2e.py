"""Schema evolution on a running worker: studios on an older or newer TableEvent are decided,
an incompatible one is dead-lettered (the decoding rules: tests/unit/contract)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.contract.schemas import VERSIONS_ENV
from app.devtools.deployment import Deployment, wait_for
from tests.support.factories import natural, table_event
from tests.support.writer_schemas import INCOMPATIBLE, shipped, single_object

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_a_worker_decides_older_and_newer_writers_and_dead_letters_an_incompatible_one(
    tmp_path: Path,
):
    versions = tmp_path / "studio-versions"
    versions.mkdir()
    (versions / "TableEvent.bad.avsc").write_text(json.dumps(INCOMPATIBLE))
    dep = Deployment.create(tmp_path / "state", **{VERSIONS_ENV: str(versions)})
    try:
        dep.start_worker()
        now = int(time.time() * 1000)
        old = natural(player_id="p-evo-v0", occurred_at=now)
        new = natural(player_id="p-evo-v2", occurred_at=now)
        # The tip goes first on p-evo-v2's partition, so it is sorted by the time the
        # natural after it is decided.
        tip = table_event(player_id="p-evo-v2", event_type="TIP_PLACED", occurred_at=now)
        bad = dict(natural(player_id="p-evo-bad", occurred_at=now), event_id=7)
        records = [
            ("p-evo-v0", single_object(shipped("v0").source, old)),
            ("p-evo-v2", single_object(shipped("v2").source, dict(tip, seat=2))),
            ("p-evo-v2", single_object(shipped("v2").source, dict(new, seat=5))),
            ("p-evo-bad", single_object(INCOMPATIBLE, bad)),
        ]
        dep.produce(dep.settings.topics.table_events, [(k.encode(), v, None) for k, v in records])

        players = {"p-evo-v0", "p-evo-v2"}
        rewards = dep.consume(
            dep.settings.topics.rewards,
            "Reward",
            lambda rs: {r["player_id"] for r in rs} >= players,
        )
        by_player = {r["player_id"]: r for r in rewards}
        for event in (old, new):
            reward = by_player[event["player_id"]]
            assert reward["rule_id"] == "first-natural-blackjack-of-day"
            assert reward["trigger_event_ids"] == [event["event_id"]]

        letters = dep.consume(
            dep.settings.topics.dead_letters,
            "DeadLetter",
            lambda ls: any(x["key"] == b"p-evo-bad" for x in ls),
        )
        assert [x["key"] for x in letters] == [b"p-evo-bad"]  # not the tip
        [letter] = letters
        assert letter["value"] == records[-1][1]
        assert letter["error"] == "UNDECODABLE"
        assert "cannot be read as the current pitboss.TableEvent" in letter["reason"]
        assert "int is not string" in letter["reason"]
        wait_for(lambda: dep.view("/pitboss/stats/")["totals"]["table_level"], what="the tip")
    finally:
        dep.stop_all()
