"""The RG team's alert on a running worker: a harmful persona's burst raises the player to
high, which reaches ``rg-alerts`` (and the RG team's webhook) and pauses the next grant at
once; a normal player's hour of real-pace play raises no alert."""

from __future__ import annotations

import signal
import time
from collections import defaultdict

import orjson
import pytest

from app.core import Decisions, PlayerState
from app.devtools.deployment import wait_for
from app.devtools.simulator.studio import StudioConfig, StudioSimulator
from tests.e2e.test_delivery_e2e import Receiver, start
from tests.support.rulesets import default_engine

pytestmark = [pytest.mark.broker, pytest.mark.slow]
HOUR = 3_600_000


def play(harmful_share: float, start: int) -> tuple[StudioSimulator, dict[str, list[dict]]]:
    """An hour of real-pace play from ``start``, each player's own events in order."""
    sim = StudioSimulator(StudioConfig(players=200, harmful_share=harmful_share), 11, start)
    mine: dict[str, list[dict]] = defaultdict(list)
    for event in sim:
        if event["occurred_at"] > start + HOUR:
            return sim, mine
        if event["player_id"] is not None:
            mine[event["player_id"]].append(event)
    raise AssertionError("unreachable: the simulation is endless")


def first_cooldown(events: list[dict]) -> int | None:
    """The index of the event that starts the player's first cool-down in the core."""
    engine, state, out = default_engine(), PlayerState(), Decisions()
    for i, event in enumerate(events):
        engine.decide(state, [event], None, 0, out)
        if out.cooldowns:
            return i
    return None


def test_a_harmful_personas_burst_reaches_rg_alerts_and_pauses_the_next_grant(dep, tmp_path):
    sim, mine = play(0.2, int(time.time() * 1000) - 2 * HOUR)
    chasing = [p for p, persona in sim.personas.items() if persona in ("chaser", "escalator")]
    found = {p: first_cooldown(mine[p]) for p in chasing if mine[p]}
    player = min((p for p, i in found.items() if i is not None), key=lambda p: found[p])
    events = mine[player]
    at = found[player]
    trigger = events[at]
    next_bet = next(e for e in events[at + 1 :] if e["event_type"] == "BET_PLACED")
    topics = dep.settings.topics

    dep.start_worker()
    dep.produce_events(events[:at])  # the persona's play up to the round that trips
    dep.wait_caught_up(topics.table_events)
    sent_at = int(time.time() * 1000)
    dep.produce_events([trigger])
    [record] = dep.consume(topics.rg_alerts, None, lambda rs: len(rs) >= 1)
    took = record.timestamp - sent_at  # the worker's producer stamps the alert
    print(f"trigger produced -> alert on rg-alerts: {took} ms")
    assert took < 1000, f"the alert took {took} ms (the issue: within a second)"

    [alert] = dep.consume(topics.rg_alerts, "RgAlert", lambda rs: len(rs) >= 1)
    print(f"trigger produced -> alert decided (issued_at): {alert['issued_at'] - sent_at} ms")
    assert record.key == player.encode() and alert["player_id"] == player
    assert alert["level"] == "HIGH" and alert["markers"]
    assert alert["trigger_event_ids"] == [trigger["event_id"]]
    [cooldown] = dep.consume(topics.cooldowns, "CoolDown", lambda cs: len(cs) >= 1)
    assert alert["cooldown_id"] == cooldown["cooldown_id"]
    assert alert["cooldown_ends_at"] == cooldown["ends_at"]

    named = dep.named(player)
    journal = dep.consume(
        topics.journal, "JournalEntry", lambda es: any(e["player_id"] == named for e in es)
    )
    raised = [e for e in journal if e["event_ids"] == [trigger["event_id"]]]
    assert alert["alert_id"] == raised[0]["entry_id"]  # the journal's id: dedupe, look-up

    dep.produce_events([next_bet])
    journal = dep.consume(
        topics.journal,
        "JournalEntry",
        lambda es: any(e["event_ids"] == [next_bet["event_id"]] for e in es),
    )
    held = [e for e in journal if e["event_ids"] == [next_bet["event_id"]]]
    assert [(e["decision"], e["reason"]) for e in held] == [
        ("REWARD_SUPPRESSED", "cooldown_active")
    ]
    assert held[0]["recorded_at"] >= sent_at

    receiver = Receiver()  # the RG team's tool, subscribed by webhook
    endpoints = f"""endpoints:
  rg-desk:
    url: {receiver.url("/flaky")}
    topics: [rg-alerts]
    retry: {{attempts: 5, first_delay: 0.05, max_delay: 0.2}}
"""
    hooks = start(dep, tmp_path, "webhooks", endpoints, "webhooks.log")
    try:
        wait_for(lambda: len(receiver.taken) == 1, 60, what="the alert delivered")
    finally:
        hooks.stop(signal.SIGTERM, timeout=30)
        receiver.stop()
    [(_, the_id, headers, data)] = receiver.taken
    assert the_id == headers["Idempotency-Key"] == alert["alert_id"]
    assert orjson.loads(data) == {"type": "rg-alerts", "id": the_id, "record": alert}


def test_a_normal_players_hour_at_real_pace_raises_no_alert_and_no_high_level(dep):
    _, mine = play(0.0, int(time.time() * 1000) - HOUR - 60_000)
    player = max(mine, key=lambda p: sum(e["event_type"] == "BET_PLACED" for e in mine[p]))
    events = mine[player]
    assert events[-1]["occurred_at"] - events[0]["occurred_at"] > HOUR * 3 // 4
    topics = dep.settings.topics

    dep.start_worker()
    dep.produce_events(events)  # an hour of event time, produced at once
    last_bet = next(e for e in reversed(events) if e["event_type"] == "BET_PLACED")
    named = dep.named(player)
    journal = dep.consume(
        topics.journal,
        "JournalEntry",
        lambda es: any(e["event_ids"] == [last_bet["event_id"]] for e in es),
    )
    dep.wait_caught_up(topics.table_events)
    mine_kept = [e for e in journal if e["player_id"] == named]
    assert sum(e["decision"] == "REWARD_ISSUED" for e in mine_kept) > 20  # it was decided
    raised = [e["details"]["to"] for e in mine_kept if e["decision"] == "RISK_LEVEL_CHANGED"]
    assert "high" not in raised
    assert dep.read_all(topics.rg_alerts) == []
