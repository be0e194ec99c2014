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

from app.core.cel import ExpressionError, compile_expression
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
    Mission,
    Multiplier,
    Protection,
    RewardSpec,
    Rule,
    Ruleset,
    Streak,
    Variant,
    Window,
    WindowCount,
)
from app.core.times import instant_ms

REWARD_KINDS = (
    "POINTS", "XP", "BADGE", "WHEEL_SPIN", "FREE_SIDE_BET", "CASHBACK_OFFER", "CHAT_SHOUTOUT",
    "MULTIPLIER",
)  # fmt: skip
EVENT_TYPES = (
    "ROUND_STARTED", "BET_PLACED", "BET_SETTLED", "SIDE_BET_PLACED", "SIDE_BET_SETTLED",
    "CHAT_MESSAGE", "PLAYER_JOINED", "PLAYER_LEFT", "ROUND_ENDED",
)  # fmt: skip
GAMES = ("BLACKJACK", "ROULETTE", "BACCARAT", "POKER", "GAME_SHOW", "OTHER")
TRIGGERS = ("event", "streak", "window", "mission")
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

    def expr(self, source: Any, field: str, expect: str = "bool") -> Expression:
        if not isinstance(source, str) or not source.strip():
            raise self.error(field, "must be a CEL expression (text)")
        events = self.doc.get("events")
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
        boost = None
        if kind == "MULTIPLIER":
            boost = self.boost(spec.get("boost"), amount, f"{field}.boost", base)
        elif "boost" in spec:
            raise self.error(f"{field}.boost", "only a MULTIPLIER reward starts a boost")
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
        )

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
            out["mission"] = Mission(
                steps=self.positive_int(spec.get("steps"), "trigger.steps"),
                period=self.choice(spec.get("period", "day"), "trigger.period", PERIODS),
            )
        return out

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
            **trigger,
        )


def compile_ruleset(doc: Mapping[str, Any], cel: Compiler = compile_expression) -> Ruleset:
    """The Ruleset a document describes; raises RulesetError naming rule and field."""
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
    return Ruleset(
        rules=tuple(rules),
        ruleset_id=str(doc.get("ruleset") or "default"),
        revision=int(doc.get("revision", 0)),
        levels=_levels(doc.get("levels") or ()),
        levels_version=int(doc.get("levels_version", 1)),
        leaderboards=_leaderboards(doc.get("leaderboards") or ()),
        protection=_protection(doc.get("protection")),
        currencies=_currencies(doc.get("currencies")),
        lateness_ms=parse_duration(doc.get("lateness", "1h"), "lateness"),
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
        cooldown_ms=parse_duration(
            cooldown.get("duration", base.cooldown_ms), "protection.cooldown.duration"
        ),
        cooldown_message=str(cooldown.get("message", base.cooldown_message)),
        cooldown_messages=_messages(cooldown.get("messages", {}), "protection.cooldown.messages"),
        marketing_kinds=frozenset(kinds),
        version=int(spec.get("version", 1)),
    )


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


def _levels(specs: Any) -> tuple[Level, ...]:
    levels = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping):
            raise RulesetError(f"levels[{i}]", f"must be a mapping with level and xp, got {spec!r}")
        level, xp = spec.get("level"), spec.get("xp")
        if not isinstance(level, int) or not isinstance(xp, int) or level < 2 or xp < 0:
            raise RulesetError(f"levels[{i}]", "each level needs level >= 2 and xp >= 0")
        levels.append(Level(level, xp))
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
