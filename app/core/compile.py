"""Compile a ruleset document (the parsed YAML, or what ``crm-rules`` carries) into a Ruleset.

This is the one place that gives a document its meaning: the validator runs it to find
semantic errors, the worker runs it on every published revision, the replay runs it on
the revision that was in force. Errors name the rule and the field.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from app.core.accounts import DEPOSITS_KEPT, DEPOSITS_KEPT_MS
from app.core.cel import ExpressionError, compile_expression
from app.core.days import zone
from app.core.events import ACCOUNT_TYPES
from app.core.experiments import HOLDOUT, TREATED
from app.core.games import KINDS
from app.core.languages import normal_tag
from app.core.money import Currencies, rate_of
from app.core.rewards import QUANTITY_KINDS
from app.core.rules import (
    PERIODS,
    RISK_LEVELS,
    BoostSpec,
    Cap,
    Expression,
    Leaderboard,
    Level,
    MiniGame,
    Mission,
    Multiplier,
    PointsExpiry,
    Protection,
    RewardSpec,
    Rule,
    Ruleset,
    Sector,
    StoreItem,
    Streak,
    Task,
    Variant,
    Window,
    WindowCount,
)
from app.core.times import instant_ms
from app.core.tournaments import ONCE, Prize, Schedule, Tournament

REWARD_KINDS = (
    "POINTS", "XP", "BADGE", "WHEEL_SPIN", "FREE_SIDE_BET", "CASHBACK_OFFER", "CHAT_SHOUTOUT",
    "MULTIPLIER",
)  # fmt: skip
TABLE_EVENT_TYPES = (
    "ROUND_STARTED", "BET_PLACED", "BET_SETTLED", "SIDE_BET_PLACED", "SIDE_BET_SETTLED",
    "CHAT_MESSAGE", "PLAYER_JOINED", "PLAYER_LEFT", "ROUND_ENDED",
)  # fmt: skip
#: What a rule may listen to: table events and account events (``app.core.events``).
EVENT_TYPES = (*TABLE_EVENT_TYPES, *ACCOUNT_TYPES)
GAMES = ("BLACKJACK", "ROULETTE", "BACCARAT", "POKER", "GAME_SHOW", "OTHER")
TRIGGERS = ("event", "streak", "window", "mission")
MISSION_FIELDS = (
    "type", "steps", "tasks", "period", "order", "opt_in", "requires", "time_limit",
)  # fmt: skip
TASK_FIELDS = ("id", "events", "when", "count")
MISSION_ORDERS = ("any", "sequence")
ONCE_PER = (*PERIODS, "streak")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
#: A boost lasts this long when its rule gives neither ``for`` nor ``bets``.
DEFAULT_BOOST_MS = 3_600_000
BOOST_FIELDS = ("factor", "kinds", "games", "table", "for", "bets")
#: The largest factor a boost may have: a typo of 20 for 2.0 is refused, not paid.
BOOST_FACTOR_MAX = 10
_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

Compiler = Callable[[str, str, tuple[str, ...]], Expression]


class RulesetError(ValueError):
    """A document that does not compile; ``path`` is where, e.g. ``rules[1].trigger.length``."""

    def __init__(self, path: str, message: str, rule_id: str | None = None) -> None:
        self.path, self.message, self.rule_id = path, message, rule_id
        where = f"rule {rule_id}, " if rule_id else ""
        super().__init__(f"{where}{path}: {message}")


def parse_duration(value: Any, path: str) -> int:
    """``"10m"``, ``"90s"``, ``"1h"``, ``"2d"``, ``"500ms"`` or whole milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _DURATION.match(str(value).strip())
    if not match or int(match.group(1)) <= 0:
        raise RulesetError(path, f"{value!r} is not a duration like 90s, 10m, 1h or 2d")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_instant(value: Any, path: str) -> int:
    """An ISO-8601 instant with a zone (``2026-11-20T00:00:00Z``) as epoch millis."""
    try:
        return instant_ms(value if isinstance(value, datetime) else str(value))
    except ValueError as exc:
        raise RulesetError(path, str(exc)) from None


def window_of(spec: Any, path: str) -> Window:
    if not isinstance(spec, Mapping):
        raise RulesetError(path, f"must be a mapping with 'from' and 'until', got {spec!r}")
    start = parse_instant(spec.get("from"), f"{path}.from")
    end = parse_instant(spec.get("until"), f"{path}.until")
    if end <= start:
        raise RulesetError(f"{path}.until", "must be after 'from'")
    return Window(start, end)


class _RuleCompiler:
    """Compiles one rule, knowing its id and position for error messages."""

    def __init__(self, doc: Mapping, index: int, promos: dict[str, Window], cel: Compiler):
        self.doc, self.promos, self.cel = doc, promos, cel
        self.rule_id = str(doc.get("id") or f"#{index + 1}")
        self.base = f"rules[{index}]"

    def error(self, field: str, message: str) -> RulesetError:
        return RulesetError(f"{self.base}.{field}", message, self.rule_id)

    def expr(self, source: Any, field: str, expect: str = "bool", events: Any = None) -> Expression:
        """``events``: the event types it is dry-run on (default: the rule's)."""
        if not isinstance(source, str) or not source.strip():
            raise self.error(field, "must be a CEL expression (text)")
        events = self.doc.get("events") if events is None else events
        event_types = (
            tuple(e for e in events if e in EVENT_TYPES) if isinstance(events, list) else ()
        )
        try:
            return self.cel(source, expect, event_types)
        except ExpressionError as exc:
            raise self.error(field, str(exc)) from None

    def optional_expr(self, source: Any, field: str) -> Expression | None:
        return None if source is None else self.expr(source, field)

    def positive_int(self, value: Any, field: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.error(field, f"must be a whole number of at least 1, got {value!r}")
        return value

    def choice(self, value: Any, field: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.error(field, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def reward(self, spec: Any, field: str, base: RewardSpec | None = None) -> RewardSpec:
        if not isinstance(spec, Mapping):
            raise self.error(field, "must be a mapping with at least 'kind'")
        kind = spec.get("kind", base.kind if base else None)
        kind = self.choice(kind, f"{field}.kind", REWARD_KINDS)
        amount: int | Expression = base.amount if base else 1
        if "amount" in spec:
            raw = spec["amount"]
            if isinstance(raw, bool):
                raise self.error(f"{field}.amount", "must be a number or a CEL expression")
            amount = raw if isinstance(raw, int) else self.expr(raw, f"{field}.amount", "number")
        percent = spec.get(
            "percent_of_streak_stakes", base.percent_of_streak_stakes if base else None
        )
        if percent is not None and (
            isinstance(percent, bool)
            or not isinstance(percent, int | float)
            or not 0 < percent <= 100
        ):
            raise self.error(
                f"{field}.percent_of_streak_stakes", "must be a percentage in (0, 100]"
            )
        if percent is not None and self.doc.get("trigger", {}).get("type") not in (
            "streak",
            "window",
        ):
            raise self.error(
                f"{field}.percent_of_streak_stakes", "needs a streak or window trigger"
            )
        badge = spec.get("badge", base.badge if base else None)
        if kind == "BADGE" and not badge:
            raise self.error(f"{field}.badge", "a BADGE reward needs a badge name")
        wagering = spec.get("wagering", base.wagering if base else None)
        if wagering is not None and (
            isinstance(wagering, bool) or not isinstance(wagering, int) or wagering < 0
        ):
            raise self.error(f"{field}.wagering", "must be a whole multiple (0 or more)")
        default_channel = "chat" if kind == "CHAT_SHOUTOUT" else "widget"
        minigame = spec.get("minigame", base.minigame if base else None)
        if minigame is not None and kind != "WHEEL_SPIN":
            raise self.error(f"{field}.minigame", "only a WHEEL_SPIN reward plays a mini-game")
        boost = None
        if kind == "MULTIPLIER":
            boost = self.boost(spec.get("boost"), amount, f"{field}.boost", base)
        elif "boost" in spec:
            raise self.error(f"{field}.boost", "only a MULTIPLIER reward starts a boost")
        claim_within = base.claim_within_ms if base else None
        if "claim" in spec:
            claim_within = self.claim(spec["claim"], kind, f"{field}.claim")
        return RewardSpec(
            kind=kind,
            amount=amount,
            percent_of_streak_stakes=percent,
            message=spec.get("message", base.message if base else None),
            messages=_messages(spec["messages"], f"{self.base}.{field}.messages", self.rule_id)
            if "messages" in spec
            else (base.messages if base else {}),
            badge=badge,
            product=str(spec.get("product", base.product if base else "casino")),
            wagering=wagering,
            channel=str(spec.get("channel", base.channel if base else default_channel)),
            boost=boost,
            minigame=None if minigame is None else str(minigame),
            claim_within_ms=claim_within,
        )

    def claim(self, spec: Any, kind: str, field: str) -> int:
        """``claim: {within: 24h}``: how long the player has to CLAIM the reward."""
        if kind == "MULTIPLIER":
            raise self.error(field, "a MULTIPLIER's boost starts when won: it is not claimed")
        if not isinstance(spec, Mapping) or "within" not in spec:
            raise self.error(field, "must be a mapping with 'within' (a duration like 24h)")
        return parse_duration(spec["within"], f"{self.base}.{field}.within")

    def boost(
        self, spec: Any, amount: int | Expression, field: str, base: RewardSpec | None
    ) -> BoostSpec:
        """A MULTIPLIER's boost: ``factor`` (else the whole ``amount``), what it multiplies,
        and its end; a variant without a ``boost`` keeps the rule's."""
        if spec is None and base is not None and base.boost is not None:
            return base.boost
        spec = self.mapping({} if spec is None else spec, field)
        unknown = sorted(set(spec) - set(BOOST_FIELDS))
        if unknown:
            raise self.error(
                f"{field}.{unknown[0]}", f"unknown field (a boost takes {', '.join(BOOST_FIELDS)})"
            )
        factor = spec.get("factor", amount if isinstance(amount, int) else None)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not 1 < factor <= BOOST_FACTOR_MAX
        ):
            raise self.error(
                f"{field}.factor",
                f"a MULTIPLIER needs a factor above 1 and at most {BOOST_FACTOR_MAX}: give "
                f"boost.factor or a whole amount of at least 2 (got {factor!r})",
            )
        kinds = self.names(spec.get("kinds", ["POINTS"]), f"{field}.kinds", QUANTITY_KINDS)
        if not kinds:
            raise self.error(f"{field}.kinds", "must list at least one reward kind")
        games = self.names(spec.get("games", []), f"{field}.games", GAMES)
        table = spec.get("table")
        if table is not None and (not isinstance(table, str) or not table.strip()):
            raise self.error(f"{field}.table", "must be a table id, or 'same' (where it was won)")
        lasts, bets = spec.get("for"), spec.get("bets")
        return BoostSpec(
            factor=float(factor),
            kinds=frozenset(kinds),
            games=frozenset(games),
            table=table,
            duration_ms=parse_duration(lasts, f"{self.base}.{field}.for")
            if lasts is not None
            else (DEFAULT_BOOST_MS if bets is None else None),
            bets=None if bets is None else self.positive_int(bets, f"{field}.bets"),
        )

    def names(self, values: Any, field: str, allowed: Iterable[str]) -> list[str]:
        """A list of names, each one of ``allowed``."""
        if not isinstance(values, list):
            raise self.error(field, f"must be a list, got {values!r}")
        choices = tuple(sorted(allowed))
        return [self.choice(v, f"{field}[{i}]", choices) for i, v in enumerate(values)]

    def mapping(self, spec: Any, field: str) -> Mapping[str, Any]:
        if not isinstance(spec, Mapping):
            raise self.error(field, f"must be a mapping, got {spec!r}")
        return spec

    def trigger(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        spec = self.mapping(spec, "trigger")
        kind = self.choice(spec.get("type", "event"), "trigger.type", TRIGGERS)
        out: dict[str, Any] = {"trigger": kind}
        if kind == "streak":
            out["streak"] = Streak(
                counts=self.expr(spec.get("counts"), "trigger.counts"),
                breaks=self.optional_expr(spec.get("breaks"), "trigger.breaks"),
                length=self.positive_int(spec.get("length"), "trigger.length"),
                per_game=bool(spec.get("per_game", False)),
            )
        elif kind == "window":
            within = parse_duration(spec.get("within"), f"{self.base}.trigger.within")
            count, total = spec.get("count_at_least"), spec.get("sum_at_least")
            if (count is None) == (total is None):
                raise self.error("trigger", "give exactly one of count_at_least or sum_at_least")
            out["window"] = WindowCount(
                within_ms=within,
                count_at_least=None
                if count is None
                else self.positive_int(count, "trigger.count_at_least"),
                sum=None if total is None else self.expr(spec.get("sum"), "trigger.sum", "number"),
                sum_at_least=None
                if total is None
                else self.positive_int(total, "trigger.sum_at_least"),
            )
        elif kind == "mission":
            out["mission"] = self.mission(spec)
        return out

    def mission(self, spec: Mapping[str, Any]) -> Mission:
        """``steps: N`` (one task) or named ``tasks``, in ``order``, with the opt-in,
        prerequisites and time limit (``app.core.missions``)."""
        unknown = sorted(set(spec) - set(MISSION_FIELDS))
        if unknown:
            problem = f"unknown field (a mission takes {', '.join(MISSION_FIELDS[1:])})"
            raise self.error(f"trigger.{unknown[0]}", problem)
        steps, tasks = spec.get("steps"), spec.get("tasks")
        if (steps is None) == (tasks is None):
            raise self.error("trigger", "give exactly one of steps or tasks")
        if tasks is None:
            compiled = (Task("", self.positive_int(steps, "trigger.steps")),)
        else:
            compiled = self.tasks(tasks)
        opt_in = spec.get("opt_in", False)
        if not isinstance(opt_in, bool):
            raise self.error("trigger.opt_in", f"must be true or false, got {opt_in!r}")
        if opt_in and self.doc.get("per") == "game":
            raise self.error("trigger.opt_in", "a player opts in to a mission, not per game")
        requires = spec.get("requires") or []
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            raise self.error("trigger.requires", "must list mission rule ids")
        if self.rule_id in requires:
            raise self.error("trigger.requires", "a mission cannot require itself")
        limit = spec.get("time_limit")
        order = self.choice(spec.get("order", "any"), "trigger.order", MISSION_ORDERS)
        return Mission(
            steps=sum(task.count for task in compiled),
            period=self.choice(spec.get("period", "day"), "trigger.period", PERIODS),
            tasks=compiled,
            in_order=order == "sequence",
            opt_in=opt_in,
            requires=tuple(requires),
            time_limit_ms=None
            if limit is None
            else parse_duration(limit, f"{self.base}.trigger.time_limit"),
        )

    def tasks(self, specs: Any) -> tuple[Task, ...]:
        """A mission's named tasks: each ``count`` events (of its ``events``, a subset of
        the rule's) that meet its ``when``."""
        if not isinstance(specs, list) or not specs:
            raise self.error("trigger.tasks", "must list at least one task")
        rule_events = self.doc.get("events")
        allowed = tuple(rule_events) if isinstance(rule_events, list) else ()
        out: list[Task] = []
        for i, spec in enumerate(specs):
            field = f"trigger.tasks[{i}]"
            spec = self.mapping(spec, field)
            unknown = sorted(set(spec) - set(TASK_FIELDS))
            if unknown:
                problem = f"unknown field (a task takes {', '.join(TASK_FIELDS)})"
                raise self.error(f"{field}.{unknown[0]}", problem)
            task_id = str(spec.get("id") or "")
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", task_id):
                raise self.error(f"{field}.id", "needs an id of lower-case letters, digits, dashes")
            if any(t.task_id == task_id for t in out):
                raise self.error(f"{field}.id", f"{task_id!r} is given twice")
            events = spec.get("events")
            if events is not None:
                events = self.names(events, f"{field}.events", allowed)
            when = spec.get("when")
            out.append(
                Task(
                    task_id=task_id,
                    count=self.positive_int(spec.get("count", 1), f"{field}.count"),
                    event_types=frozenset(events or ()),
                    when=None if when is None else self.expr(when, f"{field}.when", "bool", events),
                )
            )
        return tuple(out)

    def multipliers(self, specs: Any) -> tuple[Multiplier, ...]:
        out = []
        for i, spec in enumerate(specs or ()):
            field = f"multipliers[{i}]"
            spec = self.mapping(spec, field)
            factor = spec.get("factor")
            if not isinstance(factor, int | float) or isinstance(factor, bool) or factor <= 0:
                raise self.error(f"{field}.factor", "must be a positive number")
            promo_name = spec.get("promo")
            if promo_name is not None and promo_name not in self.promos:
                known = ", ".join(self.promos) or "none"
                raise self.error(
                    f"{field}.promo", f"no promo named {promo_name!r} (known: {known})"
                )
            out.append(
                Multiplier(
                    factor=float(factor),
                    when=self.optional_expr(spec.get("when"), f"{field}.when"),
                    promo=self.promos.get(promo_name) if promo_name else None,
                    promo_name=promo_name,
                )
            )
        return tuple(out)

    def variants(self, specs: Any, base: RewardSpec) -> tuple[Variant, ...]:
        out = []
        for i, spec in enumerate(specs or ()):
            field = f"variants[{i}]"
            spec = self.mapping(spec, field)
            name = spec.get("name")
            if not name:
                raise self.error(f"{field}.name", "every variant needs a name")
            if name in (HOLDOUT, TREATED):
                raise self.error(f"{field}.name", f"{name!r} names an experiment's own arm")
            weight = self.positive_int(spec.get("weight", 1), f"{field}.weight")
            reward = (
                self.reward(spec.get("reward", {}), f"{field}.reward", base)
                if spec.get("reward")
                else base
            )
            out.append(Variant(str(name), weight, reward))
        if len({v.name for v in out}) != len(out):
            raise self.error("variants", "variant names must be unique")
        return tuple(out)

    def caps(self, spec: Any) -> tuple[Cap, ...]:
        if spec is None:
            return ()
        spec = self.mapping(spec, "caps")
        caps = []
        for key, period in (("per_day", "day"), ("per_week", "week")):
            if key in spec:
                caps.append(Cap(period, self.positive_int(spec[key], f"caps.{key}")))
        unknown = set(spec) - {"per_day", "per_week"}
        if unknown:
            raise self.error("caps", f"unknown cap {sorted(unknown)[0]!r} (use per_day, per_week)")
        return tuple(caps)

    def compile(self, version: int) -> Rule:
        doc = self.doc
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", str(doc.get("id") or "")):
            raise self.error("id", "needs an id of lower-case letters, digits and dashes")
        on = doc.get("events")
        if not on or not isinstance(on, list):
            raise self.error("events", "list the event types the rule listens to")
        for i, event_type in enumerate(on):
            self.choice(event_type, f"events[{i}]", EVENT_TYPES)
        for i, game in enumerate(doc.get("games") or ()):
            self.choice(game, f"games[{i}]", GAMES)
        trigger = self.trigger(doc.get("trigger") if doc.get("trigger") is not None else {})
        once_per = doc.get("once_per")
        if once_per is not None:
            self.choice(once_per, "once_per", ONCE_PER)
            if once_per == "streak" and trigger["trigger"] != "streak":
                raise self.error("once_per", "'streak' needs a streak trigger")
        per = doc.get("per")
        if per not in (None, "game"):
            raise self.error("per", f"{per!r} is not a scope (use: game)")
        reward = self.reward(doc.get("reward"), "reward")
        return Rule(
            rule_id=self.rule_id,
            version=version,
            event_types=frozenset(on),
            games=frozenset(doc.get("games") or ()),
            when=self.optional_expr(doc.get("when"), "when"),
            reward=reward,
            once_per=once_per,
            per_game=per == "game",
            active=window_of(doc["active"], f"{self.base}.active") if doc.get("active") else None,
            multipliers=self.multipliers(doc.get("multipliers")),
            variants=self.variants(doc.get("variants"), reward),
            caps=self.caps(doc.get("caps")),
            description=str(doc.get("description") or ""),
            holdout=holdout_share(doc.get("holdout", 0), f"{self.base}.holdout", self.rule_id),
            **trigger,
        )


def compile_ruleset(
    doc: Mapping[str, Any], cel: Compiler = compile_expression, *, whole: bool = True
) -> Ruleset:
    """The Ruleset a document describes; raises RulesetError naming rule and field.
    ``whole=False``: a part of a document (the validator compiles rule by rule), so what
    a rule names of other rules (a mission's ``requires``) is not checked."""
    if not isinstance(doc, Mapping):
        raise RulesetError("(top)", "a ruleset is a mapping with 'ruleset' and 'rules'")
    promos = {
        str(name): window_of(spec, f"promos.{name}")
        for name, spec in (doc.get("promos") or {}).items()
    }
    rules_doc = doc.get("rules")
    if not isinstance(rules_doc, list):
        raise RulesetError("rules", "must be a list of rules")
    rules = []
    for i, rule_doc in enumerate(rules_doc):
        if not isinstance(rule_doc, Mapping):
            raise RulesetError(f"rules[{i}]", "each rule is a mapping")
        rules.append(
            _RuleCompiler(rule_doc, i, promos, cel).compile(int(rule_doc.get("version", 1)))
        )
    ids = [r.rule_id for r in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RulesetError("rules", f"rule ids must be unique; repeated: {', '.join(duplicates)}")
    minigames = _minigames(doc.get("minigames") or (), promos, cel)
    store = _store(doc.get("store") or (), promos, cel)
    levels_version = int(doc.get("levels_version", 1))
    levels = _levels(doc.get("levels") or (), levels_version, promos, cel)
    _check_minigames_named(rules, store, minigames, levels)
    if whole:
        _check_requires(rules)
    return Ruleset(
        rules=tuple(rules),
        ruleset_id=str(doc.get("ruleset") or "default"),
        revision=int(doc.get("revision", 0)),
        levels=levels,
        levels_version=levels_version,
        leaderboards=_leaderboards(doc.get("leaderboards") or ()),
        tournaments=_tournaments(doc.get("tournaments") or (), doc.get("leaderboards"), cel),
        protection=_protection(doc.get("protection")),
        currencies=_currencies(doc.get("currencies")),
        lateness_ms=parse_duration(doc.get("lateness", "1h"), "lateness"),
        store=store,
        minigames=minigames,
        points_expiry=_points_expiry(doc.get("points_expiry")),
        holdout=_experiments(doc.get("experiments")),
    )


def _protection(spec: Any) -> Protection:
    """The ruleset's responsible-gaming thresholds over the defaults; none can be switched off."""
    if spec is None:
        return Protection()
    if not isinstance(spec, Mapping):
        raise RulesetError("protection", f"must be a mapping, got {spec!r}")
    base = Protection()

    def number(path: str, value: Any, minimum: float = 1) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise RulesetError(f"protection.{path}", f"must be a number of at least {minimum}")
        return value

    parts = ("rapid_loss", "loss_chasing", "cooldown", "session", "night_play")
    rapid, chasing, cooldown, session, night = (spec.get(name) or {} for name in parts)
    escalation, risk = spec.get("stake_escalation") or {}, spec.get("risk") or {}
    for name, part in (*zip(parts, (rapid, chasing, cooldown, session, night), strict=True),
                       ("stake_escalation", escalation), ("risk", risk)):  # fmt: skip
        if not isinstance(part, Mapping):
            raise RulesetError(f"protection.{name}", f"must be a mapping, got {part!r}")
    cap = spec.get("daily_points_cap", base.daily_points_cap)
    kinds = spec.get("marketing_kinds", sorted(base.marketing_kinds))
    for i, kind in enumerate(kinds):
        if kind not in REWARD_KINDS:
            raise RulesetError(f"protection.marketing_kinds[{i}]", f"{kind!r} is not a reward kind")
    return Protection(
        daily_points_cap=None if cap is None else int(number("daily_points_cap", cap, 0)),
        net_loss_minor=int(
            number("rapid_loss.net_loss_minor", rapid.get("net_loss_minor", base.net_loss_minor))
        ),
        net_loss_stakes=int(
            number("rapid_loss.net_loss_stakes", rapid.get("net_loss_stakes", base.net_loss_stakes))
        ),
        net_loss_within_ms=parse_duration(
            rapid.get("net_loss_within", base.net_loss_within_ms),
            "protection.rapid_loss.net_loss_within",
        ),
        losses=int(number("rapid_loss.losses", rapid.get("losses", base.losses))),
        losses_within_ms=parse_duration(
            rapid.get("losses_within", base.losses_within_ms), "protection.rapid_loss.losses_within"
        ),
        chase_losses=int(number("loss_chasing.losses", chasing.get("losses", base.chase_losses))),
        chase_stake_factor=float(
            number(
                "loss_chasing.stake_factor",
                chasing.get("stake_factor", base.chase_stake_factor),
                1.01,
            )
        ),
        **_raises(chasing, base, number),
        **_session(session, base),
        **_night(night, base),
        escalation_baseline=int(
            number(
                "stake_escalation.baseline_rounds",
                escalation.get("baseline_rounds", base.escalation_baseline),
            )
        ),
        escalation_factor=float(
            number(
                "stake_escalation.factor", escalation.get("factor", base.escalation_factor), 1.01
            )
        ),
        **_risk(risk, base, number),
        **_deposits(spec.get("deposits") or {}, base, number),
        cooldown_ms=parse_duration(
            cooldown.get("duration", base.cooldown_ms), "protection.cooldown.duration"
        ),
        cooldown_message=str(cooldown.get("message", base.cooldown_message)),
        cooldown_messages=_messages(cooldown.get("messages", {}), "protection.cooldown.messages"),
        marketing_kinds=frozenset(kinds),
        version=int(spec.get("version", 1)),
    )


def _raises(spec: Mapping, base: Protection, number: Callable[..., Any]) -> dict[str, Any]:
    """stake_chasing: how many raises after a loss, within how many rounds, by what factor."""
    path = "loss_chasing"
    out = {
        "chase_raises": int(number(f"{path}.raises", spec.get("raises", base.chase_raises))),
        "chase_raises_within": int(
            number(f"{path}.raises_within", spec.get("raises_within", base.chase_raises_within))
        ),
        "chase_raise_factor": float(
            number(f"{path}.raise_factor", spec.get("raise_factor", base.chase_raise_factor), 1.01)
        ),
    }
    if not out["chase_raises"] <= out["chase_raises_within"] <= 64:
        raise RulesetError(
            f"protection.{path}.raises_within", "must be at least 'raises' and at most 64 rounds"
        )
    return out


def _session(spec: Mapping, base: Protection) -> dict[str, int]:
    """A session's break and the lengths that set session_long and session_marathon."""
    path = "protection.session"
    out = {
        "session_break_ms": parse_duration(
            spec.get("break", base.session_break_ms), f"{path}.break"
        ),
        "session_long_ms": parse_duration(spec.get("long", base.session_long_ms), f"{path}.long"),
        "session_marathon_ms": parse_duration(
            spec.get("marathon", base.session_marathon_ms), f"{path}.marathon"
        ),
    }
    if out["session_marathon_ms"] <= out["session_long_ms"]:
        raise RulesetError(f"{path}.marathon", "must be longer than session.long")
    return out


def _night(spec: Mapping, base: Protection) -> dict[str, int]:
    """The local hours that set night_play: ``from`` <= hour < ``until`` (may wrap midnight)."""
    hours = {}
    for name, default in (("from", base.night_from), ("until", base.night_until)):
        value = spec.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
            raise RulesetError(
                f"protection.night_play.{name}", f"must be an hour from 0 to 23, got {value!r}"
            )
        hours[f"night_{name}"] = value
    if hours["night_from"] == hours["night_until"]:
        raise RulesetError("protection.night_play.until", "must differ from 'from'")
    return hours


def _deposits(spec: Any, base: Protection, number: Callable[..., Any]) -> dict[str, int]:
    """How many completed deposits within how long set deposit_frequency (account events)."""
    if not isinstance(spec, Mapping):
        raise RulesetError("protection.deposits", f"must be a mapping, got {spec!r}")
    frequent = int(number("deposits.frequent", spec.get("frequent", base.deposits_frequent), 2))
    if frequent > DEPOSITS_KEPT:
        raise RulesetError("protection.deposits.frequent", f"must be at most {DEPOSITS_KEPT}")
    within = parse_duration(
        spec.get("within", base.deposits_within_ms), "protection.deposits.within"
    )
    if within > DEPOSITS_KEPT_MS:
        raise RulesetError("protection.deposits.within", "must be at most 7d")
    return {"deposits_frequent": frequent, "deposits_within_ms": within}


def _risk(spec: Mapping, base: Protection, number: Callable[..., Any]) -> dict[str, Any]:
    """The risk window, the accumulation step, the level of each marker and the messages."""
    levels = spec.get("levels") or {}
    messages = spec.get("messages") or {}
    for name, part in (("levels", levels), ("messages", messages)):
        if not isinstance(part, Mapping):
            raise RulesetError(f"protection.risk.{name}", f"must be a mapping, got {part!r}")
    marker_levels = dict(base.marker_levels)
    for marker, level in levels.items():
        path = f"protection.risk.levels.{marker}"
        if marker not in marker_levels:
            raise RulesetError(path, f"is not a marker ({', '.join(sorted(marker_levels))})")
        if level not in RISK_LEVELS[1:]:
            raise RulesetError(path, f"must be low, medium or high, got {level!r}")
        marker_levels[marker] = RISK_LEVELS.index(level)
    risk_messages = dict(base.risk_messages)
    for level, text in messages.items():
        path = f"protection.risk.messages.{level}"
        if level not in risk_messages:
            raise RulesetError(path, "only the low and medium levels have a message")
        if not isinstance(text, str):
            raise RulesetError(path, f"must be text, got {text!r}")
        risk_messages[level] = text
    return {
        "risk_window_ms": parse_duration(
            spec.get("window", base.risk_window_ms), "protection.risk.window"
        ),
        "risk_accumulate": int(
            number("risk.accumulate", spec.get("accumulate", base.risk_accumulate), 2)
        ),
        "marker_levels": marker_levels,
        "risk_messages": risk_messages,
    }


def _messages(spec: Any, path: str, rule_id: str | None = None) -> dict[str, str]:
    """Message templates by language tag (``sv``, ``pt-BR``), the tags normalised."""
    if not isinstance(spec, Mapping):
        raise RulesetError(path, f"must be a mapping of language: text, got {spec!r}", rule_id)
    out = {}
    for tag, text in spec.items():
        key = normal_tag(str(tag))
        if not _LANGUAGE.match(key):
            raise RulesetError(
                f"{path}.{tag}", "is not a language tag like sv, de or pt-BR", rule_id
            )
        if not isinstance(text, str):
            raise RulesetError(f"{path}.{tag}", f"must be text, got {text!r}", rule_id)
        out[key] = text
    return out


def _currencies(spec: Any) -> Currencies:
    """The house currency and its rates; absent: nothing is converted (the old meaning)."""
    if spec is None:
        return Currencies()
    if not isinstance(spec, Mapping):
        raise RulesetError("currencies", f"must be a mapping with house and rates, got {spec!r}")
    house = spec.get("house")
    if not isinstance(house, str) or not _CURRENCY.match(house):
        raise RulesetError("currencies.house", f"must be an ISO-4217 code like EUR, got {house!r}")
    rates_doc = spec.get("rates") or {}
    if not isinstance(rates_doc, Mapping):
        raise RulesetError(
            "currencies.rates", f"must be a mapping of currency: rate, got {rates_doc!r}"
        )
    rates = {}
    for code, value in rates_doc.items():
        path = f"currencies.rates.{code}"
        if not isinstance(code, str) or not _CURRENCY.match(code):
            raise RulesetError(path, "is not an ISO-4217 code like SEK")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise RulesetError(path, f"must be a positive number, got {value!r}")
        try:
            rate = rate_of(value)
        except (ArithmeticError, ValueError):
            raise RulesetError(path, f"must be a positive number, got {value!r}") from None
        if rate <= 0:
            raise RulesetError(path, f"must be a positive number, got {value!r}")
        if code == house and rate != 1:
            raise RulesetError(path, f"the house currency is worth 1 of itself, not {value}")
        rates[code] = rate
    return Currencies(house=house, rates=rates, version=int(spec.get("version", 1)))


def _levels(
    specs: Any, version: int, promos: dict[str, Window], cel: Compiler
) -> tuple[Level, ...]:
    """XP levels; a level's ``reward`` is granted once, on reaching it (rule ``level:<n>``,
    version: ``levels_version``)."""
    levels = []
    for i, spec in enumerate(specs):
        path = f"levels[{i}]"
        if not isinstance(spec, Mapping):
            raise RulesetError(path, f"must be a mapping with level and xp, got {spec!r}")
        _unknown_fields(spec, ("level", "xp", "reward"), path)
        level, xp = spec.get("level"), spec.get("xp")
        if not isinstance(level, int) or not isinstance(xp, int) or level < 2 or xp < 0:
            raise RulesetError(path, "each level needs level >= 2 and xp >= 0")
        rule = None
        if spec.get("reward") is not None:
            rule = _granting_rule(spec, path, f"level:{level}", version, promos, cel)
        levels.append(Level(level, xp, rule))
    levels.sort(key=lambda lv: lv.level)
    for lower, higher in itertools.pairwise(levels):
        if higher.xp <= lower.xp:
            raise RulesetError(
                "levels", f"level {higher.level} needs more XP than level {lower.level}"
            )
    return tuple(levels)


def _leaderboards(specs: Any) -> tuple[Leaderboard, ...]:
    boards = []
    for i, spec in enumerate(specs):
        path = f"leaderboards[{i}]"
        if not isinstance(spec, Mapping):
            raise RulesetError(path, f"must be a mapping, got {spec!r}")
        board_id = str(spec.get("id") or "")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", board_id):
            raise RulesetError(f"{path}.id", "needs an id of lower-case letters, digits and dashes")
        kind = spec.get("kind", "POINTS")
        if kind not in REWARD_KINDS:
            raise RulesetError(f"{path}.kind", f"{kind!r} is not a reward kind")
        period = spec.get("period", "day")
        if period not in PERIODS:
            raise RulesetError(f"{path}.period", f"{period!r} is not one of {', '.join(PERIODS)}")
        top = spec.get("top", 10)
        if not isinstance(top, int) or not 1 <= top <= 1000:
            raise RulesetError(f"{path}.top", "must be between 1 and 1000")
        boards.append(Leaderboard(board_id, kind, period, spec.get("per") == "game", top))
    return tuple(boards)


TOURNAMENT_AGGREGATES = ("sum", "max")


def _tournaments(specs: Any, boards: Any, cel: Compiler) -> tuple[Tournament, ...]:
    """The ``tournaments:`` section (``app.core.tournaments``); an id may not be a
    leaderboard's too, as both keep a player's totals under their id."""
    taken = {str(b.get("id")) for b in boards or () if isinstance(b, Mapping)}
    tournaments = []
    for i, spec in enumerate(specs):
        path = f"tournaments[{i}]"
        if not isinstance(spec, Mapping):
            raise RulesetError(path, f"must be a mapping, got {spec!r}")
        tournament_id = str(spec.get("id") or "")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", tournament_id):
            raise RulesetError(f"{path}.id", "needs an id of lower-case letters, digits and dashes")
        if tournament_id in taken:
            raise RulesetError(f"{path}.id", f"{tournament_id!r} is already a board's id")
        taken.add(tournament_id)
        tournaments.append(_tournament(spec, tournament_id, path, cel))
    return tuple(tournaments)


def _tournament(spec: Mapping, tournament_id: str, path: str, cel: Compiler) -> Tournament:
    entry = spec.get("entry", "automatic")
    if entry not in ("automatic", "opt-in"):
        raise RulesetError(f"{path}.entry", f"{entry!r} is not one of automatic, opt-in")
    scoring = spec.get("score")
    if not isinstance(scoring, Mapping) or ("kind" in scoring) == ("expr" in scoring):
        raise RulesetError(f"{path}.score", "needs one of 'kind' (a reward kind) or 'expr'")
    events = tuple(scoring.get("events") or ("BET_SETTLED",))
    if not all(e in EVENT_TYPES for e in events):
        raise RulesetError(f"{path}.score.events", f"unknown event type in {list(events)}")

    def expr(source: Any, field: str, expect: str) -> Any:
        if not isinstance(source, str) or not source.strip():
            raise RulesetError(f"{path}.{field}", "must be a CEL expression (text)")
        try:
            return cel(source, expect, events)
        except ExpressionError as exc:
            raise RulesetError(f"{path}.{field}", str(exc)) from None

    kind = scoring.get("kind")
    if kind is not None and kind not in REWARD_KINDS:
        raise RulesetError(f"{path}.score.kind", f"{kind!r} is not a reward kind")
    aggregate = scoring.get("aggregate", "sum")
    if aggregate not in TOURNAMENT_AGGREGATES or (kind is not None and aggregate != "sum"):
        raise RulesetError(f"{path}.score.aggregate", "is 'sum', or 'max' with an 'expr'")
    prizes = _prizes(spec.get("prizes"), f"{path}.prizes")
    top = spec.get("top", max(10, max(p.last for p in prizes)))
    if not isinstance(top, int) or not max(p.last for p in prizes) <= top <= 1000:
        raise RulesetError(f"{path}.top", "must cover the prized ranks and be at most 1000")
    max_bets = spec.get("max_bets")
    return Tournament(
        tournament_id=tournament_id,
        version=_whole(spec.get("version", 1), f"{path}.version", 1),
        schedule=_schedule(spec.get("schedule"), f"{path}.schedule"),
        prizes=prizes,
        kind=kind,
        expr=None if kind is not None else expr(scoring.get("expr"), "score.expr", "number"),
        aggregate=aggregate,
        events=events,
        when=None if spec.get("when") is None else expr(spec.get("when"), "when", "bool"),
        segments=frozenset(str(s) for s in spec.get("segments") or ()),
        min_bet=_whole(spec.get("min_bet", 0), f"{path}.min_bet", 0),
        max_bets=None if max_bets is None else _whole(max_bets, f"{path}.max_bets", 1),
        grace_ms=0 if spec.get("grace") is None else parse_duration(spec["grace"], f"{path}.grace"),
        opt_in=entry == "opt-in",
        buy_in=_buy_in(spec.get("buy_in", 0), entry, f"{path}.buy_in"),
        top=top,
    )


def _buy_in(value: Any, entry: str, path: str) -> int:
    points = _whole(value, path, 0)
    if points and entry != "opt-in":
        raise RulesetError(path, "a buy-in is paid on opting in: needs 'entry: opt-in'")
    return points


def _whole(value: Any, path: str, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise RulesetError(path, f"must be a whole number of at least {least}, got {value!r}")
    return value


def _schedule(spec: Any, path: str) -> Schedule:
    if not isinstance(spec, Mapping):
        raise RulesetError(path, "needs 'from' and 'until', or 'every' (day or week)")
    every = spec.get("every", ONCE)
    if every not in (ONCE, "day", "week"):
        raise RulesetError(f"{path}.every", f"{every!r} is not one of once, day, week")
    tz = zone(spec.get("zone") or "UTC")
    if tz is None:
        raise RulesetError(f"{path}.zone", f"{spec.get('zone')!r} is not an IANA time zone")
    if every == ONCE or "from" in spec or "until" in spec:
        window = window_of(spec, path)
        return Schedule(every, tz, window.start, window.end)
    return Schedule(every, tz)


def _prizes(specs: Any, path: str) -> tuple[Prize, ...]:
    if not isinstance(specs, list) or not specs:
        raise RulesetError(path, "needs a list of prizes by rank range")
    prizes = []
    for i, spec in enumerate(specs):
        where = f"{path}[{i}]"
        if not isinstance(spec, Mapping):
            raise RulesetError(where, f"must be a mapping, got {spec!r}")
        ranks = str(spec.get("ranks", ""))
        match = re.fullmatch(r"([1-9][0-9]*)(?:-([1-9][0-9]*))?", ranks)
        if match is None or int(match.group(2) or match.group(1)) < int(match.group(1)):
            raise RulesetError(f"{where}.ranks", f"{ranks!r} is not a rank or range like 2-5")
        kind = spec.get("kind", "POINTS")
        if kind not in REWARD_KINDS:
            raise RulesetError(f"{where}.kind", f"{kind!r} is not a reward kind")
        first = int(match.group(1))
        amount = _whole(spec.get("amount"), f"{where}.amount", 1)
        currency = spec.get("currency")
        prizes.append(Prize(first, int(match.group(2) or first), kind, amount, currency))
    ordered = sorted(prizes, key=lambda p: p.first)
    if any(a.last >= b.first for a, b in itertools.pairwise(ordered)):
        raise RulesetError(path, "rank ranges overlap")
    return tuple(ordered)


# -- the points store, mini-games and points expiry (app.core.store, games, wallet) --------

#: The fields of a store item and of a mini-game.
STORE_FIELDS = ("id", "version", "price", "reward", "stock", "per_player", "available",
                "countries", "description")  # fmt: skip
MINIGAME_FIELDS = ("id", "version", "type", "sectors", "description")


def _granting_rule(
    doc: Mapping, path: str, rule_id: str, version: int, promos: dict[str, Window], cel: Compiler
) -> Rule:
    """The rule a store item or a mini-game sector grants through (the issue path of every
    rule: guards, caps, boosts); never indexed under an event, and its amount fixed."""
    compiler = _RuleCompiler(doc, 0, promos, cel)
    compiler.base, compiler.rule_id = path, rule_id
    reward = compiler.reward(doc.get("reward"), "reward")
    if callable(reward.amount):
        raise compiler.error("reward.amount", "must be a whole number here (no event to read)")
    return Rule(rule_id, version, frozenset(), frozenset(), None, reward)


def _unknown_fields(spec: Mapping, allowed: tuple[str, ...], path: str) -> None:
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise RulesetError(f"{path}.{unknown[0]}", f"unknown field (use {', '.join(allowed)})")


def _section_id(spec: Any, path: str, seen: set[str]) -> str:
    if not isinstance(spec, Mapping):
        raise RulesetError(path, f"must be a mapping, got {spec!r}")
    item_id = str(spec.get("id") or "")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", item_id):
        raise RulesetError(f"{path}.id", "needs an id of lower-case letters, digits and dashes")
    if item_id in seen:
        raise RulesetError(f"{path}.id", f"{item_id!r} is given twice")
    seen.add(item_id)
    return item_id


def _buy_in(value: Any, entry: str, path: str) -> int:
    points = _whole(value, path, 0)
    if points and entry != "opt-in":
        raise RulesetError(path, "a buy-in is paid on opting in: needs 'entry: opt-in'")
    return points


def _whole(value: Any, path: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise RulesetError(path, f"must be a whole number of at least {least}, got {value!r}")
    return value


def _store(specs: Any, promos: dict[str, Window], cel: Compiler) -> dict[str, StoreItem]:
    """The ``store:`` items, by id."""
    if not isinstance(specs, list | tuple):
        raise RulesetError("store", "must be a list of items")
    items: dict[str, StoreItem] = {}
    for i, spec in enumerate(specs):
        path = f"store[{i}]"
        item_id = _section_id(spec, path, set(items))
        _unknown_fields(spec, STORE_FIELDS, path)
        version = _whole(spec.get("version", 1), f"{path}.version", 1)
        per_player = spec.get("per_player") or {}
        if not isinstance(per_player, Mapping):
            raise RulesetError(f"{path}.per_player", "must be a mapping with per_day, per_week")
        _unknown_fields(per_player, ("per_day", "per_week"), f"{path}.per_player")
        countries = spec.get("countries") or []
        if not isinstance(countries, list) or not all(
            isinstance(c, str) and re.fullmatch(r"[A-Za-z]{2}", c) for c in countries
        ):
            raise RulesetError(f"{path}.countries", "must list ISO country codes like GB, SE")
        stock = spec.get("stock")
        items[item_id] = StoreItem(
            item_id=item_id,
            price=_whole(spec.get("price"), f"{path}.price", 0),
            rule=_granting_rule(spec, path, f"store:{item_id}", version, promos, cel),
            stock=None if stock is None else _whole(stock, f"{path}.stock", 0),
            per_player=tuple(
                Cap(period, _whole(per_player[key], f"{path}.per_player.{key}", 1))
                for key, period in (("per_day", "day"), ("per_week", "week"))
                if key in per_player
            ),
            available=window_of(spec["available"], f"{path}.available")
            if spec.get("available")
            else None,
            countries=frozenset(c.upper() for c in countries),
        )
    return items


def _minigames(specs: Any, promos: dict[str, Window], cel: Compiler) -> dict[str, MiniGame]:
    """The ``minigames:`` (wheels, scratch cards, gift boxes), by id."""
    if not isinstance(specs, list | tuple):
        raise RulesetError("minigames", "must be a list of mini-games")
    games: dict[str, MiniGame] = {}
    for i, spec in enumerate(specs):
        path = f"minigames[{i}]"
        game_id = _section_id(spec, path, set(games))
        _unknown_fields(spec, MINIGAME_FIELDS, path)
        version = _whole(spec.get("version", 1), f"{path}.version", 1)
        kind = spec.get("type", "wheel")
        if kind not in KINDS:
            raise RulesetError(f"{path}.type", f"{kind!r} is not one of {', '.join(KINDS)}")
        sectors_doc = spec.get("sectors")
        if not isinstance(sectors_doc, list) or len(sectors_doc) < 2:
            raise RulesetError(f"{path}.sectors", "must list at least two sectors")
        sectors = []
        for j, sector in enumerate(sectors_doc):
            where = f"{path}.sectors[{j}]"
            if not isinstance(sector, Mapping):
                raise RulesetError(where, f"must be a mapping with weight, got {sector!r}")
            _unknown_fields(sector, ("weight", "reward"), where)
            rule = None
            if sector.get("reward") is not None:
                rule_id = f"game:{game_id}:{j}"
                rule = _granting_rule(sector, where, rule_id, version, promos, cel)
            sectors.append(Sector(_whole(sector.get("weight"), f"{where}.weight", 1), rule))
        play = Rule(
            f"game:{game_id}", version, frozenset(), frozenset(), None, RewardSpec("WHEEL_SPIN")
        )
        games[game_id] = MiniGame(game_id, kind, version, tuple(sectors), play)
    return games


def _check_minigames_named(
    rules: Iterable[Rule],
    store: Mapping[str, StoreItem],
    games: Mapping[str, MiniGame],
    levels: Iterable[Level] = (),
) -> None:
    """Every mini-game a WHEEL_SPIN names exists."""
    granting = [(r.rule_id, r.reward) for r in rules]
    granting += [(lv.rule.rule_id, lv.rule.reward) for lv in levels if lv.rule]
    granting += [(r.rule_id, v.reward) for r in rules for v in r.variants]
    granting += [(item.rule.rule_id, item.rule.reward) for item in store.values()]
    granting += [
        (s.rule.rule_id, s.rule.reward) for g in games.values() for s in g.sectors if s.rule
    ]
    for rule_id, reward in granting:
        if reward.minigame is not None and reward.minigame not in games:
            known = ", ".join(games) or "none"
            problem = f"no mini-game named {reward.minigame!r} (known: {known})"
            raise RulesetError("reward.minigame", problem, rule_id)


def _points_expiry(spec: Any) -> PointsExpiry | None:
    """``points_expiry: {period: week, after: 12}``: points earned in a UTC week expire
    twelve weeks after it ends (absent: points never expire)."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise RulesetError("points_expiry", f"must be a mapping (period, after), got {spec!r}")
    _unknown_fields(spec, ("period", "after"), "points_expiry")
    period = spec.get("period", "week")
    if period not in ("day", "week"):
        raise RulesetError("points_expiry.period", f"{period!r} is not one of day, week")
    return PointsExpiry(period, _whole(spec.get("after"), "points_expiry.after", 0))


# -- experiments: holdouts (app.core.experiments) ------------------------------------------


def holdout_share(value: Any, path: str, rule_id: str | None = None) -> float:
    """A holdout share: a number from 0 up to (not including) 1; ``0.05`` holds out 5 %."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        problem = f"must be a share from 0 to below 1 (0.05: 5 %), got {value!r}"
        raise RulesetError(path, problem, rule_id)
    return float(value)


def _experiments(spec: Any) -> float:
    """``experiments: {holdout: 0.05}``: the share of players every rule holds out."""
    if spec is None:
        return 0.0
    if not isinstance(spec, Mapping):
        raise RulesetError("experiments", f"must be a mapping (holdout), got {spec!r}")
    _unknown_fields(spec, ("holdout",), "experiments")
    return holdout_share(spec.get("holdout", 0), "experiments.holdout")


def _check_requires(rules: Iterable[Rule]) -> None:
    """Every mission a mission ``requires`` is a mission of the ruleset, and no chain of
    them comes back to where it started (it could never unlock)."""
    requires = {r.rule_id: r.mission.requires for r in rules if r.mission is not None}
    for rule_id, needed in requires.items():
        for other in needed:
            if other not in requires:
                known = ", ".join(sorted(requires)) or "none"
                problem = (
                    f"mission {rule_id} requires {other!r}: not a mission of this ruleset "
                    f"(missions: {known})"
                )
                raise RulesetError("trigger.requires", problem, rule_id)
    for rule_id in requires:
        seen, todo = set(), list(requires[rule_id])
        while todo:
            other = todo.pop()
            if other == rule_id:
                problem = f"the prerequisites of mission {rule_id} go round in a circle"
                raise RulesetError("trigger.requires", problem, rule_id)
            if other not in seen:
                seen.add(other)
                todo.extend(requires[other])
