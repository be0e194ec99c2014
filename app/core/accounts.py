"""Account events in the core: deposits, withdrawals, logins, registrations and KYC changes
from the operator's platform (normalized by ``app.pipeline.inputs``, an ``account`` part).

What they change is kept compact in the player's state: the KYC status, the last completed
deposit (what the profile's ``last_deposit`` shows rules from then on), and the recent
deposits the checks count. From them come the responsible-gaming deposit markers (frequent
deposits, failed deposits, cancelled withdrawals: the UKGC's "patterns of spend" and
"account indicators"), a market's KYC requirement on rewards, and the deposit patterns a
market flags for its AML team. Deposits are not fed to the loss detectors: a round's net
result is the direct measure of loss, and a deposit says how play is financed, so it gets
markers of its own that accumulate with the loss markers into the risk level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.core import risk
from app.core.events import KYC_CHANGE
from app.core.money import Currencies
from app.core.protect import Hold
from app.core.rules import CountryRules, DepositFlags, Protection
from app.core.state import PlayerState

VERIFIED = "VERIFIED"
#: The most recent deposits a state keeps, and for how long after the newest: every count
#: threshold (ruleset, policy) is at most ``DEPOSITS_KEPT`` and every window at most this.
DEPOSITS_KEPT = 32
DEPOSITS_KEPT_MS = 7 * 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Observed:
    """What an account event changed: a completed deposit (house minor units), and the KYC
    status it replaced when it changed it."""

    deposit: int | None = None
    kyc_changed: bool = False
    kyc_before: str | None = None


def observe(
    state: PlayerState, event: Mapping, protection: Protection, currencies: Currencies
) -> Observed:
    """Apply an account event to the state; set the deposit markers it shows."""
    kind, account, t = event["event_type"], event["account"], event["occurred_at"]
    status = account.get("status")
    kyc = account.get("kyc_status")
    deposit = None
    if kind == "DEPOSIT" and status == "COMPLETED":
        deposit = _deposit(state, account, t, currencies)
        if (
            _within(state.deposits, t, protection.deposits_within_ms)
            >= protection.deposits_frequent
        ):
            risk.mark(state, "deposit_frequency", t)
    elif kind == "DEPOSIT" and status == "FAILED":
        risk.mark(state, "deposit_failed", t)
    elif kind == "WITHDRAWAL_CANCELLED" or (kind == "WITHDRAWAL" and status == "CANCELLED"):
        risk.mark(state, "withdrawal_cancelled", t)
    if kyc is not None and kind in (KYC_CHANGE, "REGISTRATION") and kyc != state.kyc:
        before, state.kyc = state.kyc, kyc
        return Observed(deposit, True, before)
    return Observed(deposit)


def _deposit(state: PlayerState, account: Mapping, t: int, currencies: Currencies) -> int:
    """Keep a completed deposit: as the last one (if it is the newest) and in the recent ones."""
    amount = currencies.to_house(account["amount_minor"], account["currency"])
    currency = currencies.house or account["currency"]
    if not state.last_deposit or t >= state.last_deposit[0]:
        state.last_deposit = [t, amount, currency]
    deposits = state.deposits
    deposits.append([t, amount])
    deposits.sort(key=lambda d: d[0])
    newest = deposits[-1][0]
    deposits[:] = [d for d in deposits if d[0] > newest - DEPOSITS_KEPT_MS][-DEPOSITS_KEPT:]
    return amount


def _within(deposits: list[list[int]], t: int, within_ms: int) -> int:
    """How many kept deposits fall in the ``within_ms`` up to and including ``t``."""
    return sum(1 for at, _amount in deposits if t - within_ms < at <= t)


def flagged(
    state: PlayerState, flags: DepositFlags | None, amount: int, t: int
) -> tuple[str, dict[str, str]] | None:
    """Why a deposit is reported, with the thresholds and figures (None: not reported): at
    or over the amount threshold, or the count reached within the window (or both)."""
    if flags is None:
        return None
    reasons, figures = [], {"amount_minor": str(amount)}
    if flags.amount_minor is not None and amount >= flags.amount_minor:
        reasons.append("amount_over")
        figures["amount_threshold_minor"] = str(flags.amount_minor)
    if flags.count is not None:
        count = _within(state.deposits, t, flags.within_ms)
        if count >= flags.count:
            reasons.append("frequent")
            figures.update(
                deposits=str(count),
                count_threshold=str(flags.count),
                window_seconds=str(flags.within_ms // 1000),
            )
    return (",".join(reasons), figures) if reasons else None


def kyc_hold(rules: CountryRules, state: PlayerState, amount: int, country: str) -> Hold | None:
    """The whole grant held back where the market requires KYC and it is not verified."""
    if not rules.kyc_required or state.kyc == VERIFIED:
        return None
    status = state.kyc or "none received"
    return Hold("kyc_unverified", amount, f"{country} requires verified KYC; status: {status}")


def profile_view(profile: Mapping, state: PlayerState) -> Mapping:
    """The profile as rules see it: ``last_deposit`` follows the account events where they
    know a later deposit than the profile does."""
    if not state.last_deposit:
        return profile
    at, amount, currency = state.last_deposit
    known = profile.get("last_deposit")
    if known is not None and known["at"] >= at:
        return profile
    return {**profile, "last_deposit": {"amount_minor": amount, "currency": currency, "at": at}}
