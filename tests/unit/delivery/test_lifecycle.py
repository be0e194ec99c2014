"""Lifecycle steps: what the operator's answer makes of a reward."""

from __future__ import annotations

from dataclasses import replace

from app.contract.codec import AvroCodec
from app.delivery.lifecycle import lifecycle_id, settled, step
from app.delivery.sender import Outcome
from tests.unit.delivery.test_payload import REWARD, endpoint

MAPPED = replace(
    endpoint(),
    answer_field="state",
    answer_states={"DONE": "credited", "OFFER": "claimable", "NO": "failed"},
)


def test_without_an_answer_map_a_delivery_is_credited_and_a_failure_failed():
    assert settled(endpoint(), Outcome(True, 1, 200)) == ("CREDITED", None)
    assert settled(endpoint(), Outcome(False, 3, 503, "HTTP 503 after 3 attempt(s)")) == (
        "FAILED",
        "HTTP 503 after 3 attempt(s)",
    )


def test_the_answer_map_says_claimable_failed_or_names_a_value_it_does_not_know():
    assert settled(MAPPED, Outcome(True, 1, 200, answer={"state": "OFFER"})) == ("CLAIMABLE", None)
    assert settled(MAPPED, Outcome(True, 1, 200, answer={"state": "NO"}))[0] == "FAILED"
    status, reason = settled(MAPPED, Outcome(True, 1, 200, answer={"state": "HUH"}))
    assert status == "OTHER" and "'HUH'" in reason
    assert settled(MAPPED, Outcome(True, 1, 200, answer="not an object"))[0] == "OTHER"


def test_a_step_encodes_as_a_reward_lifecycle_with_a_deterministic_id():
    record = step(REWARD, "wallet", "CREDITED", 1_700_000_000_000, Outcome(True, 2, 201))
    codec = AvroCodec("RewardLifecycle")
    assert codec.decode(codec.encode(record)) == record
    assert record["lifecycle_id"] == lifecycle_id("rw-9", "wallet", "CREDITED")
    assert lifecycle_id("rw-9", "wallet", "PENDING") != record["lifecycle_id"]
    assert (record["attempts"], record["http_status"]) == (2, 201)
