"""The operator platform's side of the simulated players: ``AccountEvent`` dicts.

A player's first session in a run sends a REGISTRATION and a KYC_STATUS_CHANGED: VERIFIED,
or PENDING for ``KYC_PENDING_SHARE`` of the players (they stay pending, so a market that
requires KYC, Italy in the shipped jurisdictions, visibly holds their rewards back). Every
session starts with a LOGIN and now and then a DEPOSIT (payment methods varied, amounts a
multiple of the player's usual stake); during play a player now and then reloads, and on
leaving rarely withdraws. Harmful personas (``studio.PERSONAS``) deposit far more often (a
chaser most after a losing round), fail more deposits and now and then cancel a withdrawal
to keep playing: what the deposit markers (deposit_frequency, deposit_failed,
withdrawal_cancelled) are there to see. The persona labels never reach the events.

Pure and seeded with random streams of its own, so a seed's table events are the same with
or without account events. Records match ``schemas/AccountEvent.avsc`` (enum symbols as
strings, timestamps as epoch ms).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.devtools.simulator import games

if TYPE_CHECKING:
    from app.devtools.simulator.studio import Player

#: Players whose KYC check is still PENDING for the whole run (the rest are VERIFIED).
KYC_PENDING_SHARE = 0.08
#: How players pay in (weights): a plausible European mix, assumed rather than measured.
PAYMENT_METHODS = (
    ("CARD", 0.55),
    ("E_WALLET", 0.22),
    ("BANK_TRANSFER", 0.10),
    ("PREPAID", 0.05),
    ("MOBILE", 0.05),
    ("CRYPTO", 0.03),
)
#: Methods a withdrawal can go back to; the others pay out by bank transfer.
PAYOUT_METHODS = frozenset({"CARD", "E_WALLET", "BANK_TRANSFER", "CRYPTO"})
#: Deposit amounts in major units: a deposit snaps to the nearest, as a cashier's buttons do.
DEPOSIT_AMOUNTS = (10, 20, 25, 50, 75, 100, 150, 200, 250, 500, 1000, 2000, 2500, 5000)
#: A play break at least this long (event time, before ``time_scale``) starts a new session.
SESSION_GAP_MS = 15 * 60_000


@dataclass(frozen=True, slots=True)
class Habits:
    """How often a kind of player deposits and withdraws: chances per session start, per
    round played (a losing round for ``reload_after_loss``), per deposit and per leave."""

    deposit_at_login: float
    reload_per_round: float
    reload_after_loss: float
    deposit_fails: float
    withdraw_on_leave: float
    withdraw_per_round: float
    #: a withdrawal request the player cancels to keep playing
    cancel_withdrawal: float


NORMAL = Habits(0.30, 0.003, 0.003, 0.03, 0.02, 0.0, 0.02)
#: Harmful personas reload every 15-25 minutes of real-pace play (deposit_frequency needs five
#: within a day), a chaser mostly right after a losing round; their deposits hit limits.
HARMFUL: dict[str | None, Habits] = {
    "chaser": Habits(1.0, 0.01, 0.06, 0.12, 0.0, 0.004, 0.8),
    "escalator": Habits(1.0, 0.04, 0.04, 0.12, 0.0, 0.004, 0.8),
    "marathon": Habits(1.0, 0.03, 0.03, 0.10, 0.0, 0.004, 0.8),
    "night_owl": Habits(1.0, 0.03, 0.03, 0.10, 0.0, 0.004, 0.8),
}


def _deposit_minor(stake_minor: int, rng: random.Random) -> int:
    """A deposit worth 10-40 of the player's stakes, snapped to a cashier amount (minor units)."""
    wanted = max(stake_minor * (10 + 30 * rng.random()) / 100, DEPOSIT_AMOUNTS[0])
    return 100 * min(DEPOSIT_AMOUNTS, key=lambda a: abs(math.log(a / wanted)))


class AccountDesk:
    """Makes the account events of the simulated players as the studio seats them.

    The studio calls ``joined``, ``played`` and ``left`` with the window the events may take
    (never earlier than the moment it calls, so a merge by time stays ordered) and queues what
    they return. Ids are ``acct-<player>-<time>-<n>``, unique across runs started at other times.
    """

    def __init__(self, seed: int, time_scale: float, personas: dict[str, str]) -> None:
        self._rng = random.Random(f"accounts:{seed}")
        self._traits = random.Random(f"account-traits:{seed}")
        self._k = 1.0 / time_scale
        self._personas = personas
        self._methods = games.weighted_picker(PAYMENT_METHODS)
        self._method: dict[str, str] = {}
        self._registered: set[str] = set()
        self._last_left: dict[str, int] = {}
        self._n = 0

    def joined(self, player: Player, device: str, window: tuple[int, int]) -> list[dict]:
        """A player takes a seat at the end of ``window``: a new session (after a break of
        ``SESSION_GAP_MS`` or the first in the run) logs in, and may deposit first."""
        start, at = window
        pid = player.player_id
        left = self._last_left.get(pid)
        if left is not None and at - left < SESSION_GAP_MS * self._k:
            return []
        out = []
        if pid not in self._registered:
            self._registered.add(pid)
            kyc = "PENDING" if self._traits.random() < KYC_PENDING_SHARE else "VERIFIED"
            out.append(self._event(pid, "REGISTRATION", start))
            out.append(self._event(pid, "KYC_STATUS_CHANGED", start, kyc_status=kyc))
        out.append(self._event(pid, "LOGIN", start + (at - start) // 3, device=device))
        if self._rng.random() < self._habits(pid).deposit_at_login:
            out += self._deposit(player, player.base_stake, start + (at - start) * 2 // 3)
        return out

    def played(self, player: Player, stake: int, net: int, at: int) -> list[dict]:
        """A round staking ``stake`` is over at ``at`` with ``net`` for the player: a reload
        now and then, and for a harmful persona now and then a withdrawal (mostly cancelled)."""
        habits = self._habits(player.player_id)
        r = self._rng.random
        chance = habits.reload_after_loss if net < 0 else habits.reload_per_round
        out = self._deposit(player, stake, at) if r() < chance else []
        if r() < habits.withdraw_per_round:
            out += self._withdrawal(player, stake, at, habits.cancel_withdrawal)
        return out

    def left(self, player: Player, at: int) -> list[dict]:
        """A player leaves a table at ``at``: now and then they withdraw, 10-60 s later (never
        in the same millisecond as a table event of theirs, so no order across the two topics
        is left to chance)."""
        self._last_left[player.player_id] = at
        habits = self._habits(player.player_id)
        if self._rng.random() < habits.withdraw_on_leave:
            later = at + max(1, int((10_000 + 50_000 * self._rng.random()) * self._k))
            return self._withdrawal(player, player.base_stake, later, habits.cancel_withdrawal)
        return []

    # the events

    def _habits(self, player_id: str) -> Habits:
        return HARMFUL.get(self._personas.get(player_id), NORMAL)

    def _deposit(self, player: Player, stake: int, at: int) -> list[dict]:
        """A deposit; a failed one is retried a few seconds later (and succeeds)."""
        rng = self._rng
        money = (_deposit_minor(stake, rng), player.currency, self._pay_with(player.player_id))
        out = []
        if rng.random() < self._habits(player.player_id).deposit_fails:
            out.append(self._money(player.player_id, "DEPOSIT", at, *money, "FAILED"))
            at += max(1, int((5_000 + 25_000 * rng.random()) * self._k))
        out.append(self._money(player.player_id, "DEPOSIT", at, *money, "COMPLETED"))
        return out

    def _withdrawal(self, player: Player, stake: int, at: int, cancel: float) -> list[dict]:
        """A withdrawal of a few deposits' worth; cancelled 1-5 minutes later with ``cancel``."""
        rng, pid = self._rng, player.player_id
        amount = _deposit_minor(stake, rng) * (1 + int(rng.random() * 3))
        method = self._pay_with(pid)
        money = (amount, player.currency, method if method in PAYOUT_METHODS else "BANK_TRANSFER")
        if rng.random() >= cancel:
            return [self._money(pid, "WITHDRAWAL", at, *money, "COMPLETED")]
        later = at + max(1, int((60_000 + 240_000 * rng.random()) * self._k))
        return [
            self._money(pid, "WITHDRAWAL", at, *money, "PENDING"),
            self._money(pid, "WITHDRAWAL_CANCELLED", later, *money, "CANCELLED"),
        ]

    def _pay_with(self, player_id: str) -> str:
        """The player's usual method four times in five, now and then another."""
        usual = self._method.get(player_id)
        if usual is None:
            usual = self._method[player_id] = games.pick(self._traits, self._methods)
        return usual if self._rng.random() < 0.8 else games.pick(self._rng, self._methods)

    def _money(
        self,
        player_id: str,
        kind: str,
        at: int,
        amount: int,
        currency: str,
        method: str,
        status: str,
    ) -> dict:
        return self._event(
            player_id, kind, at, amount_minor=amount, currency=currency, payment_method=method,
            status=status,
        )  # fmt: skip

    def _event(
        self, player_id: str, kind: str, at: int, device: str | None = None, **fields: object
    ) -> dict:
        self._n += 1
        return {
            "event_id": f"acct-{player_id}-{at}-{self._n}",
            "player_id": player_id,
            "type": kind,
            "occurred_at": at,
            "amount_minor": None,
            "currency": None,
            "payment_method": None,
            "status": None,
            "kyc_status": None,
            "attributes": {"device": device} if device else {},
            **fields,
        }
