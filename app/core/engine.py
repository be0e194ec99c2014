"""The decision core: (player state, events, profile, rules, clock) -> (state, decisions).

Plain deterministic Python. The worker calls it once per player per micro-batch; the
replay and the tests call the very same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from app.core import boosts, outputs, risk
from app.core.cel import activation as bind
from app.core.days import period_key, zone
from app.core.ids import event_fingerprint, stable_id
from app.core.languages import in_language
from app.core.money import Currencies, money_view
from app.core.protect import Hold, Trip, blocking_hold, detect_losses
from app.core.rewards import QUANTITY_KINDS, Grant, grant_for, with_amount
from app.core.rounds import observe_round
from app.core.rules import BoostSpec, Jurisdictions, Rule, Ruleset, level_for
from app.core.state import (
    BOOSTS_MAX,
    WINDOW_MAX,
    BoostState,
    CooldownState,
    MissionState,
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
    _activation: object | None = None
    #: boosts this event started (they apply from the next event on) and used
    started: list[str] = field(default_factory=list)
    used: list[BoostState] = field(default_factory=list)
    #: period kind -> this event's key of it: each rule step asks, the answer never changes
    _periods: dict[str, str] = field(default_factory=dict)

    @property
    def activation(self) -> object:
        """The variables expressions see, built once per event and only if needed."""
        if self._activation is None:
            self._activation = bind(
                {
                    "event": self.event,
                    "profile": self.profile,
                    "state": {
                        "xp": self.state.xp,
                        "points": self.state.points,
                        "level": self.state.level,
                    },
                    "money": money_view(self.event, self.profile, self.currencies),
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
    ) -> None:
        """``jurisdictions``: the per-country policies (None: every kind everywhere)."""
        tz = zone(operator_timezone)
        if tz is None:
            raise ValueError(f"unknown operator time zone {operator_timezone!r}")
        self.ruleset = ruleset
        self.operator_tz: ZoneInfo = tz
        self.jurisdictions = jurisdictions

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
    ) -> PlayerState:
        """Apply one player's events in order, mutating and returning ``state``.

        ``partition_times``: for each event, its partition's event time before its record
        (``app.pipeline.batch``); a cool-down ends once that or the event's own time has
        passed it, so where the record sequence was cut into batches does not matter.
        """
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
            out.events += 1
            if not state.remember(event_fingerprint(event["event_id"])):
                out.duplicates += 1
                continue
            occurred_at = event["occurred_at"]
            if occurred_at < state.last_event_at - lateness:
                out.late += 1
                late_by = state.last_event_at - occurred_at
                out.journal.append(outputs.event_late(event, late_by, lateness, now_ms))
                continue
            if occurred_at > state.last_event_at:
                state.last_event_at = occurred_at
            ctx = _Context(state, event, seen, tz, now_ms, out, self.ruleset.currencies)
            self._protect(ctx)
            for rule in candidates(event["event_type"], event["game"]):
                self._apply(rule, ctx)
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
            self._start_cooldown(ctx, cause)

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

    def _start_cooldown(self, ctx: _Context, trip: Trip) -> None:
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
        grant = grant_for(rule, ctx.event, ctx.activation, ctx.profile, stakes, len(event_ids))
        if grant is not None:
            self._issue(rule, ctx, grant, event_ids, period)
        return True

    def _issue(
        self, rule: Rule, ctx: _Context, grant: Grant, event_ids: list[str], period: str | None
    ) -> None:
        state, event = ctx.state, ctx.event
        reward_id = outputs.reward_id(rule.rule_id, rule.version, event_ids)
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
        started = None
        if grant.kind == "MULTIPLIER" and grant.spec.boost is not None:
            started = self._start_boost(ctx, grant.spec.boost, reward)
        ctx.out.rewards.append(reward)
        ctx.out.journal.append(outputs.reward_issued(rule, reward, reason, details))
        if started is not None:
            ctx.out.journal.append(outputs.boost_started(reward, *started))
        if boost is not None:
            ctx.out.journal.append(outputs.boost_used(reward, boost, unboosted))
            if all(b is not boost for b in ctx.used):
                ctx.used.append(boost)
        if grant.kind == "XP":
            state.xp += grant.amount
            self._level_up(ctx, event_ids)
        elif grant.kind == "POINTS":
            state.points += grant.amount
        self._score(ctx, grant)
        ctx._activation = None  # state changed: the next rule sees the new totals

    def _block(self, rule: Rule, ctx: _Context, grant: Grant) -> Hold | None:
        """A guard that holds back the whole grant (self-exclusion, harm, cool-down, ...)."""
        spec = grant.spec
        return blocking_hold(
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
        ctx.started.append(boost.boost_id)
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
            state.level = reached

    def _score(self, ctx: _Context, grant: Grant) -> None:
        for board in self.ruleset.leaderboards:
            if board.kind != grant.kind:
                continue
            period = ctx.period(board.period)
            game = ctx.event["game"] if board.per_game else "ALL"
            key = board_key(board.board_id, game, period)
            total = ctx.state.add_score(key, period, grant.amount)
            ctx.out.scores.append(
                (key, ctx.event["player_id"], total, ctx.event["occurred_at"], board.top)
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
        spec = rule.mission
        assert spec is not None
        period = ctx.period(spec.period)
        missions = ctx.state.missions
        mission = missions.get(scope)
        if mission is None or mission.period < period:
            mission = missions[scope] = MissionState(period=period)
        elif mission.period > period or mission.completed:
            return  # an event of a past period, or the mission is done for this one
        mission.steps += 1
        mission.event_ids.append(ctx.event["event_id"])
        ctx.out.journal.append(
            outputs.mission_step(rule, ctx.event, mission.steps, spec.steps, period, ctx.now_ms)
        )
        if mission.steps >= spec.steps:
            mission.completed = True
            ctx.out.journal.append(
                outputs.mission_completed(rule, ctx.event, mission.event_ids, period, ctx.now_ms)
            )
            self._maybe_fire(rule, ctx, scope, list(mission.event_ids), 0)


#: What each trigger kind of a rule does with a matching event (``Rule.trigger`` -> handler).
TRIGGERS: dict[str, Callable[[Engine, Rule, _Context, str], None]] = {
    "event": Engine._event,
    "streak": Engine._streak,
    "window": Engine._window,
    "mission": Engine._mission,
}
