"""The journal entries of the points economy: player commands applied or refused, mini-game
plays and points that expired. Shaped as ``app.core.outputs`` builds every entry, ids
deterministic: a command's from its command id, a play's from its spin and play number."""

from __future__ import annotations

from app.core.outputs import journal_entry
from app.core.rules import MiniGame, PointsExpiry

Record = dict
#: The decisions that answer a player command (the ``command-outcomes`` topic).
COMMAND_OUTCOMES = frozenset({"COMMAND_APPLIED", "COMMAND_REFUSED"})


def command_applied(
    command: Record,
    event: Record,
    rule_id: str,
    rule_version: int,
    reward_id: str | None,
    details: dict[str, str],
    balance: int,
    now_ms: int,
) -> Record:
    """A command that did what it asked: the reward it granted (or the spin it played)."""
    return _command_entry(
        "COMMAND_APPLIED", command, event, rule_id, rule_version, command["type"].lower(),
        reward_id, details, balance, now_ms,
    )  # fmt: skip


def command_refused(
    command: Record,
    event: Record,
    reason: str,
    explain: str,
    rule_id: str | None,
    rule_version: int | None,
    balance: int,
    now_ms: int,
) -> Record:
    """A command that did nothing, and why (``reason`` a code, ``explain`` in words)."""
    return _command_entry(
        "COMMAND_REFUSED", command, event, rule_id, rule_version, reason, None,
        {"explain": explain}, balance, now_ms,
    )  # fmt: skip


def _command_entry(
    decision: str,
    command: Record,
    event: Record,
    rule_id: str | None,
    rule_version: int | None,
    reason: str,
    reward_id: str | None,
    details: dict[str, str],
    balance: int,
    now_ms: int,
) -> Record:
    named = {
        "command_id": command["command_id"],
        "type": command["type"],
        "balance": str(balance),
    }
    for field in ("item_id", "reward_id", "target_id"):
        if command.get(field):
            named[field] = command[field]
    return journal_entry(
        decision=decision,
        player_id=event["player_id"],
        rule_id=rule_id,
        rule_version=rule_version,
        reason=reason,
        event_ids=[event["event_id"]],
        reward_id=reward_id,
        details={**named, **details},
        event_time=event["occurred_at"],
        now_ms=now_ms,
        discriminator=command["command_id"],
    )


def game_played(
    event: Record,
    game: MiniGame,
    spin_id: str,
    play: int,
    sector: int,
    prize: Record | None,
    now_ms: int,
) -> Record:
    """Where a play of spin ``spin_id`` landed; ``prize``: the sector's grant, if any
    (kind, amount and the prize's reward id), whether or not a guard then held it back."""
    details = {
        "minigame": game.game_id,
        "type": game.kind,
        "sector": str(sector),
        "play": str(play),
    }
    if prize is not None:
        details.update(prize)
    won = f"{prize['prize_kind']} {prize['prize_amount']}" if prize else "nothing"
    return journal_entry(
        decision="GAME_PLAYED",
        player_id=event["player_id"],
        rule_id=game.rule.rule_id,
        rule_version=game.version,
        reason=f"{game.kind} {game.game_id}: sector {sector}, {won}",
        event_ids=[event["event_id"]],
        reward_id=spin_id,
        details=details,
        event_time=event["occurred_at"],
        now_ms=now_ms,
        discriminator=str(play),
    )


def points_expired(
    player_id: str,
    expiry: PointsExpiry,
    index: int,
    at: int,
    amount: int,
    balance: int,
    now_ms: int,
) -> Record:
    """Points earned in period ``index`` expired at ``at`` (event time, the entry's date)."""
    return journal_entry(
        decision="POINTS_EXPIRED",
        player_id=player_id,
        rule_id="points-expiry",
        rule_version=None,
        reason=f"{amount} points expired {expiry.after} {expiry.period}s after they were earned",
        event_ids=[],
        reward_id=None,
        details={
            "amount": str(amount),
            "period": expiry.period,
            "earned_in": str(index),
            "after": str(expiry.after),
            "balance": str(balance),
        },
        event_time=at,
        now_ms=now_ms,
        discriminator=f"{expiry.period}:{index}",
    )
