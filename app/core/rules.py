"""Rules as the engine runs them: compiled, versioned, indexed by event type and game.

A ruleset document (YAML, validated, published to ``crm-rules``) compiles into these
immutable objects once per version; the engine then evaluates only the rules indexed under
an event's (type, game), so the cost per event grows with the rules that could fire on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.core.cel import Bound
from app.core.money import NO_CONVERSION, Currencies

if TYPE_CHECKING:
    from app.core.tournaments import Tournament

#: A compiled expression: evaluated against the bound ``{"event", "profile", "state", ...}``.
Expression = Callable[[Bound], object]

ANY_GAME = "*"
PERIODS = ("day", "week", "ever")


@dataclass(frozen=True, slots=True)
class Window:
    """A time window of event time, half-open: ``start <= t < end`` (epoch ms)."""

    start: int
    end: int

    def contains(self, t: int) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True, slots=True)
class Streak:
    """Consecutive matching events; ``breaks`` resets, anything else leaves it alone."""

    counts: Expression
    breaks: Expression | None
    length: int
    per_game: bool = False


@dataclass(frozen=True, slots=True)
class WindowCount:
    """At least ``count_at_least`` matching events, or ``sum`` reaching ``sum_at_least``,
    within a sliding window of ``within_ms`` of event time."""

    within_ms: int
    count_at_least: int | None = None
    sum: Expression | None = None
    sum_at_least: int | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """One task of a mission: ``count`` events of ``event_types`` (empty: any of the rule's)
    that meet ``when``. The one-task form (``steps: N``) is a task with no id."""

    task_id: str
    count: int
    event_types: frozenset[str] = frozenset()
    when: Expression | None = None


@dataclass(frozen=True, slots=True)
class Mission:
    """Tasks to finish within a period (``app.core.missions``); each step is journaled as
    progress. ``steps`` is the sum of the tasks' counts."""

    steps: int
    period: str
    tasks: tuple[Task, ...] = ()
    #: the tasks are done one after the other (else in any order, an event counting for each)
    in_order: bool = False
    #: progress only after the player's OPT_IN command (OPT_OUT drops it)
    opt_in: bool = False
    #: mission rule ids the player must have completed first
    requires: tuple[str, ...] = ()
    #: how long after the opt-in (or the first step) it may take, in event time
    time_limit_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Multiplier:
    factor: float
    when: Expression | None = None
    promo: Window | None = None
    promo_name: str | None = None


#: The events "the next N bets" of a boost counts.
BET_EVENTS = frozenset({"BET_PLACED", "SIDE_BET_PLACED"})


@dataclass(frozen=True, slots=True)
class BoostSpec:
    """What a MULTIPLIER grant becomes: a boost of later grants in its scope until its end."""

    factor: float
    #: reward kinds it multiplies
    kinds: frozenset[str] = frozenset({"POINTS"})
    #: games it applies to; empty means every game
    games: frozenset[str] = frozenset()
    #: a table id, "same" (the table the boost was won at), or None (every table)
    table: str | None = None
    #: how long it lasts in event time from the grant (None: until its bets are used)
    duration_ms: int | None = None
    #: it applies to the grants of this many bets (BET_PLACED, SIDE_BET_PLACED) in scope
    bets: int | None = None


@dataclass(frozen=True, slots=True)
class RewardSpec:
    kind: str
    #: a fixed amount, or an expression giving one
    amount: int | Expression = 1
    #: CASHBACK_OFFER: this percentage of the stakes lost in the streak (minor units)
    percent_of_streak_stakes: float | None = None
    message: str | None = None
    #: the message per language tag (normalised: ``app.core.languages``); ``message`` else
    messages: Mapping[str, str] = field(default_factory=dict)
    badge: str | None = None
    #: the product category of the incentive (casino, sports, poker, bingo…)
    product: str = "casino"
    #: for bonus money: how many times it must be wagered before it can be withdrawn
    wagering: int | None = None
    #: the marketing channel it reaches the player by (consent is per product and channel)
    channel: str = "widget"
    #: MULTIPLIER: the boost it starts
    boost: BoostSpec | None = None
    #: WHEEL_SPIN: the mini-game (wheel, scratch card, gift box) the spin plays
    minigame: str | None = None
    #: the player must CLAIM it within this long (ms) of its grant (``app.core.claims``)
    claim_within_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: int
    reward: RewardSpec


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    version: int
    event_types: frozenset[str]
    #: games it applies to; empty means every game
    games: frozenset[str]
    when: Expression | None
    reward: RewardSpec
    #: "event" (every match), "streak", "window" or "mission"
    trigger: str = "event"
    streak: Streak | None = None
    window: WindowCount | None = None
    mission: Mission | None = None
    #: fire at most once per: "day", "week", "ever", "streak", or None
    once_per: str | None = None
    #: scope once-per limits, missions and windows per game
    per_game: bool = False
    active: Window | None = None
    multipliers: tuple[Multiplier, ...] = ()
    variants: tuple[Variant, ...] = ()
    #: most of this rule's reward amount a player may get per period
    caps: tuple[Cap, ...] = ()
    description: str = ""
    #: the share of players this rule holds out (``app.core.experiments``), 0 to 1
    holdout: float = 0.0

    def scope(self, game: str) -> str:
        """The state key of this rule for an event in ``game``."""
        return f"{self.rule_id}:{game}" if self.per_game else self.rule_id


MARKETING_KINDS = frozenset(
    {"CASHBACK_OFFER", "CHAT_SHOUTOUT", "FREE_SIDE_BET", "WHEEL_SPIN", "MULTIPLIER"}
)


#: Risk levels, lowest first: a level's number is its index.
RISK_LEVELS = ("none", "low", "medium", "high")
#: The level each marker sets on its own (docs/responsible-gaming.md, "Markers").
MARKER_LEVELS = {
    "rapid_loss_amount": 3,
    "rapid_loss_count": 2,
    "loss_chasing": 3,
    "stake_chasing": 2,
    "stake_escalation": 2,
    "session_marathon": 2,
    "session_long": 1,
    "night_play": 1,
    "deposit_frequency": 2,
    "deposit_failed": 1,
    "withdrawal_cancelled": 1,
}
RISK_MESSAGES = {
    "low": "Reality check: you have played for {minutes} minutes this session, net result {net}.",
    "medium": "You have played for {minutes} minutes this session, net result {net}. "
    "Offers are paused for now; a break can help.",
}


@dataclass(frozen=True, slots=True)
class Protection:
    """Responsible-gaming limits the engine enforces on every grant (defaults:
    docs/responsible-gaming.md)."""

    #: POINTS a player may earn in their local day; the excess is held back
    daily_points_cap: int | None = 1000
    #: a net loss of at least this (minor units) within ``net_loss_within_ms`` starts a cool-down
    net_loss_minor: int = 75_000
    net_loss_within_ms: int = 15 * 60_000
    #: ... or of this many of the player's usual round stakes, when that is more
    net_loss_stakes: int = 40
    #: this many losing rounds within ``losses_within_ms`` starts a cool-down
    losses: int = 20
    losses_within_ms: int = 10 * 60_000
    #: loss chasing: after this many losing rounds in a row, each staking more than the last,
    #: a losing round staking ``chase_stake_factor`` times the run's first starts a cool-down
    chase_losses: int = 5
    chase_stake_factor: float = 3.0
    #: stake_chasing: ``chase_raises`` of the last ``chase_raises_within`` rounds staked at
    #: least ``chase_raise_factor`` times the losing round before them, per bet
    chase_raises: int = 5
    chase_raises_within: int = 12
    chase_raise_factor: float = 2.0
    #: a session is play without a break of ``session_break_ms``; at ``session_long_ms`` it
    #: sets the session_long marker, at ``session_marathon_ms`` session_marathon
    session_break_ms: int = 20 * 60_000
    session_long_ms: int = 90 * 60_000
    session_marathon_ms: int = 180 * 60_000
    #: play at these local hours of the player's day (``from`` <= hour < ``until``, wrapping
    #: past midnight when ``from`` > ``until``) sets night_play
    night_from: int = 1
    night_until: int = 6
    #: a round's stake per bet of ``escalation_factor`` times the mean of the session's first
    #: ``escalation_baseline`` rounds' stakes per bet sets stake_escalation
    escalation_baseline: int = 10
    escalation_factor: float = 5.0
    #: this many completed deposits within ``deposits_within_ms`` sets deposit_frequency; a
    #: failed deposit sets deposit_failed, a cancelled withdrawal withdrawal_cancelled
    deposits_frequent: int = 5
    deposits_within_ms: int = 24 * 3_600_000
    #: a marker counts towards the risk level this long after it was last seen
    risk_window_ms: int = 60 * 60_000
    #: this many distinct markers at the top level raise the level one step
    risk_accumulate: int = 2
    #: marker -> the level (1 low, 2 medium, 3 high) it sets on its own
    marker_levels: Mapping[str, int] = field(default_factory=lambda: dict(MARKER_LEVELS))
    #: the reality-check message per level name (low, medium)
    risk_messages: Mapping[str, str] = field(default_factory=lambda: dict(RISK_MESSAGES))
    cooldown_ms: int = 30 * 60_000
    cooldown_message: str = (
        "You've had a run of losses. Take a break: rewards and offers are paused for "
        "{minutes} minutes."
    )
    #: the cool-down message per language tag
    cooldown_messages: Mapping[str, str] = field(default_factory=dict)
    #: kinds that are marketing: they need the player's consent for their product and channel
    marketing_kinds: frozenset[str] = MARKETING_KINDS
    version: int = 1


@dataclass(frozen=True, slots=True)
class CountryRules:
    """What one country's policy means for a single grant (built from the policy file)."""

    allowed_kinds: frozenset[str]
    cross_product: bool
    #: rewards only for a player whose KYC status is VERIFIED (``app.core.accounts``)
    kyc_required: bool = False
    #: deposit patterns journaled for the AML team (DEPOSIT_FLAGGED); None: not flagged
    deposit_flags: DepositFlags | None = None


@dataclass(frozen=True, slots=True)
class DepositFlags:
    """A market's deposit patterns for the AML team: one deposit of at least ``amount_minor``
    (house minor units), or ``count`` completed deposits within ``within_ms``."""

    amount_minor: int | None = None
    count: int | None = None
    within_ms: int = 3_600_000


@dataclass(frozen=True)
class Jurisdictions:
    """The per-country policies as the engine applies them, per player, per grant."""

    default: CountryRules
    countries: dict[str, CountryRules] = field(default_factory=dict)
    products_by_game: dict[str, str] = field(default_factory=dict)

    def for_country(self, code: str | None) -> CountryRules:
        return self.countries.get((code or "").upper(), self.default)

    def product_of(self, game: str) -> str:
        return self.products_by_game.get(game, "casino")


@dataclass(frozen=True, slots=True)
class Cap:
    period: str
    amount: int


@dataclass(frozen=True, slots=True)
class Level:
    level: int
    xp: int
    #: what reaching it grants, through the issue path (rule ``level:<n>``); None: nothing
    rule: Rule | None = None


@dataclass(frozen=True, slots=True)
class Leaderboard:
    board_id: str
    kind: str
    period: str
    per_game: bool
    top: int


@dataclass(frozen=True, slots=True)
class StoreItem:
    """An item of the points store (``app.core.store``): its price, what it grants (through
    ``rule``, a rule of its own, so the guards, caps and boosts apply as to any grant), and
    its limits."""

    item_id: str
    price: int
    rule: Rule
    #: the most sold overall (per partition: docs/rules.md, "The points store"); None: no limit
    stock: int | None = None
    #: the most one player may buy per period ("day", "week")
    per_player: tuple[Cap, ...] = ()
    available: Window | None = None
    #: ISO country codes where it is offered (upper case); empty: everywhere
    countries: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Sector:
    """A sector of a mini-game: its weight and what it grants (None: nothing)."""

    weight: int
    rule: Rule | None


@dataclass(frozen=True, slots=True)
class MiniGame:
    """A wheel, scratch card or gift box (``app.core.games``): weighted sectors; each sector
    that grants something does so through its own rule (``game:<id>:<sector>``)."""

    game_id: str
    kind: str
    version: int
    sectors: tuple[Sector, ...]
    #: the game's own rule (``game:<id>``): a play passes its guards as a WHEEL_SPIN would
    rule: Rule

    @property
    def total(self) -> int:
        return sum(s.weight for s in self.sectors)


@dataclass(frozen=True, slots=True)
class PointsExpiry:
    """Points earned in a UTC ``period`` (day or week) expire once ``after`` more of them
    have passed (``app.core.wallet``)."""

    period: str
    after: int


@dataclass(frozen=True)
class Ruleset:
    """An immutable set of rules, levels and leaderboards with an index for the hot path."""

    rules: tuple[Rule, ...]
    ruleset_id: str = "default"
    revision: int = 0
    levels: tuple[Level, ...] = ()
    levels_version: int = 1
    leaderboards: tuple[Leaderboard, ...] = ()
    #: scheduled competitions (``app.core.tournaments``)
    tournaments: tuple[Tournament, ...] = ()
    protection: Protection = Protection()
    #: the house currency and the rates into it (none: amounts are not converted)
    currencies: Currencies = NO_CONVERSION
    #: how far behind a player's newest event another may arrive and still be decided
    lateness_ms: int = 3_600_000
    #: the points store, by item id
    store: Mapping[str, StoreItem] = field(default_factory=dict)
    #: wheels, scratch cards and gift boxes, by id
    minigames: Mapping[str, MiniGame] = field(default_factory=dict)
    points_expiry: PointsExpiry | None = None
    #: the share of players every rule holds out (``experiments.holdout``), 0 to 1
    holdout: float = 0.0
    _index: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[Rule]] = {}
        for rule in self.rules:
            for event_type in rule.event_types:
                for game in rule.games or (ANY_GAME,):
                    index.setdefault((event_type, game), []).append(rule)
        self._index.update({key: tuple(rules) for key, rules in index.items()})

    def candidates(self, event_type: str, game: str) -> tuple[Rule, ...]:
        specific = self._index.get((event_type, game), ())
        generic = self._index.get((event_type, ANY_GAME), ())
        return specific + generic if specific and generic else specific or generic

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.rule_id == rule_id), None)


def level_for(levels: Iterable[Level], xp: int) -> int:
    """The highest level whose XP threshold ``xp`` reaches (1 when there are none)."""
    reached = [lv.level for lv in levels if xp >= lv.xp]
    return max(reached, default=1)
