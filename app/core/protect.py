"""Responsible gaming in the core: detectors that start cool-downs, and the guards every
grant passes before it reaches a player. Everything held back is journaled with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core.rules import Jurisdictions, Protection, Rule
from app.core.state import PlayerState
from app.core.windows import first_run_reaching

MINUTE = 60_000


@dataclass(frozen=True, slots=True)
class Trip:
    """A detector that tripped: why, with the figures, in CoolDown's terms."""

    detector: str
    reason: str
    figures: dict[str, int]


@dataclass(frozen=True, slots=True)
class Hold:
    """Part (or all) of a grant held back, and why (a reason code the journal carries)."""

    reason: str
    amount: int
    explain: str


def observe_settlement(state: PlayerState, event: Mapping, protection: Protection) -> Trip | None:
    """Feed a settled bet to the detectors; a Trip if one of them says "take a break"."""
    bet, settlement = event["bet"], event["settlement"]
    t, stake = event["occurred_at"], bet["stake_minor"]
    outcome = settlement["outcome"]
    net = stake - settlement["payout_minor"]  # positive: money lost on this bet
    chasing = _loss_chasing(state, outcome, stake, protection)
    buckets = _add_to_minute(state, t, net, int(outcome == "LOSS"), protection)
    if state.cooldown is not None and state.cooldown.starts_at <= t < state.cooldown.ends_at:
        return None  # already cooling down
    # Whole-minute buckets keep the state small; a window reaches up to a minute further
    # back than its length, erring on the side of the player.
    minute = t // MINUTE
    amounts = [(b[0] * MINUTE, b[1]) for b in buckets]
    run = first_run_reaching(
        amounts,
        minute * MINUTE,
        protection.net_loss_within_ms + MINUTE,
        sum_at_least=protection.net_loss_minor,
    )
    if run is not None:
        state.settlements = []
        return Trip(
            "rapid-loss",
            "RAPID_LOSS_AMOUNT",
            {
                "net_loss_minor": sum(b[1] for b in run),
                "window_seconds": protection.net_loss_within_ms // 1000,
            },
        )
    losses = [(b[0] * MINUTE, b[2]) for b in buckets if b[2]]
    run = first_run_reaching(
        losses,
        minute * MINUTE,
        protection.losses_within_ms + MINUTE,
        sum_at_least=protection.losses,
    )
    if outcome == "LOSS" and run is not None:
        state.settlements = []
        return Trip(
            "rapid-loss",
            "RAPID_LOSS_COUNT",
            {
                "losses": sum(b[1] for b in run),
                "window_seconds": protection.losses_within_ms // 1000,
            },
        )
    return chasing


def _add_to_minute(
    state: PlayerState, t: int, net: int, lost: int, protection: Protection
) -> list[list[int]]:
    """Add a settlement to its minute's ``[minute number, net loss, losses]``; drop old ones."""
    minute = t // MINUTE
    buckets = state.settlements
    for bucket in buckets:
        if bucket[0] == minute:
            bucket[1] += net
            bucket[2] += lost
            break
    else:
        buckets.append([minute, net, lost])
        buckets.sort(key=lambda b: b[0])
    keep = (max(protection.net_loss_within_ms, protection.losses_within_ms) + MINUTE) // MINUTE
    newest = buckets[-1][0]
    buckets[:] = [b for b in buckets if b[0] > newest - keep]
    return buckets


def _loss_chasing(state: PlayerState, outcome: str, stake: int, p: Protection) -> Trip | None:
    """Stakes rising after consecutive losses: a losing stake of at least ``factor`` times
    the first stake of a run of at least ``chase_losses`` losses. A win ends the run."""
    if outcome == "WIN":
        state.chase = []
        return None
    if outcome != "LOSS":
        return None  # a push neither extends nor ends the run
    if not state.chase:
        state.chase = [1, stake]
        return None
    losses, first = state.chase
    state.chase = [losses + 1, first]
    if losses >= p.chase_losses and stake >= first * p.chase_stake_factor:
        state.chase = []
        return Trip(
            "loss-chasing",
            "LOSS_CHASING",
            {"losses_before": losses, "first_stake_minor": first, "stake_minor": stake},
        )
    return None


def has_consent(profile: Mapping, product: str, channel: str) -> bool:
    return any(
        c["granted"] and c["product"] == product and c["channel"] == channel
        for c in profile.get("consents") or ()
    )


def blocking_hold(
    rule: Rule,
    kind: str,
    amount: int,
    product: str,
    channel: str,
    state: PlayerState,
    profile: Mapping,
    t: int,
    protection: Protection,
    jurisdictions: Jurisdictions | None,
    game: str,
) -> Hold | None:
    """A reason that holds back the whole grant, checked in order of precedence."""
    if profile.get("self_excluded"):
        return Hold("self_excluded", amount, "the player is self-excluded")
    flags = profile.get("harm_flags") or ()
    if flags:
        return Hold("harm_flag", amount, f"harm flags on the profile: {', '.join(flags)}")
    cd = state.cooldown
    if cd is not None and cd.starts_at <= t < cd.ends_at:
        return Hold("cooldown_active", amount, f"cooling down until {cd.ends_at} ({cd.reason})")
    if jurisdictions is not None:
        country = profile.get("country") or "the default policy"
        rules = jurisdictions.for_country(profile.get("country"))
        if kind not in rules.allowed_kinds:
            return Hold("jurisdiction", amount, f"{kind} is not allowed for players in {country}")
        played = jurisdictions.product_of(game)
        if not rules.cross_product and product != played:
            return Hold(
                "jurisdiction",
                amount,
                f"a {product} incentive for {played} play is not allowed for players in {country}",
            )
    if kind in protection.marketing_kinds and not has_consent(profile, product, channel):
        return Hold("no_consent", amount, f"no marketing consent for {product} by {channel}")
    return None
