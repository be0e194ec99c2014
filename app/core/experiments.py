"""A/B tests that measure: which arm a player is in when a rule fires, the holdout that gets
nothing, and the ``EXPOSED`` entry every firing of a measured rule journals, whether its arm
granted something or not, so each arm (the holdout too) has a counted denominator.

Two holdouts, each a keyed hash, independent of each other and of the variant split
(``app.core.rewards.pick_variant``), so the holdout takes the same share from every arm:

- the global one (``experiments: {holdout: 0.05}``) hashes the player alone: the same
  players are held out of every rule, a control group for the programme as a whole;
- a rule's own (``holdout: 0.1`` on the rule) hashes rule and player.

A rule is measured when it has variants or either holdout applies; the others pay nothing.
"""

from __future__ import annotations

from hashlib import blake2b

from app.core.ids import reward_id
from app.core.outputs import journal_entry
from app.core.rewards import pick_variant
from app.core.rules import Rule

Record = dict
#: the arm of a held-out player
HOLDOUT = "holdout"
#: the arm of everyone else under a rule without variants
TREATED = "treated"
#: keys the holdout hashes apart from the variant split's
_PERSON = b"pitboss-holdout"
#: the global holdout's "rule" in the hash: no rule id can be it (ids are [a-z0-9-])
_EVERY_RULE = "*"


def measured(rule: Rule, global_share: float) -> bool:
    """Whether firing ``rule`` journals an exposure (variants, or a holdout applies)."""
    return bool(rule.variants) or rule.holdout > 0 or global_share > 0


def _point(rule_key: str, player_id: str) -> float:
    """Where the player falls, uniformly in [0, 1), for this key."""
    digest = blake2b(f"{rule_key}\x1f{player_id}".encode(), digest_size=8, person=_PERSON)
    return int.from_bytes(digest.digest(), "big") / 2**64


def held_out(rule: Rule, player_id: str, global_share: float) -> bool:
    """In the global holdout or in the rule's own."""
    if global_share > 0 and _point(_EVERY_RULE, player_id) < global_share:
        return True
    return rule.holdout > 0 and _point(rule.rule_id, player_id) < rule.holdout


def arm_of(rule: Rule, player_id: str, global_share: float) -> str:
    """The player's arm of ``rule``: ``holdout``, the variant's name, or ``treated``."""
    if held_out(rule, player_id, global_share):
        return HOLDOUT
    if rule.variants:
        return pick_variant(rule.variants, rule.rule_id, player_id).name
    return TREATED


def exposure(
    rule: Rule, event: Record, arm_name: str, granted: bool, event_ids: list[str], now_ms: int
) -> Record:
    """The player met ``rule`` in ``arm_name``; ``granted``: a reward was issued. The entry
    carries the reward id the firing has (or would have had), to join it with the reward."""
    return journal_entry(
        decision="EXPOSED",
        player_id=event["player_id"],
        rule_id=rule.rule_id,
        rule_version=rule.version,
        reason=arm_name,
        event_ids=list(event_ids),
        reward_id=reward_id(rule.rule_id, rule.version, event_ids),
        details={"arm": arm_name, "granted": "true" if granted else "false"},
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )
