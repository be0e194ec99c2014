"""The RG team's alerts: one per event that raises a player to high, projected from the
journal with the markers, the cool-down and the entry id as the journal keeps it."""

from __future__ import annotations

from app.contract.codec import AvroCodec
from app.pipeline.rg_alerts import rg_alerts
from app.security.player_keys import Sealer
from tests.support.factories import ERASURE_KEY
from tests.support.rulesets import default_engine, run
from tests.unit.core.test_risk import MIN, T0, marathon, spin

SECRET = b"s" * 32


def alerts_of(out):
    player_id = out.journal[0]["player_id"]
    sealer = Sealer({player_id: SECRET}, ERASURE_KEY)
    return rg_alerts((entry, sealer.entry(entry)) for entry in out.journal), sealer


def chase(start=T0, rounds=6):
    events = []
    for i, stake in enumerate([1000, 1200, 1500, 2000, 2500, 3000][:rounds]):
        events += spin(start + i * 3 * MIN, [(stake, 0)], f"c{start}-{i}")
    return events


def test_a_chase_raising_the_player_to_high_makes_one_alert_with_its_cool_down():
    events = chase()
    _, out = run(default_engine(), events)
    [alert], sealer = alerts_of(out)
    raised = next(e for e in out.journal if e["decision"] == "RISK_LEVEL_CHANGED")
    started = next(e for e in out.journal if e["decision"] == "COOLDOWN_STARTED")
    [cooldown] = out.cooldowns
    assert alert["alert_id"] == sealer.entry(raised)["entry_id"]  # the journal's id
    assert alert["player_id"] == events[0]["player_id"]  # in clear, for the RG team
    assert (alert["level"], alert["previous_level"]) == ("HIGH", "NONE")
    assert (alert["rule_id"], alert["reason"]) == ("loss-chasing", "loss_chasing")
    assert alert["markers"] == ["loss_chasing"]
    assert alert["figures"]["losses_before"] == "5" and alert["figures"]["kind"] == "LOSS_CHASING"
    assert alert["cooldown_id"] == sealer.cooldown(cooldown)["cooldown_id"]
    assert alert["cooldown_ends_at"] == cooldown["ends_at"] == int(started["details"]["ends_at"])
    assert alert["trigger_event_ids"] == [events[-1]["event_id"]]
    assert alert["event_time"] == events[-1]["occurred_at"]
    codec = AvroCodec("RgAlert")
    assert codec.decode(codec.encode(alert)) == alert


def test_levels_below_high_make_no_alert():
    _, out = run(default_engine(), marathon(200))  # low, then medium
    assert {e["details"]["to"] for e in out.journal if e["decision"] == "RISK_LEVEL_CHANGED"} >= {
        "low",
        "medium",
    }
    assert alerts_of(out)[0] == []


def test_a_cool_down_while_already_high_is_an_alert_of_its_own():
    """The first chase's cool-down ends while loss chasing still holds the level at high; a
    second chase trips again: a cool-down without a level change, still an alert."""
    first = chase()
    second = chase(start=T0 + 40 * MIN)
    _, out = run(default_engine(), first + second)
    alerts, _ = alerts_of(out)
    assert [a["previous_level"] for a in alerts] == ["NONE", "HIGH"]
    assert alerts[1]["markers"] == ["loss_chasing"] and alerts[1]["cooldown_id"]
    assert len({a["alert_id"] for a in alerts}) == 2
