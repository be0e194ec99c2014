"""The shipped vendor formats: their samples map to the expected TableEvents, and whatever the
simulator emits in them maps back to exactly the events it simulated."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.devtools.simulator import StudioConfig, StudioSimulator
from app.devtools.simulator.vendor import croupier_batches, dealerstream_batch, main
from app.intake.mapping import load_mapping

EXAMPLES = Path(__file__).resolve().parents[3] / "app" / "intake" / "examples"
MAPPINGS = {
    "json": load_mapping(EXAMPLES / "dealerstream.mapping.yaml"),
    "xml": load_mapping(EXAMPLES / "croupierml.mapping.yaml"),
}
SAMPLES = {"json": "dealerstream.sample.json", "xml": "croupierml.sample.xml"}

#: The sample's fifth item: a settled hand of blackjack, in both vendors' words.
SETTLED = {
    "event_id": "riga-bj-01-1764000017171-5",
    "event_type": "BET_SETTLED",
    "occurred_at": 1_764_000_069_888,
    "studio_id": "riga",
    "table_id": "riga-bj-01",
    "dealer_id": "dlr-riga-001",
    "game": "BLACKJACK",
    "game_variant": None,
    "round_id": "riga-bj-01-1764000017171",
    "player_id": "p-000037",
    "bet": {"bet_type": "main", "stake_minor": 500, "currency": "EUR"},
    "settlement": {"outcome": "LOSS", "payout_minor": 0, "hand": "dealer_higher"},
    "chat_text": None,
    "device": "desktop",
    "attributes": {"seat": "6"},
}


def events_of(fmt: str, body: bytes) -> list[dict]:
    mapping = MAPPINGS[fmt]
    return [mapping.event(item) for item in mapping.split(mapping.parse(body))]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_samples_map_to_the_expected_table_events(fmt):
    events = events_of(fmt, (EXAMPLES / SAMPLES[fmt]).read_bytes())
    assert len(events) == 14
    assert events[5] == SETTLED
    assert [e["event_type"] for e in events[:3]] == [
        "PLAYER_JOINED",
        "PLAYER_JOINED",
        "ROUND_STARTED",
    ]
    assert events[2]["player_id"] is None and events[2]["attributes"] == {
        "players": "2",
        "round": "1",
    }


def test_simulated_traffic_survives_both_vendor_formats_unchanged():
    sim = StudioSimulator(StudioConfig(tables=6, players=60), 11, 1_764_000_000_000)
    simulated = sim.take(4000)
    assert {e["event_type"] for e in simulated} >= {"CHAT_MESSAGE", "SIDE_BET_SETTLED"}
    assert any(e["game_variant"] for e in simulated)
    assert events_of("json", dealerstream_batch(simulated)) == simulated
    through_xml = [e for body in croupier_batches(simulated) for e in events_of("xml", body)]
    assert through_xml == simulated


def test_the_vendor_command_prints_a_batch(capsysbinary):
    assert main(["xml", "30"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"<?xml") and b"<event " in out
    assert main(["yaml", "3"]) == 2
