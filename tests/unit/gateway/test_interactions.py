"""Interaction bodies are checked against the OpenAPI document's schema and become
PlayerInteraction records of the token's player, with the rule and A/B variant of what the
gateway served them (never the client's word)."""

from __future__ import annotations

import asyncio

import pytest

from app.contract.codec import AvroCodec
from app.core.state import CooldownState, PlayerState
from app.gateway.feed import NotTheirs
from app.gateway.interactions import InteractionOutlet, InvalidInteraction
from app.gateway.server import interaction_schema
from app.settings import Settings
from tests.unit.gateway.test_feed import PLAYER, feed, reward


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
    assert (record["rule_id"], record["variant"]) == (None, None)  # the gateway's to fill


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
        ({"action": "shown", "reward_id": "rw-1", "rule_id": "r", "variant": "A"}, "the body"),
        ([], "the body"),
    ],
)
def test_anything_else_is_refused_saying_where(outlet, body, why):
    with pytest.raises(InvalidInteraction, match=why):
        outlet.record("p-1", body)


def test_a_reward_interaction_carries_the_rule_and_variant_the_gateway_served():
    f = feed()
    f.apply_reward(reward(1), 0, 5)
    about = asyncio.run(f.about(PLAYER, "rw-1", None, wait=0))
    assert about == {"rule_id": "r", "variant": "B"}


def test_a_reward_that_is_not_the_players_is_refused_after_the_wait():
    f = feed()
    f.apply_reward(reward(1), 0, 5)  # PLAYER's
    with pytest.raises(NotTheirs, match="rw-1"):
        asyncio.run(f.about("p-000002", "rw-1", None, wait=0.05))
    with pytest.raises(NotTheirs, match="rw-9"):
        asyncio.run(f.about(PLAYER, "rw-9", None, wait=0.05))


def test_an_interaction_waits_for_a_reward_the_stream_showed_first():
    async def run() -> dict:
        f = feed()
        asking = asyncio.ensure_future(f.about(PLAYER, "rw-2", None, wait=5))
        await asyncio.sleep(0.01)
        assert not asking.done()
        f.apply_reward(reward(2), 0, 6)
        return await asking

    assert asyncio.run(run()) == {"rule_id": "r", "variant": "B"}


def test_a_message_gets_the_running_cool_downs_detector_else_nothing():
    f = feed()
    cooling = PlayerState(cooldown=CooldownState("cd-1", 1, 2, "LOSS_CHASING"))
    f.apply_state(PLAYER.encode(), cooling.to_bytes(), f.partition(PLAYER))
    assert asyncio.run(f.about(PLAYER, None, "cd-1", wait=0)) == {
        "rule_id": "loss-chasing",
        "variant": None,
    }
    assert asyncio.run(f.about(PLAYER, None, "je-reality", wait=0)) == {
        "rule_id": None,
        "variant": None,
    }
