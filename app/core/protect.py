"""Responsible gaming in the core: the loss detectors (per round) that start cool-downs, and
the guards every grant passes before it reaches a player. Everything held back is journaled
with its reason. The other markers and the risk level are in ``app.core.risk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core.risk import typical_stake
from app.core.rounds import Round
from app.core.rules import RISK_LEVELS, Jurisdictions, Protection, Rule
from app.core.state import PlayerState
from app.core.windows import first_run_reaching

MINUTE = 60_000
MEDIUM = RISK_LEVELS.index("medium")


@dataclass(frozen=True, slots=True)
class Trip:
    """A detector that tripped: why, with the figures, in CoolDown's terms; ``marker`` is
    the risk marker it sets (and the journal's reason)."""

    detector: str
    reason: str
    figures: dict[str, int]

    @property
    def marker(self) -> str:
        return "risk_high" if self.detector == "risk-level" else self.reason.lower()


@dataclass(frozen=True, slots=True)
class Hold:
    """Part (or all) of a grant held back, and why (a reason code the journal carries)."""

    reason: str
    amount: int
    explain: str


def detect_losses(state: PlayerState, played: Round, t: int, protection: Protection) -> Trip | None:
    """Feed a closed round to the loss detectors; a Trip if one of them says "take a break".

    ``played`` is in house minor units (``app.core.rounds``), so the thresholds mean the same
    in every currency; ``t`` is the event that closed it."""
    lost = played.net > 0
    chasing = _loss_chasing(state, played, protection)
    buckets = _add_to_minute(state, played, int(lost), protection)
    if state.cooldown is not None and state.cooldown.starts_at <= t < state.cooldown.ends_at:
        return None  # already cooling down
    # Whole-minute buckets keep the state small; a window reaches up to a minute further
    # back than its length, erring on the side of the player.
    minute = played.at // MINUTE
    amounts = [(b[0] * MINUTE, b[1]) for b in buckets]
    # A loss means more from a small staker than from a high roller: once the session shows
    # the player's usual round stake, the threshold is at least that many of them.
    threshold = protection.net_loss_minor
    usual = typical_stake(state, protection)
    if usual is not None:
        threshold = max(threshold, usual * protection.net_loss_stakes)
    run = first_run_reaching(
        amounts, minute * MINUTE, protection.net_loss_within_ms + MINUTE, sum_at_least=threshold
    )
    if run is not None:
        state.loss_minutes = []
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
    if lost and run is not None:
        state.loss_minutes = []
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
    state: PlayerState, played: Round, lost: int, protection: Protection
) -> list[list[int]]:
    """Add a round to its minute's ``[minute number, net loss, losing rounds]``; drop old ones."""
    minute = played.at // MINUTE
    buckets = state.loss_minutes
    for bucket in reversed(buckets):  # one per minute, oldest first: rounds mostly end last
        if bucket[0] == minute:
            bucket[1] += played.net
            bucket[2] += lost
            break
    else:
        buckets.append([minute, played.net, lost])
        if len(buckets) > 1 and buckets[-2][0] > minute:  # a late round: back in order
            buckets.sort(key=lambda b: b[0])
    keep = (max(protection.net_loss_within_ms, protection.losses_within_ms) + MINUTE) // MINUTE
    oldest_kept = buckets[-1][0] - keep
    gone = 0
    while buckets[gone][0] <= oldest_kept:  # the newest is always kept
        gone += 1
    del buckets[:gone]
    return buckets


def _loss_chasing(state: PlayerState, played: Round, p: Protection) -> Trip | None:
    """Raising the stake round after losing round: a run of losing rounds, each staking more
    than the one before, tripping when, after ``chase_losses`` of them, a losing round stakes
    at least ``chase_stake_factor`` times the run's first. Like is compared with like: a
    round's whole stake. A winning round ends the run, a stake no higher than the last starts
    a new run from that round, a round that breaks even leaves it."""
    if played.net < 0:
        state.chase = []
        return None
    if played.net == 0:
        return None
    stake = played.stake
    if not state.chase or stake <= state.chase[-1]:
        state.chase = [1, stake, stake]
        return None
    losses, first = state.chase[0], state.chase[1]
    state.chase = [losses + 1, first, stake]
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
    if kind in protection.marketing_kinds and state.risk >= MEDIUM:
        level = RISK_LEVELS[state.risk]
        return Hold(f"risk_{level}", amount, f"marketing is paused at risk level {level}")
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
