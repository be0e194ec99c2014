"""Stream messages: what the player got or is in, with player-facing fields only."""

from __future__ import annotations

from app.gateway.cursor import Cursor
from app.gateway.messages import stream_message


def entry(decision: str, details: dict[str, str], reward_id: str | None = None) -> dict:
    return {
        "entry_id": "je-1",
        "player_id": "p1-x",
        "decision": decision,
        "rule_id": "r-1",
        "rule_version": 3,
        "reason": "in words",
        "event_ids": ["e1"],
        "reward_id": reward_id,
        "details": details,
        "event_time": 1000,
        "recorded_at": 2000,
    }


def test_a_reward_carries_its_cursor_kind_and_amount():
    message = stream_message(
        entry("REWARD_ISSUED", {"kind": "POINTS", "amount": "25", "variant": "B"}, "rw-1"),
        Cursor(2, 17),
    )
    assert message == {
        "cursor": "2.17",
        "type": "reward_issued",
        "at": 1000,
        "rule_id": "r-1",
        "reward_id": "rw-1",
        "kind": "POINTS",
        "amount": 25,
    }


def test_a_cool_down_says_when_it_ends_never_why():
    details = {"cooldown_id": "cd-x", "ends_at": "5000", "kind": "rapid_loss", "net_loss": "90000"}
    message = stream_message(entry("COOLDOWN_STARTED", details), Cursor(0, 1))
    assert message == {
        "cursor": "0.1",
        "type": "cooldown_started",
        "at": 1000,
        "message_id": "cd-x",
        "ends_at": 5000,
    }


def test_mission_progress_and_level_ups_carry_their_numbers():
    step = stream_message(
        entry("MISSION_PROGRESS", {"step": "2", "steps": "3", "period": "2026-12-02"}),
        Cursor(0, 2),
    )
    assert (step["type"], step["step"], step["steps"], step["rule_id"]) == (
        "mission_progress",
        2,
        3,
        "r-1",
    )
    up = stream_message(entry("LEVEL_UP", {"from": "1", "to": "2", "xp": "60"}), Cursor(0, 3))
    assert (up["type"], up["from"], up["to"], up["xp"]) == ("level_up", 1, 2, 60)


def test_what_a_player_is_not_told_is_not_pushed():
    for decision in ("REWARD_SUPPRESSED", "EVENT_REJECTED", "PLAYER_ERASED", "CONSENT_CHANGED"):
        assert stream_message(entry(decision, {"kind": "POINTS"}), Cursor(0, 0)) is None


def test_a_reality_check_says_time_and_result_never_the_level_or_markers():
    details = {
        "from": "none",
        "to": "low",
        "markers": "night_play,session_long",
        "session_minutes": "95",
        "net_minor": "-4250",
        "message": "Reality check: you have played for 95 minutes this session, net result -42.50.",
    }
    message = stream_message(entry("RISK_LEVEL_CHANGED", details), Cursor(1, 9))
    assert message == {
        "cursor": "1.9",
        "type": "reality_check",
        "at": 1000,
        "message_id": "je-1",
        "message": details["message"],
        "session_minutes": 95,
        "net_minor": -4250,
    }


def test_a_level_change_without_a_message_is_not_pushed():
    for details in (
        {"from": "low", "to": "none", "markers": ""},
        {"from": "medium", "to": "high", "markers": "loss_chasing"},
    ):
        assert stream_message(entry("RISK_LEVEL_CHANGED", details), Cursor(0, 0)) is None
