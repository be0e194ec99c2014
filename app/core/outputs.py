"""Builders of the output records (Reward, JournalEntry), shaped exactly as the Avro schemas.

Every id here is deterministic; only ``issued_at``/``recorded_at`` carry the clock the
caller passes in, and replays compare everything but those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.ids import reward_id, stable_id
from app.core.rules import RISK_LEVELS, Rule

if TYPE_CHECKING:
    from app.core.protect import Hold, Trip
    from app.core.rewards import Grant
    from app.core.state import BoostState, CooldownState

__all__ = ["reward_id"]

Record = dict
#: cool-down reason -> the detector named on its journal entries (else the risk level)
DETECTORS = {
    "RAPID_LOSS_AMOUNT": "rapid-loss",
    "RAPID_LOSS_COUNT": "rapid-loss",
    "LOSS_CHASING": "loss-chasing",
}


def reward(rule: Rule, event: Record, grant: Grant, event_ids: list[str], now_ms: int) -> Record:
    attributes = {}
    if grant.badge:
        attributes["badge"] = grant.badge
    if grant.variant:
        attributes["variant"] = grant.variant
    return {
        "reward_id": reward_id(rule.rule_id, rule.version, event_ids),
        "player_id": event["player_id"],
        "rule_id": rule.rule_id,
        "rule_version": rule.version,
        "kind": grant.kind,
        "amount": grant.amount,
        "currency": grant.currency,
        "message": grant.message,
        "table_id": event["table_id"],
        "game": event["game"] or "OTHER",  # an account event is of no game
        "dealer_id": event.get("dealer_id"),
        "trigger_event_ids": list(event_ids),
        "event_time": event["occurred_at"],
        "issued_at": now_ms,
        "attributes": attributes,
    }


def reward_issued(rule: Rule, issued: Record, reason: str, details: dict[str, str]) -> Record:
    return journal_entry(
        decision="REWARD_ISSUED",
        player_id=issued["player_id"],
        rule_id=rule.rule_id,
        rule_version=rule.version,
        reason=reason,
        event_ids=issued["trigger_event_ids"],
        reward_id=issued["reward_id"],
        details={"kind": issued["kind"], "amount": str(issued["amount"]), **details},
        event_time=issued["event_time"],
        now_ms=issued["issued_at"],
    )


def reward_suppressed(
    rule: Rule,
    event: Record,
    grant: Grant,
    hold: Hold,
    event_ids: list[str],
    reward_id: str,
    now_ms: int,
) -> Record:
    """What a guard held back: the reward id it would have had, how much, and why."""
    return journal_entry(
        decision="REWARD_SUPPRESSED",
        player_id=event["player_id"],
        rule_id=rule.rule_id,
        rule_version=rule.version,
        reason=hold.reason,
        event_ids=list(event_ids),
        reward_id=reward_id,
        details={
            "kind": grant.kind,
            "amount": str(hold.amount),
            "wanted": str(grant.amount),
            "explain": hold.explain,
        },
        event_time=event["occurred_at"],
        now_ms=now_ms,
        discriminator=hold.reason,
    )


def cooldown_started(
    trip: Trip, cooldown_id: str, event: Record, ends_at: int, version: int, now_ms: int
) -> Record:
    details = {k: str(v) for k, v in trip.figures.items()}
    details.update(cooldown_id=cooldown_id, ends_at=str(ends_at), kind=trip.reason)
    return journal_entry(
        decision="COOLDOWN_STARTED",
        player_id=event["player_id"],
        rule_id=trip.detector,
        rule_version=version,
        reason=trip.marker,
        event_ids=[event["event_id"]],
        reward_id=None,
        details=details,
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def cooldown_ended(player_id: str, cd: CooldownState, version: int, now_ms: int) -> Record:
    detector = DETECTORS.get(cd.reason, "risk-level")
    return journal_entry(
        decision="COOLDOWN_ENDED",
        player_id=player_id,
        rule_id=detector,
        rule_version=version,
        reason="cooldown_over",
        event_ids=[],
        reward_id=None,
        details={"cooldown_id": cd.cooldown_id, "started_at": str(cd.starts_at)},
        event_time=cd.ends_at,
        now_ms=now_ms,
        discriminator=cd.cooldown_id,
    )


def risk_level_changed(
    event: Record, before: int, level: int, details: dict[str, str], version: int, now_ms: int
) -> Record:
    """A player's risk level moved (app.core.risk): from, to, the markers that set it and,
    on a rise to low or medium, the reality-check message and its figures."""
    old, new = RISK_LEVELS[before], RISK_LEVELS[level]
    return journal_entry(
        decision="RISK_LEVEL_CHANGED",
        player_id=event["player_id"],
        rule_id="risk-level",
        rule_version=version,
        reason=f"{old} -> {new}",
        event_ids=[event["event_id"]],
        reward_id=None,
        details={"from": old, "to": new, **details},
        event_time=event["occurred_at"],
        now_ms=now_ms,
        discriminator=f"{old}>{new}",
    )


def boost_started(issued: Record, boost: BoostState, details: dict[str, str]) -> Record:
    """A MULTIPLIER reward that reached the player became a running boost."""
    ends = f"until {boost.ends_at}" if boost.ends_at is not None else ""
    bets = f"for the next {boost.bets_left} bets" if boost.bets_left is not None else ""
    lasts = " or ".join(filter(None, (ends, bets)))
    return journal_entry(
        decision="BOOST_STARTED",
        player_id=issued["player_id"],
        rule_id=boost.rule_id,
        rule_version=boost.rule_version,
        reason=f"{boost.factor:g}x {', '.join(boost.kinds)} {lasts}",
        event_ids=issued["trigger_event_ids"],
        reward_id=boost.boost_id,
        details=details,
        event_time=boost.starts_at,
        now_ms=issued["issued_at"],
    )


def boost_used(issued: Record, boost: BoostState, before: int) -> Record:
    """A grant the boost multiplied: ``before`` is its amount unboosted."""
    details = {
        "boost_id": boost.boost_id,
        "factor": f"{boost.factor:g}",
        "kind": issued["kind"],
        "before": str(before),
        "after": str(issued["amount"]),
    }
    if boost.bets_left is not None:  # after this bet (the engine counts it once all rules ran)
        details["bets_left"] = str(boost.bets_left - 1)
    return journal_entry(
        decision="BOOST_USED",
        player_id=issued["player_id"],
        rule_id=boost.rule_id,
        rule_version=boost.rule_version,
        reason=f"{boost.factor:g}x on {issued['kind']} of {issued['rule_id']}",
        event_ids=issued["trigger_event_ids"],
        reward_id=issued["reward_id"],
        details=details,
        event_time=issued["event_time"],
        now_ms=issued["issued_at"],
        discriminator=boost.boost_id,
    )


def boost_ended(
    player_id: str, boost: BoostState, reason: str, event_ids: list[str], t: int, now_ms: int
) -> Record:
    """A boost is over: ``expired`` (its end in event time), ``bets_used`` or ``superseded``
    (a newer boost took its place at the limit)."""
    return journal_entry(
        decision="BOOST_ENDED",
        player_id=player_id,
        rule_id=boost.rule_id,
        rule_version=boost.rule_version,
        reason=reason,
        event_ids=event_ids,
        reward_id=boost.boost_id,
        details={"factor": f"{boost.factor:g}", "started_at": str(boost.starts_at)},
        event_time=t,
        now_ms=now_ms,
        discriminator=boost.boost_id,
    )


def mission_step(
    rule: Rule, event: Record, step: int, steps: int, period: str, now_ms: int
) -> Record:
    return journal_entry(
        decision="MISSION_PROGRESS",
        player_id=event["player_id"],
        rule_id=rule.rule_id,
        rule_version=rule.version,
        reason=f"step {step} of {steps} of {rule.rule_id} ({period})",
        event_ids=[event["event_id"]],
        reward_id=None,
        details={"step": str(step), "steps": str(steps), "period": period},
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def mission_completed(
    rule: Rule, event: Record, event_ids: list[str], period: str, now_ms: int
) -> Record:
    return journal_entry(
        decision="MISSION_COMPLETED",
        player_id=event["player_id"],
        rule_id=rule.rule_id,
        rule_version=rule.version,
        reason=f"all {len(event_ids)} steps of {rule.rule_id} done ({period})",
        event_ids=list(event_ids),
        reward_id=None,
        details={"period": period},
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def level_up(
    event: Record,
    event_ids: list[str],
    old: int,
    new: int,
    xp: int,
    levels_version: int,
    now_ms: int,
) -> Record:
    return journal_entry(
        decision="LEVEL_UP",
        player_id=event["player_id"],
        rule_id="levels",
        rule_version=levels_version,
        reason=f"{xp} XP reaches level {new}",
        event_ids=list(event_ids),
        reward_id=None,
        details={"from": str(old), "to": str(new), "xp": str(xp)},
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def player_erased(player_id: str, requested_by: str, now_ms: int) -> Record:
    """The journal's marker that a player was erased: archives delete their history by it;
    ``requested_by`` is the authenticated subject who asked (empty: not known)."""
    return journal_entry(
        decision="PLAYER_ERASED",
        player_id=player_id,
        rule_id=None,
        rule_version=None,
        reason="erasure requested (pitboss forget)",
        event_ids=[],
        reward_id=None,
        details={"requested_by": requested_by} if requested_by else {},
        event_time=now_ms,
        now_ms=now_ms,
        discriminator=str(now_ms),
    )


def consent_changed(
    player_id: str,
    product: str,
    channel: str,
    before: bool | None,
    after: bool | None,
    source: str,
    changed_at: int,
    now_ms: int,
) -> Record:
    """The journal's dated record of a consent change, from a profile update: the history
    a regulator asks for, where the profile holds only the latest. ``None``: no consent."""
    words = {True: "granted", False: "withdrawn", None: "none"}
    return journal_entry(
        decision="CONSENT_CHANGED",
        player_id=player_id,
        rule_id=None,
        rule_version=None,
        reason=f"consent for {product} by {channel}: {words[before]} -> {words[after]}",
        event_ids=[],
        reward_id=None,
        details={
            "product": product,
            "channel": channel,
            "from": words[before],
            "to": words[after],
            "source": source,
        },
        event_time=changed_at,
        now_ms=now_ms,
        discriminator=f"{product}\x1f{channel}\x1f{changed_at}\x1f{words[after]}",
    )


def erased_event_refused(event: Record, marker: str, now_ms: int) -> Record:
    """The journal's record of an event for an erased player: refused, and named by the
    marker (the id's keyed hash), never the id."""
    return journal_entry(
        decision="EVENT_REJECTED",
        player_id=None,
        rule_id=None,
        rule_version=None,
        reason="the player was erased (pitboss forget)",
        event_ids=[event["event_id"]],
        reward_id=None,
        details={"event_type": event["event_type"], "player": marker},
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def event_late(event: Record, late_by_ms: int, lateness_ms: int, now_ms: int) -> Record:
    """The journal's record of an event that came too late to be decided."""
    return journal_entry(
        decision="EVENT_REJECTED",
        player_id=event["player_id"],
        rule_id=None,
        rule_version=None,
        reason="late",
        event_ids=[event["event_id"]],
        reward_id=None,
        details={
            "event_type": event["event_type"],
            "late_by_ms": str(late_by_ms),
            "lateness_ms": str(lateness_ms),
        },
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def event_rejected(event: Record, reason: str, now_ms: int) -> Record:
    """The journal's record of a decoded event that failed validation."""
    event_id = event.get("event_id") or ""
    return journal_entry(
        decision="EVENT_REJECTED",
        player_id=event.get("player_id"),
        rule_id=None,
        rule_version=None,
        reason=reason,
        event_ids=[event_id] if event_id else [],
        reward_id=None,
        details={"event_type": str(event.get("event_type"))},
        event_time=event.get("occurred_at") or 0,
        now_ms=now_ms,
    )


def journal_entry(
    *,
    decision: str,
    player_id: str | None,
    rule_id: str | None,
    rule_version: int | None,
    reason: str | None,
    event_ids: list[str],
    reward_id: str | None,
    details: dict[str, str],
    event_time: int,
    now_ms: int,
    discriminator: str = "",
) -> Record:
    """``discriminator`` tells apart entries that share everything else (two holds on one
    reward, the ends of two cool-downs)."""
    return {
        "entry_id": stable_id(
            "je",
            decision,
            player_id,
            rule_id,
            rule_version,
            reward_id,
            discriminator,
            event_ids=event_ids,
        ),
        "player_id": player_id,
        "decision": decision,
        "rule_id": rule_id,
        "rule_version": rule_version,
        "reason": reason,
        "event_ids": event_ids,
        "reward_id": reward_id,
        "details": details,
        "event_time": event_time,
        "recorded_at": now_ms,
    }


def interaction_recorded(event: Record, details: dict[str, str], now_ms: int) -> Record:
    """What a player did with a reward or message (``app.core.interactions``): under the
    rule and reward it is about, so click-through counts per rule and variant."""
    interaction = event["interaction"]
    return journal_entry(
        decision="INTERACTION_RECORDED",
        player_id=event["player_id"],
        rule_id=interaction.get("rule_id"),
        rule_version=None,
        reason=interaction.get("action"),
        event_ids=[event["event_id"]],
        reward_id=interaction.get("reward_id"),
        details=details,
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def account_event(event: Record, reason: str, details: dict[str, str], now_ms: int) -> Record:
    """An account event that changed what the guards decide (a KYC status)."""
    return journal_entry(
        decision="ACCOUNT_EVENT",
        player_id=event["player_id"],
        rule_id=None,
        rule_version=None,
        reason=reason,
        event_ids=[event["event_id"]],
        reward_id=None,
        details={"event_type": event["event_type"], **details},
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )


def deposit_flagged(event: Record, reason: str, details: dict[str, str], now_ms: int) -> Record:
    """A deposit pattern a market flags for its AML team, with the thresholds and figures."""
    return journal_entry(
        decision="DEPOSIT_FLAGGED",
        player_id=event["player_id"],
        rule_id=None,
        rule_version=None,
        reason=reason,
        event_ids=[event["event_id"]],
        reward_id=None,
        details=details,
        event_time=event["occurred_at"],
        now_ms=now_ms,
    )
