"""A timeline entry in words, for the support desk: what was decided and why.

The journal's ``reason`` is a code (``daily_cap``, ``no_consent``) and a suppression's
``details.explain`` the figures behind it; this module turns both into a sentence. An entry
that would tell a viewer without responsible-gaming access about a player's harm signals (a
hold for harm flags, self-exclusion or a cool-down, a cool-down itself) is worded without them:
the support desk learns that a protection applied, not which one.
"""

from __future__ import annotations

from typing import Any

from app.security.access import REDACTED_REASON

DECISIONS = {
    "REWARD_ISSUED": "Reward issued",
    "REWARD_SUPPRESSED": "Reward held back",
    "COOLDOWN_STARTED": "Cool-down started",
    "COOLDOWN_ENDED": "Cool-down ended",
    "MISSION_PROGRESS": "Mission progress",
    "MISSION_COMPLETED": "Mission completed",
    "LEVEL_UP": "Level up",
    "EVENT_REJECTED": "Event rejected",
    "PLAYER_ERASED": "Player erased",
    "CONSENT_CHANGED": "Consent changed",
    "BOOST_STARTED": "Boost started",
    "BOOST_USED": "Boost used",
    "BOOST_ENDED": "Boost ended",
    "RISK_LEVEL_CHANGED": "Risk level changed",
    "EXPOSED": "A/B test exposure",
    "OTHER": "Other",
}

#: Why a reward was held back (``app.core.protect`` and the engine's caps).
HOLDS = {
    "daily_cap": "the player reached the daily points cap",
    "no_consent": "the player has not consented to this kind of marketing",
    "jurisdiction": "the player's jurisdiction does not allow this reward",
    "self_excluded": "the player is self-excluded",
    "harm_flag": "the player's profile carries harm flags",
    "cooldown_active": "the player is in a responsible-gaming cool-down",
    "risk_medium": "the player's risk level (medium) pauses marketing rewards",
    "risk_high": "the player's risk level (high) pauses every incentive",
    "claim_expired": "the player did not claim it in time",
}
#: Holds that reveal a harm signal: worded as PROTECTED for viewers without RG access.
RG_HOLDS = frozenset(
    {"self_excluded", "harm_flag", "cooldown_active", "risk_medium", "risk_high", REDACTED_REASON}
)
PROTECTED = "a responsible-gaming protection applies (details for rg_officer and above)"

COOLDOWNS = {
    "rapid_loss_amount": "losses mounted quickly (amount lost in a short window)",
    "rapid_loss_count": "losses mounted quickly (many losing rounds in a short window)",
    "risk_high": "several harm markers together set the risk level to high",
    "loss_chasing": "stakes rose after losses (loss chasing)",
    "cooldown_over": "the cool-down's time is over",
}

REJECTIONS = {"late": "the event arrived too late to count (older than the allowed lateness)"}


def decision_words(decision: str) -> str:
    return DECISIONS.get(decision, decision.replace("_", " ").capitalize())


def hold_words(reason: str) -> str:
    """A hold's reason code in words; a per-rule cap (``rule_cap_day``) names its period."""
    if reason.startswith("rule_cap_"):
        return f"the rule's cap per {reason.removeprefix('rule_cap_')} was reached"
    return HOLDS.get(reason, reason.replace("_", " "))


def explain(entry: dict[str, Any], rg_visible: bool) -> str:
    """Why the entry's decision was taken, in a sentence; RG-revealing entries without their
    detail unless ``rg_visible``."""
    decision, reason = entry["decision"], entry.get("reason") or ""
    details = entry.get("details") or {}
    if decision == "REWARD_SUPPRESSED":
        if reason in RG_HOLDS and not rg_visible:
            return f"Held back: {PROTECTED}."
        figures = details.get("explain")
        held = f"{details.get('amount')} of {details.get('wanted')} {details.get('kind', '')}"
        text = f"Held back ({held.strip()}): {hold_words(reason)}"
        return f"{text} ({figures})." if figures else f"{text}."
    if decision in ("COOLDOWN_STARTED", "COOLDOWN_ENDED"):
        if not rg_visible:
            return f"{PROTECTED[0].upper()}{PROTECTED[1:]}."
        return f"{COOLDOWNS.get(reason, reason.replace('_', ' ')).capitalize()}."
    if decision == "EVENT_REJECTED":
        return f"Not counted: {REJECTIONS.get(reason, reason)}."
    return f"{reason[0].upper()}{reason[1:]}." if reason else ""
