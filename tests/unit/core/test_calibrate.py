"""The calibration script and the simulator's harmful personas it measures."""

from __future__ import annotations

from app.devtools.simulator.studio import PERSONAS, StudioConfig, StudioSimulator, _Seat, _snap
from app.rules import default_document
from scripts.calibrate import calibrate, report

START = 1_795_000_000_000


def test_a_marker_that_fires_on_all_play_is_reported_for_every_normal_player_and_game():
    doc = default_document()
    doc["protection"] = {"night_play": {"from": 0, "until": 23}}  # all day but 23:00
    found = calibrate(doc, hours=0.25, players=60, seed=3, harmful=0.0)
    assert found["players"] > 20 and found["personas"] == {}
    assert len(found["levels"]["low"]) == found["players"]  # every player, at once
    games = {game for marker, game in found["markers"] if marker == "night_play"}
    assert games == {"BLACKJACK", "ROULETTE", "BACCARAT"}
    text = report(found, 0.25)
    assert f"low or higher: {found['players']} (400.00%/h)" in text


def test_personas_are_labelled_in_the_simulator_and_never_in_the_events():
    sim = StudioSimulator(StudioConfig(players=200, harmful_share=0.2), 5, START)
    assert set(sim.personas.values()) == set(PERSONAS)
    assert 20 <= len(sim.personas) <= 60
    for event in sim.take(5000):
        assert not set(PERSONAS) & {*event["attributes"].values(), *event["attributes"]}
    owls = [p for p in sim.players if sim.personas.get(p.player_id) == "night_owl"]
    assert {p.time_zone for p in owls} == {"Etc/GMT+9"}  # 11:06Z: 02:06 there
    plain = StudioSimulator(StudioConfig(players=200), 5, START)
    assert plain.personas == {}


def test_a_chaser_doubles_after_a_losing_round_and_an_escalator_raises_every_round():
    sim = StudioSimulator(StudioConfig(players=200, harmful_share=0.2), 5, START)
    stakes: dict[str, set[int]] = {}
    for event in sim.take(40_000):
        if event["event_type"] == "BET_PLACED":
            stakes.setdefault(event["player_id"], set()).add(event["bet"]["stake_minor"])
    players = {p.player_id: p for p in sim.players}
    for pid, persona in sim.personas.items():
        if pid not in stakes:
            continue
        usual = set(players[pid].stakes)
        if persona in ("chaser", "escalator"):  # stakes beyond the player's usual chips
            assert stakes[pid] - usual or max(usual) >= 50_000, (persona, pid)
        else:
            assert stakes[pid] <= usual, (persona, pid)
    chaser = _Seat(players["p-000001"], "mobile", None, "chaser")
    base = players["p-000001"].base_stake
    doubled = _snap(2 * base)  # the nearest chip
    for net, expected in ((-100, doubled), (-50, _snap(2 * doubled)), (0, base), (-1, doubled)):
        chaser.round_net = net
        chaser.round_over()
        assert chaser.pick(123) == expected


def test_a_harmful_persona_keeps_their_seat_while_normal_players_come_and_go():
    sim = StudioSimulator(StudioConfig(players=200, harmful_share=0.2), 5, START)
    left = {e["player_id"] for e in sim.take(40_000) if e["event_type"] == "PLAYER_LEFT"}
    assert left and not left & set(sim.personas)
