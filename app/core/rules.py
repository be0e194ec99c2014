"""Rules as the engine runs them: compiled, versioned, indexed by event type and game.

A ruleset document (YAML, validated, published to ``crm-rules``) compiles into these
immutable objects once per version; the engine then evaluates only the rules indexed under
an event's (type, game), so the cost per event grows with the rules that could fire on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.core.cel import Bound

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
class Mission:
    """``steps`` matching events within a period; each step is journaled as progress."""

    steps: int
    period: str


@dataclass(frozen=True, slots=True)
class Multiplier:
    factor: float
    when: Expression | None = None
    promo: Window | None = None
    promo_name: str | None = None


@dataclass(frozen=True, slots=True)
class RewardSpec:
    kind: str
    #: a fixed amount, or an expression giving one
    amount: int | Expression = 1
    #: CASHBACK_OFFER: this percentage of the stakes lost in the streak (minor units)
    percent_of_streak_stakes: float | None = None
    message: str | None = None
    badge: str | None = None
    #: the product category of the incentive (casino, sports, poker, bingo…)
    product: str = "casino"
    #: for bonus money: how many times it must be wagered before it can be withdrawn
    wagering: int | None = None
    #: the marketing channel it reaches the player by (consent is per product and channel)
    channel: str = "widget"


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

    def scope(self, game: str) -> str:
        """The state key of this rule for an event in ``game``."""
        return f"{self.rule_id}:{game}" if self.per_game else self.rule_id


MARKETING_KINDS = frozenset(
    {"CASHBACK_OFFER", "CHAT_SHOUTOUT", "FREE_SIDE_BET", "WHEEL_SPIN", "MULTIPLIER"}
)


@dataclass(frozen=True, slots=True)
class Protection:
    """Responsible-gaming limits the engine enforces on every grant (defaults:
    docs/responsible-gaming.md)."""

    #: POINTS a player may earn in their local day; the excess is held back
    daily_points_cap: int | None = 1000
    #: a net loss of at least this (minor units) within ``net_loss_within_ms`` starts a cool-down
    net_loss_minor: int = 50_000
    net_loss_within_ms: int = 15 * 60_000
    #: this many losing settlements within ``losses_within_ms`` starts a cool-down
    losses: int = 8
    losses_within_ms: int = 10 * 60_000
    #: loss chasing: after this many losses in a row, a losing stake of at least
    #: ``chase_stake_factor`` times the run's first stake starts a cool-down
    chase_losses: int = 3
    chase_stake_factor: float = 2.0
    cooldown_ms: int = 30 * 60_000
    cooldown_message: str = (
        "You've had a run of losses. Take a break: rewards and offers are paused for "
        "{minutes} minutes."
    )
    #: kinds that are marketing: they need the player's consent for their product and channel
    marketing_kinds: frozenset[str] = MARKETING_KINDS
    version: int = 1


@dataclass(frozen=True, slots=True)
class CountryRules:
    """What one country's policy means for a single grant (built from the policy file)."""

    allowed_kinds: frozenset[str]
    cross_product: bool


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


@dataclass(frozen=True, slots=True)
class Leaderboard:
    board_id: str
    kind: str
    period: str
    per_game: bool
    top: int


@dataclass(frozen=True)
class Ruleset:
    """An immutable set of rules, levels and leaderboards with an index for the hot path."""

    rules: tuple[Rule, ...]
    ruleset_id: str = "default"
    revision: int = 0
    levels: tuple[Level, ...] = ()
    levels_version: int = 1
    leaderboards: tuple[Leaderboard, ...] = ()
    protection: Protection = Protection()
    #: how far behind a player's newest event another may arrive and still be decided
    lateness_ms: int = 3_600_000
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
