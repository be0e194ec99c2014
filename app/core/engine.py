"""The decision core: (player state, events, profile, rules, clock) -> (state, decisions).

Plain deterministic Python. The worker calls it once per player per micro-batch; the
replay and the tests call the very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from app.core import (
    accounts,
    boosts,
    claims,
    games,
    interactions,
    missions,
    outputs,
    risk,
    spending,
    store,
    tournaments,
    wallet,
)
from app.core.cel import activation as bind
from app.core.days import period_key, zone
from app.core.events import ACCOUNT_TYPES, COMMAND, INTERACTION
from app.core.experiments import HOLDOUT, arm_of, exposure, measured
from app.core.ids import event_fingerprint, stable_id
from app.core.languages import in_language
from app.core.money import Currencies, money_view
from app.core.protect import Hold, Trip, blocking_hold, detect_losses
from app.core.rewards import QUANTITY_KINDS, Grant, grant_for, with_amount
from app.core.rounds import observe_round
from app.core.rules import BoostSpec, Jurisdictions, MiniGame, Rule, Ruleset, StoreItem, level_for
from app.core.state import (
    BOOSTS_MAX,
    COMPLETED,
    WINDOW_MAX,
    BoostState,
    CooldownState,
    PlayerState,
    StreakState,
)
from app.core.windows import first_run_reaching
from app.leaderboards.board import board_key

Record = dict

#: What a rule sees of a player with no profile yet: they still play, by defaults.
DEFAULT_PROFILE: Record = {
    "player_id": None,
    "vip_tier": "NONE",
    "country": None,
    "time_zone": None,
    "segments": [],
    "consents": [],
    "self_excluded": False,
    "harm_flags": [],
    "last_deposit": None,
    "updated_at": 0,
    "language": None,
}


@dataclass(slots=True)
class Decisions:
    """What a batch decided, in the order it was decided, ready to publish."""

    rewards: list[Record] = field(default_factory=list)
    journal: list[Record] = field(default_factory=list)
    cooldowns: list[Record] = field(default_factory=list)
    #: leaderboard updates: (board key, player id, new total, event time, top n)
    scores: list[tuple[str, str, int, int, int]] = field(default_factory=list)
    #: cool-downs started (player id -> ends at) or ended (player id -> None)
    cooldown_index: dict[str, int | None] = field(default_factory=dict)
    events: int = 0
    duplicates: int = 0
    #: events older than the player's newest by more than the ruleset's lateness
    late: int = 0


def group_by_player(events: Iterable[Record]) -> dict[str, list[Record]]:
    """Player events by player id, each player's list in arrival order."""
    groups: dict[str, list[Record]] = {}
    for event in events:
        groups.setdefault(event["player_id"], []).append(event)
    return groups


@dataclass(slots=True)
class _Context:
    """One event being decided for one player: what every rule step needs."""

    state: PlayerState
    event: Record
    profile: Record
    tz: ZoneInfo
    now_ms: int
    out: Decisions
    currencies: Currencies
    #: the partition's store stock (``app.core.store``): what a purchase counts against
    stock: store.Stock
    _activation: object | None = None
    #: boosts this event started (they apply from the next event on) and used (tuples:
    #: most events start and use none, and nothing is allocated for them)
    started: tuple[str, ...] = ()
    used: tuple[BoostState, ...] = ()
    #: period kind -> this event's key of it: each rule step asks, the answer never changes
    _periods: dict[str, str] = field(default_factory=dict)

    @property
    def activation(self) -> object:
        """The variables expressions see, built once per event and only if needed."""
        if self._activation is None:
            profile = accounts.profile_view(self.profile, self.state)
            self._activation = bind(
                {
                    "event": self.event,
                    "profile": profile,
                    "state": {
                        "xp": self.state.xp,
                        "points": self.state.points,
                        "level": self.state.level,
                        "kyc": self.state.kyc or "",
                        "balance": self.state.balance,
                        "badges": self.state.badges,
                        "missions": missions.view(self.state),
                    },
                    "money": money_view(self.event, profile, self.currencies),
                }
            )
        return self._activation

    def period(self, period: str) -> str:
        key = self._periods.get(period)
        if key is None:
            key = self._periods[period] = period_key(period, self.event["occurred_at"], self.tz)
        return key


class Engine:
    """Applies a ruleset to a player's events; holds nothing that varies per player."""

    def __init__(
        self,
        ruleset: Ruleset,
        operator_timezone: str = "UTC",
        jurisdictions: Jurisdictions | None = None,
        game_salt: bytes = b"",
    ) -> None:
        """``jurisdictions``: the per-country policies (None: every kind everywhere);
        ``game_salt``: the operator's secret that mini-game outcomes derive from
        (``app.core.games``; the adapters read it from ``PITBOSS_GAME_SALT``)."""
        tz = zone(operator_timezone)
        if tz is None:
            raise ValueError(f"unknown operator time zone {operator_timezone!r}")
        self.ruleset = ruleset
        self.operator_tz: ZoneInfo = tz
        self.jurisdictions = jurisdictions
        self.game_salt = game_salt
        #: the mini-game a WHEEL_SPIN naming none plays: the ruleset's first wheel
        self.default_wheel = next(
            (g.game_id for g in ruleset.minigames.values() if g.kind == "wheel"), None
        )
        #: the mission rules by id (what an OPT_IN names, what a mission's state key is of)
        self.missions = {r.rule_id: r for r in ruleset.rules if r.mission is not None}
        #: the rules whose reward waits for a CLAIM, by id (what a claim re-checks the guards of)
        self.claimable = {r.rule_id: r for r in _granting(ruleset) if _claimed(r)}

    def player_zone(self, profile: Record | None) -> ZoneInfo:
        """The player's zone from the profile, else the operator's."""
        if profile is not None:
            tz = zone(profile.get("time_zone"))
            if tz is not None:
                return tz
        return self.operator_tz

    def decide(
        self,
        state: PlayerState,
        events: list[Record],
        profile: Record | None,
        now_ms: int,
        out: Decisions,
        partition_times: Sequence[int] | None = None,
        stock: store.Stock | None = None,
    ) -> PlayerState:
        """Apply one player's events in order, mutating and returning ``state``.

        ``partition_times``: for each event, its partition's event time before its record
        (``app.pipeline.batch``); a cool-down ends once that or the event's own time has
        passed it, so where the record sequence was cut into batches does not matter.
        ``stock``: the partition's store stock (``app.pipeline.batch`` keeps it; None: a
        fresh count, for a caller deciding one partition's records in one call).
        """
        stock = store.Stock() if stock is None else stock
        tz = self.player_zone(profile)
        seen = profile if profile is not None else DEFAULT_PROFILE
        candidates = self.ruleset.candidates
        first_entry = len(out.journal)
        lateness = self.ruleset.lateness_ms
        player_id = events[0]["player_id"] if events else None
        # In record order, never re-sorted: the order a batch happens to group a player's
        # events in must not change what they decide (docs/architecture.md).
        timed = zip(events, partition_times or [0] * len(events), strict=True)
        for event, partition_time in timed:
            passed = max(event["occurred_at"], partition_time)
            self.end_cooldown_if_over(player_id, state, passed, now_ms, out)
            if state.boosts:
                self._end_boosts_over(player_id, state, passed, now_ms, out)
            if state.expiring:
                self._expire_points(player_id, state, passed, now_ms, out)
            if state.missions:
                self._end_missions_over(player_id, state, passed, now_ms, out)
            if state.claims:
                self._expire_claims(state, passed, now_ms, out)
            out.events += 1
            if not state.remember(event_fingerprint(event["event_id"])):
                out.duplicates += 1
                continue
            occurred_at = event["occurred_at"]
            if occurred_at < state.last_event_at - lateness and event["event_type"] not in ON_TIME:
                out.late += 1
                late_by = state.last_event_at - occurred_at
                out.journal.append(outputs.event_late(event, late_by, lateness, now_ms))
                continue
            ctx = _Context(state, event, seen, tz, now_ms, out, self.ruleset.currencies, stock)
            handle = HANDLERS.get(event["event_type"])
            if handle is not None and not handle(self, ctx):
                continue  # decided whole by its handler: it moves no lateness horizon
            if occurred_at > state.last_event_at:
                state.last_event_at = occurred_at
            self._protect(ctx)
            earned = len(out.rewards)
            for rule in candidates(event["event_type"], event["game"]):
                self._apply(rule, ctx)
            if self.ruleset.tournaments:
                self._tournaments(ctx, out.rewards[earned:])
            if ctx.used:
                self._count_boosted_bet(ctx)
        self.stamp(out.journal[first_entry:])
        return state

    def stamp(self, entries: list[Record]) -> None:
        """Name the ruleset revision in force on each entry, so an audit replays under it."""
        revision = str(self.ruleset.revision)
        for entry in entries:
            entry["details"]["revision"] = revision

    # -- responsible gaming ----------------------------------------------------------------

    def _protect(self, ctx: _Context) -> None:
        """Feed the event to the round accounting, the detectors and the risk markers;
        journal a change of risk level, and start a cool-down at high."""
        state, event = ctx.state, ctx.event
        protection, currencies = self.ruleset.protection, self.ruleset.currencies
        t = event["occurred_at"]
        if event["event_type"] in risk.PLAY and event.get("bet"):
            risk.observe_play(state, event, protection, ctx.tz)
        trips = []
        for played in observe_round(state, event, currencies):
            risk.observe_closed(state, played, protection)
            trip = detect_losses(state, played, t, protection)
            if trip is not None:
                risk.mark(state, trip.marker, t)
                trips.append(trip)
        if not trips and not state.markers and not state.risk:
            return  # the common case: nothing to weigh
        level, markers = risk.level_now(state, t, protection)
        before = state.risk
        if level != before:
            self._risk_changed(ctx, before, level, markers)
        levels = protection.marker_levels
        cause = next((trip for trip in trips if levels[trip.marker] >= risk.HIGH), None)
        if cause is None and level >= risk.HIGH > before:
            cause = Trip("risk-level", "OTHER", {"level": level, "markers": len(markers)})
        cd = state.cooldown
        if cause is not None and (cd is None or not cd.starts_at <= t < cd.ends_at):
            self._start_cooldown(ctx, cause, markers)

    def _risk_changed(self, ctx: _Context, before: int, level: int, markers: list[str]) -> None:
        """Journal the new level with the markers that set it; a rise to low or medium
        carries the reality-check message (rewards flow at low; marketing pauses at medium)."""
        ctx.state.risk = level
        protection = self.ruleset.protection
        details = {"markers": ",".join(markers)}
        if before < level < risk.HIGH:
            details.update(risk.reality_check(ctx.state, level, protection, ctx.currencies))
        ctx.out.journal.append(
            outputs.risk_level_changed(
                ctx.event, before, level, details, protection.version, ctx.now_ms
            )
        )
        ctx._activation = None

    def _start_cooldown(self, ctx: _Context, trip: Trip, markers: list[str]) -> None:
        """Pause every incentive; the entry names the markers that set the level (high), which
        the RG team's alert carries (``app.pipeline.rg_alerts``)."""
        protection = self.ruleset.protection
        event = ctx.event
        player_id, t = event["player_id"], event["occurred_at"]
        cooldown_id = stable_id("cd", player_id, trip.reason, event_ids=[event["event_id"]])
        ends_at = t + protection.cooldown_ms
        ctx.state.cooldown = CooldownState(cooldown_id, t, ends_at, trip.reason)
        minutes = protection.cooldown_ms // 60_000
        ctx.out.cooldowns.append(
            {
                "cooldown_id": cooldown_id,
                "player_id": player_id,
                "reason": trip.reason,
                "figures": dict(trip.figures),
                "starts_at": t,
                "ends_at": ends_at,
                "message": in_language(
                    protection.cooldown_message,
                    protection.cooldown_messages,
                    ctx.profile.get("language"),
                ).replace("{minutes}", str(minutes)),
                "trigger_event_ids": [event["event_id"]],
                "issued_at": ctx.now_ms,
            }
        )
        entry = outputs.cooldown_started(
            trip, cooldown_id, event, ends_at, protection.version, ctx.now_ms
        )
        entry["details"]["markers"] = ",".join(markers)
        currencies = self.ruleset.currencies
        if currencies.house is not None:  # the figures are in house minor units
            entry["details"].update(currency=currencies.house, rates=str(currencies.version))
        ctx.out.journal.append(entry)
        ctx.out.cooldown_index[player_id] = ends_at
        ctx._activation = None

    def end_cooldown_if_over(
        self, player_id: str, state: PlayerState, event_time: int, now_ms: int, out: Decisions
    ) -> bool:
        """End the player's cool-down if ``event_time`` (theirs, or their partition's newest
        event time for a player gone quiet) has reached its end; True if it ended."""
        cd = state.cooldown
        if cd is None or event_time < cd.ends_at:
            return False
        state.cooldown = None
        out.journal.append(
            outputs.cooldown_ended(player_id, cd, self.ruleset.protection.version, now_ms)
        )
        self.stamp(out.journal[-1:])
        out.cooldown_index[player_id] = None
        return True

    # -- player inputs other than table events ----------------------------------------------

    def _account(self, ctx: _Context) -> bool:
        """An account event: into the state (KYC, deposits, markers); a KYC change and a
        deposit pattern the player's market flags are journaled. Then the detectors (the
        deposit markers count towards the risk level) and the rules, as for play."""
        event, state = ctx.event, ctx.state
        seen = accounts.observe(state, event, self.ruleset.protection, ctx.currencies)
        if seen.kyc_changed:
            reason = f"KYC status {seen.kyc_before or 'none'} -> {state.kyc}"
            details = {"kyc_status": state.kyc or "", "before": seen.kyc_before or ""}
            ctx.out.journal.append(outputs.account_event(event, reason, details, ctx.now_ms))
        if seen.deposit is not None and self.jurisdictions is not None:
            country = ctx.profile.get("country")
            flags = self.jurisdictions.for_country(country).deposit_flags
            found = accounts.flagged(state, flags, seen.deposit, event["occurred_at"])
            if found is not None:
                reason, figures = found
                figures.update(
                    market=(country or "default").upper(),
                    currency=ctx.currencies.house or event["account"]["currency"],
                )
                entry = outputs.deposit_flagged(event, reason, figures, ctx.now_ms)
                ctx.out.journal.append(entry)
        return True

    def _prize(self, ctx: _Context) -> bool:
        """A tournament prize (``app.core.tournaments.payout``): paid through the issue path,
        so consent, cool-down, self-exclusion, harm flags, KYC and caps apply at payout; the
        reward's id is the prize's, which a re-published prize record never pays twice."""
        prize = ctx.event["prize"]
        rule, grant = tournaments.payout(prize)
        issued = len(ctx.out.rewards)
        self._issue(rule, ctx, grant, [ctx.event["event_id"]], None, prize["prize_id"])
        if len(ctx.out.rewards) > issued:  # the prize's reward, before any level's it reached
            ctx.out.rewards[issued]["attributes"].update(tournaments.prize_attributes(prize))
        return False

    def _interaction(self, ctx: _Context) -> bool:
        """An interaction is journaled and decides nothing else."""
        details = interactions.details(ctx.event["interaction"])
        ctx.out.journal.append(outputs.interaction_recorded(ctx.event, details, ctx.now_ms))
        return False

    # -- player commands: the store and mini-games (app.core.store, games, wallet) -----------

    def _command(self, ctx: _Context) -> bool:
        """A player command, decided once per command id: applied or refused, journaled."""
        command = ctx.event["command"]
        if not ctx.state.decided_command(event_fingerprint(command["command_id"])):
            ctx.out.duplicates += 1  # re-sent: its outcome was answered the first time
            return False
        kind = command["type"]
        if kind == "PURCHASE":
            self._purchase(ctx, command)
        elif kind == "SPIN":
            self._spin(ctx, command)
        elif kind == "OPT_IN":
            self._opt_in(ctx, command)
        elif kind == "OPT_OUT":
            self._opt_out(ctx, command)
        elif kind == "CLAIM":
            self._claim(ctx, command)
        else:
            explain = f"{kind} commands are not applied by this version"
            self._refuse(ctx, command, "unsupported_command", explain)
        return False

    def _refuse(
        self,
        ctx: _Context,
        command: Record,
        reason: str,
        explain: str,
        rule: Rule | None = None,
    ) -> None:
        ctx.out.journal.append(
            spending.command_refused(
                command,
                ctx.event,
                reason,
                explain,
                None if rule is None else rule.rule_id,
                None if rule is None else rule.version,
                ctx.state.balance,
                ctx.now_ms,
            )
        )

    def _applied(
        self,
        ctx: _Context,
        command: Record,
        rule: Rule,
        details: dict[str, str],
        issued: str | None = None,
    ) -> None:
        """Journal a command that did what it asked (``issued``: the reward it is about)."""
        ctx.out.journal.append(
            spending.command_applied(
                command,
                ctx.event,
                rule.rule_id,
                rule.version,
                issued,
                details,
                ctx.state.balance,
                ctx.now_ms,
            )
        )
        ctx._activation = None  # the state it changed (balance, spins, missions)

    def _purchase(self, ctx: _Context, command: Record) -> None:
        """Buy a store item: checked (window, country, limits, stock, balance, then the
        guards every grant passes), paid for, and granted through the issue path."""
        item: StoreItem | None = self.ruleset.store.get(command.get("item_id") or "")
        if item is None:
            explain = f"no store item {command.get('item_id')!r}"
            return self._refuse(ctx, command, store.UNKNOWN_ITEM, explain)
        state, event, rule = ctx.state, ctx.event, item.rule
        country = ctx.profile.get("country")
        why = store.refusal(item, state, country, event["occurred_at"], ctx.period, ctx.stock)
        if why is not None:
            return self._refuse(ctx, command, *why, rule)
        grant = grant_for(rule, event, ctx.activation, ctx.profile, 0, 1)
        if grant is None:
            explain = f"{item.item_id} grants nothing"
            return self._refuse(ctx, command, "nothing_to_grant", explain, rule)
        hold = self._block(rule, ctx, grant)
        if hold is not None:  # a guard would hold it back: not sold, nothing spent
            return self._refuse(ctx, command, hold.reason, hold.explain, rule)
        wallet.spend(state, item.price)
        store.count_sale(item, state, ctx.period, ctx.stock)
        event_ids = [event["event_id"]]
        self._issue(rule, ctx, grant, event_ids, None)
        issued = outputs.reward_id(rule.rule_id, rule.version, event_ids)
        self._applied(ctx, command, rule, {"price": str(item.price)}, issued)

    def _spin(self, ctx: _Context, command: Record) -> None:
        """Play a mini-game the player won (the spin the command names, else their oldest):
        where it lands is fixed by the spin's id and the operator's salt."""
        state = ctx.state
        target = command.get("reward_id") or command.get("target_id")
        named = [s for s in state.spins if s[0] == target] if target else state.spins
        # without a target, the oldest spin of a mini-game the rules in force still have
        playable = (s for s in named if s[1] in self.ruleset.minigames)
        entry = next(playable, named[0] if named else None)
        if entry is None:
            explain = f"no spin {target} to play" if target else "no spin to play"
            return self._refuse(ctx, command, "no_spin", explain)
        spin_id, game_id, left = entry
        game: MiniGame | None = self.ruleset.minigames.get(game_id)
        if game is None:  # kept: a later ruleset may bring the game back
            explain = f"the mini-game {game_id} is not in the rules in force"
            return self._refuse(ctx, command, "unknown_minigame", explain)
        play_grant = grant_for(game.rule, ctx.event, ctx.activation, ctx.profile, 0, 1)
        hold = None if play_grant is None else self._block(game.rule, ctx, play_grant)
        if hold is not None:  # kept for when the guard lifts
            return self._refuse(ctx, command, hold.reason, hold.explain, game.rule)
        entry[2] = left - 1
        if entry[2] <= 0:
            state.spins.remove(entry)
        sector_index, sector = games.landing(game, self.game_salt, spin_id, left)
        won, grant, prize = sector.rule, None, None
        event_ids = [f"{spin_id}#{left}"]  # the prize's id: of the spin and the play
        if won is not None:
            grant = grant_for(won, ctx.event, ctx.activation, ctx.profile, 0, 1)
        if won is not None and grant is not None:
            prize = {
                "prize_kind": grant.kind,
                "prize_amount": str(grant.amount),
                "prize_reward_id": outputs.reward_id(won.rule_id, won.version, event_ids),
            }
        ctx.out.journal.append(
            spending.game_played(ctx.event, game, spin_id, left, sector_index, prize, ctx.now_ms)
        )
        if won is not None and grant is not None:
            self._issue(won, ctx, grant, event_ids, None)
        details = {"minigame": game.game_id, "sector": str(sector_index)}
        details["plays_left"] = str(left - 1)
        self._applied(ctx, command, game.rule, details, spin_id)

    def _claim(self, ctx: _Context, command: Record) -> None:
        """Claim a pending reward: the guards are checked again now (a refusal leaves it
        pending), then its value applies and its Reward record is published."""
        state = ctx.state
        target = command.get("reward_id") or command.get("target_id") or ""
        pending = claims.find(state, target)
        if pending is None:
            return self._refuse(ctx, command, *claims.refusal(state, target))
        reward = pending[1]
        rule = self.claimable.get(reward["rule_id"])
        if rule is None:  # kept: a later ruleset may bring the rule back
            explain = f"the rule {reward['rule_id']} of {target} is not in the rules in force"
            return self._refuse(ctx, command, claims.UNKNOWN_REWARD, explain)
        grant = _pending_grant(rule, reward)
        hold = self._block(rule, ctx, grant)
        if hold is not None:
            return self._refuse(ctx, command, hold.reason, hold.explain, rule)
        claims.settle(state, pending, claims.CLAIMED)
        ctx.out.rewards.append({**reward, "issued_at": ctx.now_ms})
        self._credit(ctx, grant, reward)
        details = {"kind": reward["kind"], "amount": str(reward["amount"])}
        self._applied(ctx, command, rule, details, target)

    def _expire_claims(
        self, state: PlayerState, event_time: int, now_ms: int, out: Decisions
    ) -> None:
        """Drop the pending rewards whose deadline ``event_time`` has reached, each dated by it."""
        for pending in claims.due(state, event_time):
            claims.settle(state, pending, claims.EXPIRED)
            out.journal.append(claims.expired(pending[1], pending[0], now_ms))

    def _expire_points(
        self, player_id: str, state: PlayerState, event_time: int, now_ms: int, out: Decisions
    ) -> None:
        """Expire the points whose time ``event_time`` has reached, each dated by its expiry."""
        expiry = self.ruleset.points_expiry
        if expiry is None:
            return
        for index, at, amount in wallet.expire_due(state, event_time, expiry):
            entry = spending.points_expired(
                player_id, expiry, index, at, amount, state.balance, now_ms
            )
            out.journal.append(entry)

    # -- one rule on one event --------------------------------------------------------------

    def _apply(self, rule: Rule, ctx: _Context) -> None:
        event = ctx.event
        if rule.active is not None and not rule.active.contains(event["occurred_at"]):
            return
        if rule.when is not None and not rule.when(ctx.activation):
            return
        TRIGGERS[rule.trigger](self, rule, ctx, rule.scope(event["game"]))

    def _event(self, rule: Rule, ctx: _Context, scope: str) -> None:
        self._maybe_fire(rule, ctx, scope, [ctx.event["event_id"]], 0)

    def _maybe_fire(
        self, rule: Rule, ctx: _Context, scope: str, event_ids: list[str], stakes: int
    ) -> bool:
        """Fire unless a once-per-period limit says it already did; True if it fired."""
        period = None
        if rule.once_per in ("day", "week", "ever"):
            period = ctx.period(rule.once_per)
            if ctx.state.has_fired(scope, period):
                return False
            ctx.state.mark_fired(scope, period)
        if measured(rule, self.ruleset.holdout):
            self._fire_measured(rule, ctx, event_ids, stakes, period)
            return True
        grant = grant_for(rule, ctx.event, ctx.activation, ctx.profile, stakes, len(event_ids))
        if grant is not None:
            self._issue(rule, ctx, grant, event_ids, period)
        return True

    def _fire_measured(
        self, rule: Rule, ctx: _Context, event_ids: list[str], stakes: int, period: str | None
    ) -> None:
        """Fire a rule under an A/B test (``app.core.experiments``): the held-out get
        nothing; every arm's firing is journaled EXPOSED, first, granted or not."""
        event = ctx.event
        arm = arm_of(rule, event["player_id"], self.ruleset.holdout)
        at = len(ctx.out.journal)
        if arm != HOLDOUT:
            grant = grant_for(rule, event, ctx.activation, ctx.profile, stakes, len(event_ids))
            if grant is not None:
                self._issue(rule, ctx, grant, event_ids, period)
        granted = any(  # issued, or pending a claim
            e["decision"] == "REWARD_ISSUED" and e["rule_id"] == rule.rule_id
            for e in ctx.out.journal[at:]
        )
        entry = exposure(rule, event, arm, granted, event_ids, ctx.now_ms)
        ctx.out.journal.insert(at, entry)

    def _issue(
        self,
        rule: Rule,
        ctx: _Context,
        grant: Grant,
        event_ids: list[str],
        period: str | None,
        named: str | None = None,
    ) -> None:
        """Grant through every guard, boost and cap, journaled; ``named``: the reward's id
        when it is not the rule's and events' (a tournament prize's)."""
        state, event = ctx.state, ctx.event
        reward_id = named or outputs.reward_id(rule.rule_id, rule.version, event_ids)
        block = self._block(rule, ctx, grant)
        boost, unboosted = None, grant.amount
        if block is not None:
            amount, holds = 0, [block]
        else:
            # Only a grant no guard holds back entirely is boosted, and before the caps.
            boost = self._boost_for(ctx, grant.kind)
            if boost is not None:
                amount = boosts.boosted(grant.amount, boost.factor)
                grant = with_amount(grant, amount, event, ctx.profile, len(event_ids))
            amount, holds = self._cap(rule, ctx, grant)
        for hold in holds:
            ctx.out.journal.append(
                outputs.reward_suppressed(
                    rule, event, grant, hold, event_ids, reward_id, ctx.now_ms
                )
            )
        if amount <= 0:
            return
        if amount != grant.amount:
            grant = replace(grant, amount=amount)
        reward = outputs.reward(rule, event, grant, event_ids, ctx.now_ms)
        reward["reward_id"] = reward_id
        details = {"kind": grant.kind, "amount": str(grant.amount)}
        reason = f"{rule.rule_id} v{rule.version} matched"
        if period is not None:
            details["period"] = period
            reason += f"; once per {rule.once_per} ({period}, {ctx.tz.key})"
        if grant.variant:
            details["variant"] = grant.variant
        if grant.multiplier != 1:
            details["multiplier"] = f"{grant.multiplier:g}"
        if boost is not None:
            details.update(boost=f"{boost.factor:g}", boost_id=boost.boost_id)
        if holds:
            details["held_back"] = str(sum(h.amount for h in holds))
        within = grant.spec.claim_within_ms
        claim_by = None if within is None else event["occurred_at"] + within
        if claim_by is not None:  # decided now, its value waits for the player's CLAIM
            details.update(claim="pending", claim_by=str(claim_by))
        started = None
        if grant.kind == "MULTIPLIER" and grant.spec.boost is not None:
            started = self._start_boost(ctx, grant.spec.boost, reward)
        if claim_by is None:
            ctx.out.rewards.append(reward)
        ctx.out.journal.append(outputs.reward_issued(rule, reward, reason, details))
        if started is not None:
            ctx.out.journal.append(outputs.boost_started(reward, *started))
        if boost is not None:
            ctx.out.journal.append(outputs.boost_used(reward, boost, unboosted))
            if all(b is not boost for b in ctx.used):
                ctx.used += (boost,)
        if claim_by is None:
            self._credit(ctx, grant, reward)
            return
        del reward["issued_at"]  # the claim that publishes it stamps it
        pushed_out = claims.hold(state, reward, claim_by)
        if pushed_out is not None:
            ctx.out.journal.append(claims.expired(pushed_out, event["occurred_at"], ctx.now_ms))

    def _credit(self, ctx: _Context, grant: Grant, reward: Record) -> None:
        """Apply what a reward grants to the player's state: when issued, or on its claim."""
        state, event_ids = ctx.state, reward["trigger_event_ids"]
        if grant.kind == "XP":
            state.xp += grant.amount
            self._level_up(ctx, event_ids)
        elif grant.kind == "POINTS":
            state.points += grant.amount
            at = ctx.event["occurred_at"]  # the claim's time for a claimed reward
            wallet.credit(state, grant.amount, at, self.ruleset.points_expiry)
        elif grant.kind == "BADGE" and grant.badge:
            state.earn_badge(grant.badge)
        elif grant.kind == "WHEEL_SPIN":
            minigame = grant.spec.minigame or self.default_wheel
            if minigame is not None:  # else the spin is the downstream systems' to play
                state.spins.append([reward["reward_id"], minigame, grant.amount])
        self._score(ctx, grant)
        ctx._activation = None  # state changed: the next rule sees the new totals

    def _block(self, rule: Rule, ctx: _Context, grant: Grant) -> Hold | None:
        """A guard that holds back the whole grant (self-exclusion, harm, cool-down, ...,
        then a market's KYC requirement)."""
        spec = grant.spec
        hold = blocking_hold(
            rule,
            grant.kind,
            grant.amount,
            spec.product,
            spec.channel,
            ctx.state,
            ctx.profile,
            ctx.event["occurred_at"],
            self.ruleset.protection,
            self.jurisdictions,
            ctx.event["game"],
        )
        if hold is None and self.jurisdictions is not None:
            country = ctx.profile.get("country")
            rules = self.jurisdictions.for_country(country)
            where = country or "the default policy"
            hold = accounts.kyc_hold(rules, ctx.state, grant.amount, where)
        return hold

    def _cap(self, rule: Rule, ctx: _Context, grant: Grant) -> tuple[int, list[Hold]]:
        """How much of the grant the caps let through, and what they hold back and why."""
        protection = self.ruleset.protection
        if grant.kind not in QUANTITY_KINDS:
            return grant.amount, []
        # (reason, cap key, its period, the most it may reach, in words)
        limits = []
        for cap in rule.caps:
            period = ctx.period(cap.period)
            key = f"{rule.scope(ctx.event['game'])}:{cap.period}:{period}"
            explain = f"{rule.rule_id} pays at most {cap.amount} a {cap.period}"
            limits.append((f"rule_cap_{cap.period}", key, period, cap.amount, explain))
        if grant.kind == "POINTS" and protection.daily_points_cap is not None:
            day = ctx.period("day")
            explain = f"at most {protection.daily_points_cap} points a day ({day})"
            limits.append(("daily_cap", f"daily:{day}", day, protection.daily_points_cap, explain))
        amount, holds = grant.amount, []
        for reason, key, _period, limit, explain in limits:
            allowed = max(0, min(amount, limit - ctx.state.caps.get(key, 0)))
            if allowed < amount:
                holds.append(Hold(reason, amount - allowed, explain))
                amount = allowed
        for _reason, key, period, _limit, _explain in limits:
            ctx.state.add_capped(key, period, amount)  # every cap counts what was granted
        return amount, holds

    # -- boosts ----------------------------------------------------------------------------

    def _boost_for(self, ctx: _Context, kind: str) -> BoostState | None:
        """The boost that multiplies a grant of ``kind`` now: not one this event started."""
        running = ctx.state.boosts
        if not running:
            return None
        if ctx.started:
            running = [b for b in running if b.boost_id not in ctx.started]
        return boosts.strongest(running, kind, ctx.event)

    def _start_boost(
        self, ctx: _Context, spec: BoostSpec, reward: Record
    ) -> tuple[BoostState, dict[str, str]]:
        """Start the boost a MULTIPLIER reward carries; at the limit the oldest one ends."""
        state = ctx.state
        boost = boosts.start(spec, reward)
        if len(state.boosts) >= BOOSTS_MAX:
            oldest = state.boosts.pop(0)
            ctx.out.journal.append(
                outputs.boost_ended(
                    reward["player_id"],
                    oldest,
                    "superseded",
                    reward["trigger_event_ids"],
                    reward["event_time"],
                    ctx.now_ms,
                )
            )
        state.boosts.append(boost)
        ctx.started += (boost.boost_id,)
        details = boosts.describe(boost)
        reward["attributes"].update({f"boost_{k}": v for k, v in details.items()})
        return boost, details

    def _count_boosted_bet(self, ctx: _Context) -> None:
        """A bet a boost of "the next N bets" multiplied counts one of them; the last ends it."""
        event = ctx.event
        running = ctx.state.boosts
        for boost in ctx.used:
            if boost.bets_left is None or all(b is not boost for b in running):
                continue  # timed, or superseded by a boost this very bet won
            boost.bets_left -= 1
            if boost.bets_left <= 0:
                ctx.state.boosts.remove(boost)
                ctx.out.journal.append(
                    outputs.boost_ended(
                        event["player_id"],
                        boost,
                        "bets_used",
                        [event["event_id"]],
                        event["occurred_at"],
                        ctx.now_ms,
                    )
                )

    def _end_boosts_over(
        self, player_id: str, state: PlayerState, event_time: int, now_ms: int, out: Decisions
    ) -> None:
        """End the boosts whose end ``event_time`` has reached, each dated by its end."""
        over = [b for b in state.boosts if b.ends_at is not None and b.ends_at <= event_time]
        for boost in over:
            state.boosts.remove(boost)
            out.journal.append(
                outputs.boost_ended(player_id, boost, "expired", [], boost.ends_at, now_ms)
            )

    def _level_up(self, ctx: _Context, event_ids: list[str]) -> None:
        levels = self.ruleset.levels
        if not levels:
            return
        state = ctx.state
        reached = level_for(levels, state.xp)
        if reached > state.level:
            ctx.out.journal.append(
                outputs.level_up(
                    ctx.event,
                    event_ids,
                    state.level,
                    reached,
                    state.xp,
                    self.ruleset.levels_version,
                    ctx.now_ms,
                )
            )
            before, state.level = state.level, reached
            ctx._activation = None  # the rewards below see the new level
            for level in levels:  # each level passed grants its reward once: levels only rise
                if before < level.level <= reached and level.rule is not None:
                    self._grant_level(ctx, level.rule, event_ids)

    def _grant_level(self, ctx: _Context, rule: Rule, event_ids: list[str]) -> None:
        """A level's reward, through the issue path (guards, caps, boosts): rule
        ``level:<n>``, its id from the events whose XP reached the level."""
        grant = grant_for(rule, ctx.event, ctx.activation, ctx.profile, 0, 1)
        if grant is not None:
            self._issue(rule, ctx, grant, event_ids, None)

    def _score(self, ctx: _Context, grant: Grant) -> None:
        for board in self.ruleset.leaderboards:
            if board.kind != grant.kind or (board.per_game and ctx.event["game"] is None):
                continue  # a per-game board counts play at a game (not an account event)
            period = ctx.period(board.period)
            game = ctx.event["game"] if board.per_game else "ALL"
            key = board_key(board.board_id, game, period)
            total = ctx.state.add_score(key, period, grant.amount)
            ctx.out.scores.append(
                (key, ctx.event["player_id"], total, ctx.event["occurred_at"], board.top)
            )

    def _tournaments(self, ctx: _Context, earned: list[Record]) -> None:
        """The event's score on each tournament running (``app.core.tournaments``)."""
        ctx.out.scores += tournaments.scores_for(
            self.ruleset.tournaments,
            ctx.state,
            ctx.event,
            ctx.profile,
            lambda: ctx.activation,
            earned,
            ctx.currencies,
        )

    # -- triggers with memory ------------------------------------------------------------

    def _streak(self, rule: Rule, ctx: _Context, scope: str) -> None:
        spec = rule.streak
        assert spec is not None
        streaks = ctx.state.streaks
        event = ctx.event
        if spec.counts(ctx.activation):
            streak = streaks.setdefault(scope, StreakState())
            streak.count += 1
            bet = event.get("bet")
            currencies = ctx.currencies
            if bet is not None:  # in house minor units where the ruleset has a house currency
                streak.stakes_minor += currencies.to_house(bet["stake_minor"], bet["currency"])
                streak.currency = streak.currency or bet["currency"]
            if not streak.fired:
                streak.event_ids.append(event["event_id"])
            if streak.count % spec.length == 0 and not streak.fired:
                stakes = streak.stakes_minor
                if bet is not None:  # a cash-back is paid in the currency of the last bet
                    stakes = currencies.from_house(stakes, bet["currency"])
                self._maybe_fire(rule, ctx, scope, streak.event_ids, stakes)
                if rule.once_per == "streak":
                    streak.fired = True
                else:
                    streak.count, streak.stakes_minor, streak.event_ids = 0, 0, []
        elif spec.breaks is not None and spec.breaks(ctx.activation):
            streaks.pop(scope, None)

    def _window(self, rule: Rule, ctx: _Context, scope: str) -> None:
        spec = rule.window
        assert spec is not None
        event = ctx.event
        t = event["occurred_at"]
        value = 1
        if spec.sum is not None:
            value = int(spec.sum(ctx.activation) or 0)
        entries = ctx.state.windows.setdefault(scope, [])
        entries.append([t, value, event["event_id"]])
        entries.sort(key=lambda e: e[0])
        newest = entries[-1][0]
        # Keep what a later (or a late) event could still share a window with.
        entries[:] = [e for e in entries if e[0] > newest - spec.within_ms][-WINDOW_MAX:]
        hit = first_run_reaching(entries, t, spec.within_ms, spec.count_at_least, spec.sum_at_least)
        if hit is not None:
            ids = [e[2] for e in hit]
            stakes = sum(e[1] for e in hit) if spec.sum is not None else 0
            self._maybe_fire(rule, ctx, scope, ids, stakes)
            hit_ids = set(ids)
            entries[:] = [e for e in entries if e[2] not in hit_ids]  # re-arm on fresh events
        if not entries:
            del ctx.state.windows[scope]

    def _mission(self, rule: Rule, ctx: _Context, scope: str) -> None:
        """Count the event towards the mission's tasks (``app.core.missions``): each step
        journaled, the completion once, then the reward as any rule's."""
        spec = rule.mission
        assert spec is not None
        state, event = ctx.state, ctx.event
        period = ctx.period(spec.period)
        mission = state.missions.get(scope)
        if mission is None or mission.period < period:
            if spec.opt_in or missions.missing(spec, state):
                return  # an opt-in mission starts on the OPT_IN; a locked one not at all
            mission = state.missions[scope] = missions.start(rule, period, event["occurred_at"])
        elif mission.period > period or mission.end:
            return  # an event of a past period, or the mission is over for this one
        advanced = missions.advance(spec, mission, event, ctx.activation)
        if not advanced:
            return
        journal = ctx.out.journal
        if not mission.tasks:  # the one-task form: the journal and ids it always had
            mission.event_ids.append(event["event_id"])
            journal.append(
                outputs.mission_step(rule, event, mission.steps, spec.steps, period, ctx.now_ms)
            )
        for index in advanced if mission.tasks else ():
            step = mission.tasks[index]
            journal.append(missions.task_step(rule, event, index, step, period, ctx.now_ms))
        if not missions.done(spec, mission):
            return
        # named tasks: the completing event identifies the completion (the steps are journaled)
        event_ids = mission.event_ids or [event["event_id"]]
        mission.finish(COMPLETED)
        state.complete_mission(rule.rule_id)
        journal.append(outputs.mission_completed(rule, event, event_ids, period, ctx.now_ms))
        self._maybe_fire(rule, ctx, scope, event_ids, 0)
        ctx._activation = None  # state.missions changed

    def _end_missions_over(
        self, player_id: str, state: PlayerState, event_time: int, now_ms: int, out: Decisions
    ) -> None:
        """End the running missions whose deadline ``event_time`` has reached (expired or
        missed), each journaled and dated by its deadline."""
        for scope, mission in state.missions.items():
            if mission.end or not mission.ends or mission.ends > event_time:
                continue
            rule = self.missions.get(missions.rule_of(scope))
            how = missions.how_ended(rule, mission)
            out.journal.append(missions.ended(player_id, scope, rule, mission, how, now_ms))
            mission.finish(how)

    # -- opting in and out of missions (app.core.missions) ----------------------------------

    def _opt_in(self, ctx: _Context, command: Record) -> None:
        """Join an opt-in mission for its current period: refused while it is locked, out
        of its window, already joined, or over for the period. (A tournament's id joins it.)"""
        target = command.get("target_id")
        tournament = next((t for t in self.ruleset.tournaments if t.tournament_id == target), None)
        if tournament is not None:
            return self._join_tournament(ctx, command, tournament)
        rule = self._named_mission(ctx, command)
        if rule is None:
            return
        spec, state, t = rule.mission, ctx.state, ctx.event["occurred_at"]
        assert spec is not None
        if not spec.opt_in:
            explain = f"{rule.rule_id} needs no opt-in: playing counts"
            return self._refuse(ctx, command, "not_opt_in", explain, rule)
        if rule.active is not None and not rule.active.contains(t):
            explain = f"{rule.rule_id} is not open at this time"
            return self._refuse(ctx, command, "not_available", explain, rule)
        locked = missions.missing(spec, state)
        if locked:
            explain = f"{rule.rule_id} unlocks after {', '.join(locked)}"
            return self._refuse(ctx, command, "locked", explain, rule)
        period = ctx.period(spec.period)
        mission = state.missions.get(rule.rule_id)
        if mission is not None and mission.period >= period:
            standing = missions.STANDING[mission.end]
            reason = f"mission_{standing}" if mission.end else "already_in"
            explain = f"{rule.rule_id} is {standing} for {mission.period}"
            return self._refuse(ctx, command, reason, explain, rule)
        mission = state.missions[rule.rule_id] = missions.start(rule, period, t)
        details = {"mission": rule.rule_id, "period": period}
        if mission.ends:
            details["ends_at"] = str(mission.ends)
        self._applied(ctx, command, rule, details)

    def _join_tournament(
        self, ctx: _Context, command: Record, tournament: tournaments.Tournament
    ) -> None:
        """Enter an opt-in tournament's running occurrence (``tournaments.join``)."""
        joined = tournaments.join(tournament, ctx.state, ctx.profile, ctx.event["occurred_at"])
        rule_id, version, balance = tournament.rule_id, tournament.version, ctx.state.balance
        if isinstance(joined, tournaments.Refused):
            entry = spending.command_refused(
                command, ctx.event, *joined, rule_id, version, balance, ctx.now_ms
            )
        else:
            details = {"tournament": tournament.tournament_id, "occurrence": joined}
            if tournament.buy_in:
                details["buy_in"] = str(tournament.buy_in)
            entry = spending.command_applied(
                command, ctx.event, rule_id, version, None, details, balance, ctx.now_ms
            )
        ctx.out.journal.append(entry)

    def _opt_out(self, ctx: _Context, command: Record) -> None:
        """Leave an opt-in mission: its progress for the period is dropped (an OPT_IN later
        starts it afresh)."""
        rule = self._named_mission(ctx, command)
        if rule is None:
            return
        mission = ctx.state.missions.get(rule.rule_id)
        assert rule.mission is not None
        if not rule.mission.opt_in or mission is None or mission.end:
            explain = f"{rule.rule_id} is not running for this player"
            return self._refuse(ctx, command, "not_in", explain, rule)
        del ctx.state.missions[rule.rule_id]
        details = {"mission": rule.rule_id, "period": mission.period, "step": str(mission.steps)}
        self._applied(ctx, command, rule, details)

    def _named_mission(self, ctx: _Context, command: Record) -> Rule | None:
        """The mission rule a command's ``target_id`` names; None (refused) if there is none."""
        target = command.get("target_id") or ""
        rule = self.missions.get(target)
        if rule is None:
            explain = f"no mission {target!r}" if target else "the command names no mission"
            self._refuse(ctx, command, "unknown_mission", explain)
        return rule


def _granting(ruleset: Ruleset) -> Iterable[Rule]:
    """Every rule that can grant: the rules, store items, levels and mini-game sectors."""
    yield from ruleset.rules
    yield from (item.rule for item in ruleset.store.values())
    yield from (level.rule for level in ruleset.levels if level.rule is not None)
    for game in ruleset.minigames.values():
        yield from (sector.rule for sector in game.sectors if sector.rule is not None)


def _claimed(rule: Rule) -> bool:
    """Does a reward of ``rule`` (or of one of its variants) wait for a claim?"""
    specs = [rule.reward, *(v.reward for v in rule.variants)]
    return any(spec.claim_within_ms is not None for spec in specs)


def _pending_grant(rule: Rule, reward: Record) -> Grant:
    """The grant a pending Reward record holds, with the spec of its rule (or variant)."""
    attributes = reward["attributes"]
    variant = attributes.get("variant")
    chosen = next((v for v in rule.variants if v.name == variant), None)
    return Grant(
        kind=reward["kind"],
        amount=reward["amount"],
        message=reward["message"],
        currency=reward["currency"],
        badge=attributes.get("badge"),
        variant=variant,
        multiplier=1.0,
        spec=rule.reward if chosen is None else chosen.reward,
    )


#: What decides a player input that is not a table event (``app.pipeline.inputs``), by its
#: event type, before the detectors and the rules: True lets the event go on to them (as a
#: table event does), False means the handler decided everything it decides.
HANDLERS: dict[str, Callable[[Engine, _Context], bool]] = {
    **dict.fromkeys(ACCOUNT_TYPES, Engine._account),
    INTERACTION: Engine._interaction,
    COMMAND: Engine._command,
    tournaments.TOURNAMENT_PRIZE: Engine._prize,
}

#: Inputs dated by another clock than the player's play (a prize by its board keeper's):
#: never dropped as late, decided once by their id.
ON_TIME = frozenset({tournaments.TOURNAMENT_PRIZE})

#: What each trigger kind of a rule does with a matching event (``Rule.trigger`` -> handler).
TRIGGERS: dict[str, Callable[[Engine, Rule, _Context, str], None]] = {
    "event": Engine._event,
    "streak": Engine._streak,
    "window": Engine._window,
    "mission": Engine._mission,
}
