"""The player's view: from the state the worker wrote, with the ruleset's levels and mission
targets; never a harm signal, a cap, a streak or a cool-down's reason."""

from __future__ import annotations

import orjson

from app.core.state import BoostState, CooldownState, MissionState, PlayerState
from app.gateway.view import player_view
from app.rules import default_ruleset

FIELDS = {"xp", "points", "level", "missions", "caps", "cooldown", "boosts", "badges", "claims"}
#: everything a player sees, and nothing else
SHOWN = {
    "player_id",
    "xp",
    "level",
    "next_level",
    "points",
    "badges",
    "missions",
    "boosts",
    "claims",
    "cooldown",
}


def state() -> PlayerState:
    # harm signals as the worker writes them: rapid-loss minutes and a loss-chasing run
    played = PlayerState.from_bytes(orjson.dumps({"v": 2, "rl": [[1, 5000, 4]], "lc": [3, 100]}))
    harm = {name: getattr(played, name) for name in played.__slots__ if name not in FIELDS}
    return PlayerState(
        **harm,
        xp=100,
        points=420,
        level=2,
        missions={
            "baccarat-banker-x3": MissionState("2026-12-02", 2, ["e1", "e2"], False),
            "retired-rule": MissionState("2026-12-02", 1, ["e3"], False),
        },
        caps={"daily:2026-12-02": 50},
        cooldown=CooldownState("cd-1", 1000, 2000, "rapid_loss"),
        boosts=[BoostState("rw-1", "r", 1, 2.0, ["POINTS"], ["ROULETTE"], None, 10, None, 3)],
        badges=["high-roller", "explorer:roulette"],
        claims=[[7000, {"reward_id": "rw-2", "kind": "POINTS", "amount": 50, "message": None}]],
    )


def test_the_view_shows_progress_from_the_ruleset_in_force():
    view = player_view("p-1", state(), default_ruleset())
    assert (view["xp"], view["level"], view["points"]) == (100, 2, 420)
    # level 2 starts at 50 XP, level 3 at 150: 100 XP is half way
    assert view["next_level"] == {"level": 3, "xp": 150, "progress": 0.5}
    assert view["badges"] == ["explorer:roulette", "high-roller"]  # from the state
    missions = {m["mission"]: m for m in view["missions"]}
    assert missions["baccarat-banker-x3"]["steps"] == 2
    assert missions["baccarat-banker-x3"]["target"] == 3
    assert missions["retired-rule"]["target"] is None
    assert view["boosts"][0]["factor"] == 2.0 and view["boosts"][0]["bets_left"] == 3
    assert view["cooldown"] == {"starts_at": 1000, "ends_at": 2000}
    assert view["claims"] == [
        {"reward_id": "rw-2", "kind": "POINTS", "amount": 50, "message": None, "claim_by": 7000}
    ]


def test_the_view_keeps_harm_signals_and_internals_out():
    view = player_view("p-1", state(), default_ruleset())
    assert set(view) == SHOWN
    text = orjson.dumps(view).decode()
    for hidden in ("rapid_loss", "cd-1", "daily:", "5000"):
        assert hidden not in text


def test_a_player_at_the_top_level_has_no_next():
    top = default_ruleset().levels[-1]
    view = player_view("p-1", PlayerState(xp=top.xp + 1, level=top.level), default_ruleset())
    assert view["next_level"] is None


def test_a_new_player_starts_at_level_one():
    view = player_view("p-1", PlayerState(), default_ruleset())
    assert view["level"] == 1 and view["next_level"]["progress"] == 0.0
    assert view["cooldown"] is None and view["missions"] == [] and view["boosts"] == []
