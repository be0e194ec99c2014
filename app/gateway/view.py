"""What a player may see of their own state: the core's ``PlayerState`` (as the worker wrote
it to its changelog) read by the core's own reader, and mapped to player-facing fields only.

Level thresholds and mission targets come from the ruleset in force (the same compiled
``Ruleset`` the worker runs), never from a second copy of the rules. Harm signals (the
rapid-loss minutes, the loss-chasing run, a cool-down's reason and figures), caps, streaks and
re-delivery memory are never shown.
"""

from __future__ import annotations

from typing import Any

from app.core.claims import view as claims_view
from app.core.rules import Ruleset
from app.core.state import PlayerState
from app.leaderboards.board import Board


def _next_level(ruleset: Ruleset, xp: int, level: int) -> dict[str, Any] | None:
    """The next level's number and threshold, and how far the player is from this level's
    threshold to it (0..1); None at the top (or with no levels)."""
    ahead = sorted((lv for lv in ruleset.levels if lv.level > level), key=lambda lv: lv.xp)
    if not ahead:
        return None
    here = max((lv.xp for lv in ruleset.levels if lv.level <= level), default=0)
    target = ahead[0]
    span = max(target.xp - here, 1)
    progress = min(max((xp - here) / span, 0.0), 1.0)
    return {"level": target.level, "xp": target.xp, "progress": round(progress, 4)}


def _mission_target(ruleset: Ruleset, scope: str) -> tuple[str, int | None]:
    """The rule a mission's state key belongs to (``rule`` or ``rule:GAME``) and its steps
    (None: the rule is no longer in force)."""
    for rule in ruleset.rules:
        if rule.mission is None:
            continue
        if scope == rule.rule_id or (rule.per_game and scope.startswith(rule.rule_id + ":")):
            return rule.rule_id, rule.mission.steps
    return scope, None


def player_view(player_id: str, state: PlayerState, ruleset: Ruleset) -> dict[str, Any]:
    """The body of ``GET /gateway/v1/players/{player_id}`` (docs/player-channel.md); the
    badges are those the player's state keeps (every badge earned, not a window of rewards)."""
    missions = []
    for scope, mission in sorted(state.missions.items()):
        rule_id, steps = _mission_target(ruleset, scope)
        missions.append(
            {
                "mission": rule_id,
                "scope": scope,
                "period": mission.period,
                "steps": mission.steps,
                "target": steps,
                "completed": mission.completed,
            }
        )
    cooldown = state.cooldown
    return {
        "player_id": player_id,
        "xp": state.xp,
        "level": state.level,
        "next_level": _next_level(ruleset, state.xp, state.level),
        "points": state.points,
        "badges": sorted(state.badges),
        "missions": missions,
        "boosts": [
            {
                "boost_id": b.boost_id,
                "factor": b.factor,
                "kinds": b.kinds,
                "games": b.games,
                "table_id": b.table,
                "starts_at": b.starts_at,
                "ends_at": b.ends_at,
                "bets_left": b.bets_left,
            }
            for b in state.boosts
        ],
        "claims": claims_view(state),
        "cooldown": None
        if cooldown is None
        else {"starts_at": cooldown.starts_at, "ends_at": cooldown.ends_at},
    }


def leaderboard_view(
    key: str,
    board: Board | None,
    player_id: str,
    state: PlayerState,
    limit: int,
    ranked: int | None = None,
) -> dict[str, Any]:
    """The body of ``GET …/leaderboards/{board}``: the top ``limit`` rows (rank and score;
    another player's id is theirs, not this player's to see) and the player's own rank (their
    row's on the board; below its top N, ``ranked``: their rank among every score, None if
    unknown) and score (their state's total)."""
    entries = board.entries if board is not None else ()
    on_board = next((i for i, e in enumerate(entries, 1) if e.player_id == player_id), None)
    rank = on_board if on_board is not None else ranked
    return {
        "board": key,
        "size": board.top if board is not None else None,
        "top": [
            {"rank": i, "score": e.total, "you": e.player_id == player_id}
            for i, e in enumerate(entries[:limit], 1)
        ],
        "you": {"rank": rank, "score": state.boards.get(key, 0)},
    }
