"""A money-like reward's lifecycle as ``pitboss fulfil`` sees it: ``PENDING`` before the
operator's API is called, then what its answer says (``CREDITED`` by default; ``CLAIMABLE``,
``CLAIMED``, ``EXPIRED`` or ``FAILED`` where the adapter's ``answer`` maps a field of it), or
``FAILED`` when it could not be delivered. Published to ``reward-lifecycle`` (keyed by player
id, kept a week like rewards), never to the journal: the journal is the decision core's and a
replay must reproduce it exactly, while a wallet's answer is not a function of the records."""

from __future__ import annotations

import hashlib

from app.delivery.config import Endpoint
from app.delivery.sender import Outcome


def lifecycle_id(reward_id: str, adapter: str, status: str) -> str:
    """Deterministic, so a step published again after a restart is recognised."""
    digest = hashlib.sha256(f"{reward_id}\x1f{adapter}\x1f{status}".encode()).hexdigest()
    return f"rl-{digest[:32]}"


def step(
    reward: dict,
    adapter: str,
    status: str,
    now_ms: int,
    outcome: Outcome | None = None,
    reason: str | None = None,
) -> dict:
    """One ``RewardLifecycle`` record of ``reward`` (``outcome``: the API's, once called)."""
    return {
        "lifecycle_id": lifecycle_id(reward["reward_id"], adapter, status),
        "reward_id": reward["reward_id"],
        "player_id": reward["player_id"],
        "kind": reward["kind"],
        "amount": reward["amount"],
        "currency": reward["currency"],
        "adapter": adapter,
        "status": status,
        "attempts": outcome.attempts if outcome else 0,
        "http_status": outcome.status if outcome else None,
        "reason": reason,
        "recorded_at": now_ms,
    }


def settled(endpoint: Endpoint, outcome: Outcome) -> tuple[str, str | None]:
    """(status, reason) after the API was called: ``FAILED`` when it was not delivered; else
    what the answer's ``answer.field`` maps to, ``CREDITED`` when the adapter maps none, and
    ``OTHER`` (with why) for a value the map does not have."""
    if not outcome.delivered:
        return "FAILED", outcome.reason
    if endpoint.answer_field is None:
        return "CREDITED", None
    answer = outcome.answer if isinstance(outcome.answer, dict) else {}
    said = answer.get(endpoint.answer_field)
    state = endpoint.answer_states.get(str(said)) if said is not None else None
    if state is None:
        return "OTHER", f"the answer's {endpoint.answer_field} is {said!r}, not in answer.states"
    if state == "failed":
        return "FAILED", f"the API answered {endpoint.answer_field}={said}"
    return state.upper(), None
