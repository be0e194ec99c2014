"""Tournaments: scheduled competitions on a board of their own, scored in the decision core
and finalised once by the worker that keeps the board.

An occurrence is one run of a tournament's schedule: ``once`` for a one-off, the day
(``2026-11-22``) or ISO week (``2026-W47``) in the tournament's zone for a recurring one.
A player's score for an occurrence lives in their state (``PlayerState.boards``, pruned as
occurrences move on, as a leaderboard's totals are) and each rise goes out as an ordinary
leaderboard score record for the board ``<id>:ALL:<occurrence>``: the leaderboards agent
keeps the standings as it keeps any board (higher score first, then whoever reached it
first, then player id). Scores only rise, so the board's top N stays exact.

When the occurrence has ended plus its grace by the event time of the score records on the
board's partition (or, on a quiet partition, by the wall clock after an idle allowance: see
``agents/leaderboards.py``), the board's keeper calls :func:`finalise`, pure, so a test or
an audit reproduces the same prizes from the same board. Each prize goes to the winner's
partition as a ``TournamentPrize`` record, decided there like any input of
the player (:func:`payout`): the responsible-gaming guards and caps apply at payout, the
entries are sealed like every entry of the player's, and the replay reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from app.core import wallet
from app.core.days import period_key
from app.core.ids import stable_id
from app.core.outputs import journal_entry
from app.core.rewards import Grant
from app.core.rules import RewardSpec, Rule
from app.core.store import NO_POINTS
from app.leaderboards.board import Board, board_key, parse_board_key

if TYPE_CHECKING:
    from app.core.cel import Bound, Condition, Value
    from app.core.money import Currencies
    from app.core.state import PlayerState

Record = dict

#: The occurrence of a one-off tournament.
ONCE = "once"
#: The board's game part: a tournament's board spans every game.
ALL_GAMES = "ALL"
#: The state key parts of a player's counted bets and opt-in (beside the score's ``ALL``).
COUNTED = "bets"
ENTERED = "in"


@dataclass(frozen=True, slots=True)
class Schedule:
    """``every``: "once", "day" or "week" (in ``zone``); ``starts_at``/``ends_at`` bound a
    one-off (both set) or, optionally, the run of a recurring one."""

    every: str
    zone: ZoneInfo
    starts_at: int | None = None
    ends_at: int | None = None

    def occurrence(self, t: int) -> str | None:
        """The occurrence that event time ``t`` falls in, or None outside the schedule."""
        if (self.starts_at is not None and t < self.starts_at) or (
            self.ends_at is not None and t >= self.ends_at
        ):
            return None
        return ONCE if self.every == ONCE else period_key(self.every, t, self.zone)

    def end_of(self, occurrence: str) -> int:
        """When ``occurrence`` ends (epoch ms); ``ValueError`` for a key it never makes."""
        if self.every == ONCE:
            if occurrence != ONCE or self.ends_at is None:
                raise ValueError(f"not an occurrence of a one-off: {occurrence!r}")
            return self.ends_at
        if self.every == "day":
            last = date.fromisoformat(occurrence)
        else:
            year, week = occurrence.split("-W")
            last = date.fromisocalendar(int(year), int(week), 7)
        midnight = datetime.combine(last + timedelta(days=1), time(), tzinfo=self.zone)
        end = int(midnight.timestamp() * 1000)
        return end if self.ends_at is None else min(end, self.ends_at)


@dataclass(frozen=True, slots=True)
class Prize:
    """What ranks ``first`` to ``last`` (inclusive) each win."""

    first: int
    last: int
    kind: str
    amount: int
    currency: str | None = None


def rule_id_of(tournament_id: str) -> str:
    return f"tournament:{tournament_id}"


@dataclass(frozen=True, slots=True)
class Tournament:
    tournament_id: str
    version: int
    schedule: Schedule
    prizes: tuple[Prize, ...]
    #: the score: the amount of this reward kind a play earns (summed) ...
    kind: str | None = None
    #: ... or this expression over the event, on ``events``, summed or kept at its "max"
    expr: Value | None = None
    aggregate: str = "sum"
    events: tuple[str, ...] = ("BET_SETTLED",)
    when: Condition | None = None
    #: a player in any of these segments may enter; empty: anyone
    segments: frozenset[str] = frozenset()
    #: the least stake (house minor units) a counted bet has; 0: any play counts
    min_bet: int = 0
    #: the most bets counted per player and occurrence; None: all
    max_bets: int | None = None
    grace_ms: int = 0
    #: only players who joined the occurrence (an OPT_IN command naming it) score
    opt_in: bool = False
    #: the points an opt-in costs (taken from the balance when joining); 0: free
    buy_in: int = 0
    #: the board's size: at least the last rank that wins a prize
    top: int = 10

    @property
    def rule_id(self) -> str:
        """The rule id its prizes and journal entries name."""
        return rule_id_of(self.tournament_id)

    def prize_for(self, rank: int) -> Prize | None:
        return next((p for p in self.prizes if p.first <= rank <= p.last), None)

    def closes_at(self, occurrence: str) -> int:
        """When ``occurrence`` is over, grace included (epoch ms); ``ValueError`` for a key
        its schedule never makes."""
        return self.schedule.end_of(occurrence) + self.grace_ms


def of_board(running: Mapping[str, Tournament], key: str) -> tuple[Tournament, str] | None:
    """The running tournament (by id) and occurrence whose board ``key`` is; None for any
    other board, or one of an occurrence its schedule (since changed) never makes."""
    try:
        board_id, game, occurrence = parse_board_key(key)
        tournament = running.get(board_id)
        if tournament is None or game != ALL_GAMES:
            return None
        tournament.closes_at(occurrence)
    except ValueError:
        return None
    return tournament, occurrence


def closes_at(running: Mapping[str, Tournament], key: bytes) -> int | None:
    """When board ``key`` closes: its occurrence's end plus grace, if it is a running
    tournament's board (for :func:`app.leaderboards.board.walk`)."""
    found = of_board(running, key.decode())
    return None if found is None else found[0].closes_at(found[1])


#: (board key, player id, new total, event time, top n): a leaderboard score update
Score = tuple[str, str, int, int, int]


def score(
    tournament: Tournament,
    state: PlayerState,
    event: Record,
    profile: Record,
    bound: Callable[[], Bound],
    earned: Iterable[Record],
    currencies: Currencies,
) -> Score | None:
    """The score update one decided event makes on ``tournament`` (None: none), with the
    player's score and counted bets updated in ``state``.

    ``earned``: the rewards the event was granted; ``bound``: the event's CEL variables.
    A self-excluded or cooling-down player scores nothing (the responsible-gaming guard of
    tournaments: they never reach the standings, so no prize is ever due to them).
    """
    t = event["occurred_at"]
    occurrence = tournament.schedule.occurrence(t)
    if occurrence is None or _guarded(state, profile, t):
        return None
    if tournament.segments and not tournament.segments & set(profile.get("segments") or ()):
        return None
    if tournament.opt_in and board_key(tournament.tournament_id, ENTERED, occurrence) not in (
        state.boards
    ):
        return None
    bet = event.get("bet")
    if tournament.min_bet or tournament.max_bets:
        if bet is None:
            return None
        if currencies.to_house(bet["stake_minor"], bet["currency"]) < tournament.min_bet:
            return None
    if tournament.expr is not None:
        if event["event_type"] not in tournament.events:
            return None
        if tournament.when is not None and not tournament.when(bound()):
            return None
        value = tournament.expr(bound())
        if value is None:
            return None
        value = int(value)
    else:
        if tournament.when is not None and not tournament.when(bound()):
            return None
        value = sum(r["amount"] for r in earned if r["kind"] == tournament.kind)
    if tournament.max_bets is not None:
        counted = board_key(tournament.tournament_id, COUNTED, occurrence)
        if state.boards.get(counted, 0) >= tournament.max_bets:
            return None
        state.add_score(counted, occurrence, 1)
    key = board_key(tournament.tournament_id, ALL_GAMES, occurrence)
    held = state.boards.get(key, 0)
    rise = value - held if tournament.aggregate == "max" else value
    if rise <= 0:
        return None  # a score only rises, so the board's top N stays exact
    total = state.add_score(key, occurrence, rise)
    return key, event["player_id"], total, t, tournament.top


class Refused(NamedTuple):
    """Why an opt-in was refused: a reason code and the words."""

    reason: str
    explain: str


def join(tournament: Tournament, state: PlayerState, profile: Record, t: int) -> str | Refused:
    """Enter the player in the occurrence running at event time ``t`` (an OPT_IN command),
    paying its buy-in: the occurrence, or why not (a self-excluded or cooling-down player
    may not join: they could not score)."""
    name = tournament.rule_id
    if not tournament.opt_in:
        return Refused("not_opt_in", f"{name} needs no opt-in: playing counts")
    occurrence = tournament.schedule.occurrence(t)
    if occurrence is None:
        return Refused("not_available", f"{name} is not running at this time")
    if _guarded(state, profile, t):
        return Refused("guarded", "a self-excluded or cooling-down player cannot join")
    entered = board_key(tournament.tournament_id, ENTERED, occurrence)
    if entered in state.boards:
        return Refused("already_in", f"{name} {occurrence} is joined already")
    if not wallet.spend(state, tournament.buy_in):
        explain = f"{name} costs {tournament.buy_in} points; the balance is {state.balance}"
        return Refused(NO_POINTS, explain)
    state.add_score(entered, occurrence, 1)
    return occurrence


def _guarded(state: PlayerState, profile: Record, t: int) -> bool:
    cd = state.cooldown
    return bool(profile.get("self_excluded")) or (cd is not None and cd.starts_at <= t < cd.ends_at)


class Finished(NamedTuple):
    """What finalising an occurrence publishes: a ``TournamentPrize`` record per prize (for
    the winner's partition to decide), then the journal entry."""

    prizes: list[Record]
    entry: Record


def prize_id(tournament_id: str, occurrence: str, rank: int) -> str:
    """A prize's reward id: from the tournament, occurrence and rank only, so finalising
    again (after a crash, by another worker, or under a newer version) mints the same id."""
    return stable_id("rw", "tournament", tournament_id, occurrence, rank)


def finalise(board: Board, tournament: Tournament, occurrence: str, now_ms: int) -> Finished:
    """The final standings of ``board`` (``tournament``'s board for ``occurrence``): a prize
    record per prize-winning rank, and the TOURNAMENT_FINISHED entry, kept for ever, listing
    every rank's score and prize id but no player: the prize is paid, and names its player,
    on the player's partition (:func:`payout`), where ``pitboss forget`` erases it.

    Ranks are board positions: higher score, then earlier reach of it, then player id.
    """
    ended = tournament.schedule.end_of(occurrence)
    prizes, standings = [], []
    for rank, entry in enumerate(board.entries, 1):
        prize = tournament.prize_for(rank)
        row: dict[str, object] = {"rank": rank, "score": entry.total}
        if prize is not None:
            record = {
                "prize_id": prize_id(tournament.tournament_id, occurrence, rank),
                "player_id": entry.player_id,
                "tournament_id": tournament.tournament_id,
                "tournament_version": tournament.version,
                "occurrence": occurrence,
                "rank": rank,
                "score": entry.total,
                "kind": prize.kind,
                "amount": prize.amount,
                "currency": prize.currency,
                "ended_at": ended,
                "awarded_at": now_ms,
            }
            prizes.append(record)
            row["reward_id"] = record["prize_id"]
        standings.append(row)
    entry = journal_entry(
        decision="TOURNAMENT_FINISHED",
        player_id=None,
        rule_id=tournament.rule_id,
        rule_version=tournament.version,
        reason=f"{tournament.rule_id} {occurrence} ended; {len(prizes)} prize(s)",
        event_ids=[],
        reward_id=None,
        details={
            "occurrence": occurrence,
            "ended_at": str(ended),
            "standings": orjson.dumps(standings).decode(),
        },
        event_time=ended,
        now_ms=now_ms,
        discriminator=occurrence,
    )
    return Finished(prizes, entry)


#: The event type of a prize record on the player's stream (``app.pipeline.inputs``).
TOURNAMENT_PRIZE = "TOURNAMENT_PRIZE"


def payout(prize: Record) -> tuple[Rule, Grant]:
    """The rule and grant a prize record is paid by, through the engine's issue path (the
    guards and caps of any grant apply at payout): rule ``tournament:<id>`` at the version
    that finalised it, the prize's kind, amount and currency."""
    spec = RewardSpec(kind=prize["kind"], amount=prize["amount"])
    rule = Rule(
        rule_id=rule_id_of(prize["tournament_id"]),
        version=prize["tournament_version"],
        event_types=frozenset({TOURNAMENT_PRIZE}),
        games=frozenset(),
        when=None,
        reward=spec,
    )
    grant = Grant(
        kind=spec.kind,
        amount=prize["amount"],
        message=None,
        currency=prize["currency"],
        badge=None,
        variant=None,
        multiplier=1.0,
        spec=spec,
    )
    return rule, grant


def prize_attributes(prize: Record) -> dict[str, str]:
    """What a paid prize's reward carries besides the issue path's fields."""
    return {
        "tournament": prize["tournament_id"],
        "occurrence": prize["occurrence"],
        "rank": str(prize["rank"]),
    }


def scores_for(
    tournaments: Sequence[Tournament],
    state: PlayerState,
    event: Record,
    profile: Record,
    bound: Callable[[], Bound],
    earned: Sequence[Record],
    currencies: Currencies,
) -> list[Score]:
    """Every tournament's score update for one decided event (the engine's one call)."""
    updates = (score(t, state, event, profile, bound, earned, currencies) for t in tournaments)
    return [u for u in updates if u is not None]
