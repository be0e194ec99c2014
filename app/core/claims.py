"""Rewards the player must claim: a grant whose spec says ``claim: {within: …}`` is decided
(guards, boosts, caps) when it fires but held in the player's state until a CLAIM command
applies its value, or until its deadline passes and it expires unclaimed.

The pending Reward record is kept whole, so the claim publishes exactly what was decided
(downstream fulfilment sees it then); the state keeps at most ``CLAIMS_MAX`` of them (the
oldest expires early beyond it) and remembers as many settled ids, so a late or second
CLAIM is refused with the right reason.
"""

from __future__ import annotations

from app.core.outputs import journal_entry
from app.core.state import CLAIMS_MAX, PlayerState

Record = dict
CLAIMED, EXPIRED = "claimed", "expired"
#: Reasons a CLAIM is refused (the journal's COMMAND_REFUSED reason).
UNKNOWN_REWARD = "unknown_reward"
ALREADY_CLAIMED = "already_claimed"
CLAIM_EXPIRED = "claim_expired"


def hold(state: PlayerState, reward: Record, claim_by: int) -> Record | None:
    """Keep ``reward`` pending until ``claim_by``; the pending reward it pushed out (the
    oldest, beyond ``CLAIMS_MAX``), if any."""
    state.claims.append([claim_by, reward])
    if len(state.claims) <= CLAIMS_MAX:
        return None
    oldest = state.claims[0]
    settle(state, oldest, EXPIRED)
    return oldest[1]


def find(state: PlayerState, reward_id: str) -> list | None:
    """The pending ``[claim by, reward]`` of ``reward_id``."""
    return next((c for c in state.claims if c[1]["reward_id"] == reward_id), None)


def settle(state: PlayerState, pending: list, how: str) -> None:
    """Take a pending reward out, remembering how it ended (claimed or expired)."""
    state.claims.remove(pending)
    state.settled.append([pending[1]["reward_id"], how])
    del state.settled[:-CLAIMS_MAX]


def refusal(state: PlayerState, reward_id: str) -> tuple[str, str]:
    """Why a CLAIM of ``reward_id`` that is not pending is refused (reason, in words)."""
    how = next((h for r, h in state.settled if r == reward_id), None)
    if how == CLAIMED:
        return ALREADY_CLAIMED, f"{reward_id} was claimed already"
    if how == EXPIRED:
        return CLAIM_EXPIRED, f"{reward_id} expired unclaimed"
    return UNKNOWN_REWARD, f"no reward {reward_id!r} waits for a claim"


def due(state: PlayerState, t: int) -> list[list]:
    """The pending rewards whose deadline event time ``t`` has reached, oldest first."""
    return sorted((c for c in state.claims if c[0] <= t), key=lambda c: c[0])


def expired(reward: Record, at: int, now_ms: int) -> Record:
    """An unclaimed reward gone (REWARD_SUPPRESSED ``claim_expired``), dated ``at``: its
    deadline, or when a newer pending reward pushed it out."""
    return journal_entry(
        decision="REWARD_SUPPRESSED",
        player_id=reward["player_id"],
        rule_id=reward["rule_id"],
        rule_version=reward["rule_version"],
        reason=CLAIM_EXPIRED,
        event_ids=reward["trigger_event_ids"],
        reward_id=reward["reward_id"],
        details={
            "kind": reward["kind"],
            "amount": str(reward["amount"]),
            "wanted": str(reward["amount"]),
            "explain": "not claimed in time",
        },
        event_time=at,
        now_ms=now_ms,
        discriminator=CLAIM_EXPIRED,
    )


def view(state: PlayerState) -> list[dict[str, object]]:
    """What a player sees of their pending rewards (the gateway's view)."""
    return [
        {
            "reward_id": r["reward_id"],
            "kind": r["kind"],
            "amount": r["amount"],
            "message": r["message"],
            "claim_by": claim_by,
        }
        for claim_by, r in state.claims
    ]
