"""Interaction bodies are checked against the OpenAPI document's schema and become
PlayerInteraction records of the token's player."""

from __future__ import annotations

import pytest

from app.contract.codec import AvroCodec
from app.gateway.interactions import InteractionOutlet, InvalidInteraction
from app.gateway.server import interaction_schema
from app.settings import Settings


@pytest.fixture
def outlet() -> InteractionOutlet:
    return InteractionOutlet(Settings.from_env({}), None, interaction_schema())


def test_a_click_on_a_reward_becomes_an_avro_record(outlet):
    body = {"action": "clicked", "reward_id": "rw-1", "surface": "reward-toast", "occurred_at": 5}
    record = outlet.record("p-1", body, now_ms=9)
    assert AvroCodec("PlayerInteraction").decode(outlet.codec.encode(record)) == {
        **record,
        "action": "CLICKED",
    }
    assert (record["player_id"], record["occurred_at"], record["recorded_at"]) == ("p-1", 5, 9)
    assert len(record["interaction_id"]) == 32 and record["message_id"] is None


def test_a_retry_keeps_the_clients_id(outlet):
    body = {"action": "dismissed", "message_id": "cd-x", "interaction_id": "abc-1"}
    assert outlet.record("p-1", body)["interaction_id"] == "abc-1"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"action": "clicked"}, "the body"),
        ({"action": "liked", "reward_id": "rw-1"}, "action"),
        ({"action": "shown", "reward_id": "rw-1", "message_id": "m"}, "the body"),
        ({"action": "shown", "reward_id": "rw 1"}, "reward_id"),
        ({"action": "shown", "reward_id": "rw-1", "player_id": "p-2"}, "the body"),
        ([], "the body"),
    ],
)
def test_anything_else_is_refused_saying_where(outlet, body, why):
    with pytest.raises(InvalidInteraction, match=why):
        outlet.record("p-1", body)
