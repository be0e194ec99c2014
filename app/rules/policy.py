"""Responsible-gaming policy per country, and the push-time check of rules against it.

The policy lives in configuration (``jurisdictions.yaml``; ``PITBOSS_JURISDICTIONS`` points at
an operator's own copy) because it is the compliance team's to change, not a code deploy.
Breaches that no player in a country may ever see (a cross-product incentive, wagering above
the cap) are refused when a ruleset is pushed; a reward kind a country disallows is only a
warning, because the worker withholds it per player at run time and the rule still serves
every other country.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path as FilePath
from typing import Any

import yaml

from app.core.accounts import DEPOSITS_KEPT, DEPOSITS_KEPT_MS
from app.core.compile import GAMES, REWARD_KINDS, RulesetError, parse_duration
from app.core.rules import CountryRules, DepositFlags, Jurisdictions, RewardSpec
from app.rules.problems import (
    LineMap,
    Path,
    RuleProblem,
    Severity,
    format_path,
    hint,
    problem_at,
)
from app.settings import Settings

__all__ = [
    "DEFAULT_PRODUCT",
    "Policies",
    "Policy",
    "PolicyFileError",
    "check_ruleset",
    "default_policies",
    "load_policies",
    "policy_findings",
    "runtime_view",
]

#: The product of a reward that names none: what the compiler gives it.
DEFAULT_PRODUCT: str = next(
    f.default for f in dataclasses.fields(RewardSpec) if f.name == "product"
)
PRODUCT_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_POLICY_KEYS = (
    "name",
    "allowed_kinds",
    "max_wagering",
    "cross_product",
    "kyc_required",
    "deposit_flags",
)
_FLAG_KEYS = ("amount_minor", "count", "within")
_FILE_KEYS = ("products_by_game", "default", "countries")
#: A policy's fields when the file leaves them out of ``default``: nothing restricted.
_UNRESTRICTED: dict[str, Any] = {
    "name": "any other country",
    "allowed_kinds": list(REWARD_KINDS),
    "max_wagering": None,
    "cross_product": True,
    "kyc_required": False,
    "deposit_flags": None,
}

#: (where in the ruleset, message, severity): what the check finds, before it has lines.
Finding = tuple[Path, str, Severity]


class PolicyFileError(ValueError):
    """The policy file is unreadable or wrong; every mistake is listed (a compliance file
    must never be half-applied)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Policy:
    """What one jurisdiction allows. ``code`` is the ISO 3166-1 alpha-2 code, or ``default``."""

    code: str
    name: str
    allowed_kinds: frozenset[str]
    max_wagering: int | None
    cross_product: bool
    #: rewards are held back (``kyc_unverified``) until the player's KYC is VERIFIED
    kyc_required: bool = False
    #: deposit patterns journaled for the AML team (DEPOSIT_FLAGGED)
    deposit_flags: DepositFlags | None = None

    def allows(self, kind: str) -> bool:
        return kind in self.allowed_kinds

    @property
    def label(self) -> str:
        """``GB (United Kingdom)``: how messages name the policy."""
        return f"{self.code} ({self.name})"


@dataclass(frozen=True)
class Policies:
    """Every jurisdiction's policy and the product of each live game, as one file gives them."""

    default: Policy
    countries: Mapping[str, Policy]
    products_by_game: Mapping[str, str]
    source: str = "jurisdictions.yaml"

    def for_country(self, code: str | None) -> Policy:
        """The policy for a player's country (any case); unknown or none: the default."""
        return self.countries.get((code or "").strip().upper(), self.default)

    def product_of_game(self, game: str) -> str:
        try:
            return self.products_by_game[game]
        except KeyError:
            raise ValueError(f"{game!r} is not a live game in {self.source}") from None

    @property
    def live_products(self) -> frozenset[str]:
        """The products of all live play: what a rule without ``games`` is earned by."""
        return frozenset(self.products_by_game.values())

    def __iter__(self) -> Iterator[Policy]:
        """The default, then every country in file order: what a rule is checked against."""
        yield self.default
        yield from self.countries.values()

    @classmethod
    def from_mapping(cls, data: Any, source: str = "jurisdictions.yaml") -> Policies:
        """Policies from a parsed file; raises PolicyFileError listing every mistake."""
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise PolicyFileError(source, ["must be a mapping with default and countries"])
        _unknown_keys(data, _FILE_KEYS, (), problems)
        games = _products_by_game(data.get("products_by_game"), problems)
        default = _policy("default", data.get("default") or {}, _UNRESTRICTED, problems)
        raw_countries = data.get("countries") or {}
        countries: dict[str, Policy] = {}
        if not isinstance(raw_countries, Mapping):
            problems.append("countries: must be a mapping of country codes to policies")
            raw_countries = {}
        inherited = {k: getattr(default, k) for k in _POLICY_KEYS if k != "name"}
        for code, spec in raw_countries.items():
            if not isinstance(code, str) or not _COUNTRY.match(code):
                problems.append(
                    f"countries.{code}: not an ISO 3166-1 alpha-2 code (two capitals, e.g. GB)"
                )
                continue
            countries[code] = _policy(code, spec, inherited, problems)
        if problems:
            raise PolicyFileError(source, problems)
        return cls(default, countries, games, source)


def _unknown_keys(spec: Mapping, known: tuple[str, ...], at: Path, problems: list[str]) -> None:
    for key in spec:
        if key not in known:
            problems.append(f"{format_path((*at, str(key)))}: unknown field{hint(key, known)}")


def _products_by_game(spec: Any, problems: list[str]) -> dict[str, str]:
    """Every live game must have a product, or a rule's play would have none."""
    if not isinstance(spec, Mapping):
        problems.append(f"products_by_game: must map each of {', '.join(GAMES)} to a product")
        return {}
    _unknown_keys(spec, GAMES, ("products_by_game",), problems)
    problems.extend(
        f"products_by_game.{g}: is required but missing" for g in GAMES if g not in spec
    )
    for game, product in spec.items():
        if not isinstance(product, str) or not PRODUCT_PATTERN.match(product):
            problems.append(f"products_by_game.{game}: {product!r} is not a lower-case product")
    return {g: p for g, p in spec.items() if g in GAMES and isinstance(p, str)}


def _policy(code: str, spec: Any, inherited: Mapping[str, Any], problems: list[str]) -> Policy:
    """One policy; a field it leaves out is ``inherited``'s."""
    at: Path = ("default",) if code == "default" else ("countries", code)
    where = format_path(at)
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: must be a mapping of {', '.join(_POLICY_KEYS)}")
        spec = {}
    _unknown_keys(spec, _POLICY_KEYS, at, problems)
    fields = {"name": None, **inherited, **spec}
    kinds = fields["allowed_kinds"]
    if not isinstance(kinds, list | tuple | frozenset) or not all(
        isinstance(k, str) for k in kinds
    ):
        problems.append(f"{where}.allowed_kinds: must be a list of reward kinds")
        kinds = ()
    for kind in kinds:
        if kind not in REWARD_KINDS:
            problems.append(
                f"{where}.allowed_kinds: {kind!r} is not one of {', '.join(REWARD_KINDS)}"
                + hint(kind, REWARD_KINDS)
            )
    cap = fields["max_wagering"]
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        problems.append(f"{where}.max_wagering: must be a whole multiple (0 or more) or null")
        cap = None
    cross = fields["cross_product"]
    if not isinstance(cross, bool):
        problems.append(f"{where}.cross_product: must be true or false, got {cross!r}")
        cross = False
    kyc = fields["kyc_required"]
    if not isinstance(kyc, bool):
        problems.append(f"{where}.kyc_required: must be true or false, got {kyc!r}")
        kyc = False
    flags = fields["deposit_flags"]
    if flags is not None and not isinstance(flags, DepositFlags):
        flags = _deposit_flags(flags, (*at, "deposit_flags"), problems)
    name = str(fields["name"] or code)
    return Policy(code, name, frozenset(kinds), cap, cross, kyc, flags)


def _deposit_flags(spec: Any, at: Path, problems: list[str]) -> DepositFlags | None:
    """A market's deposit patterns: ``amount_minor`` (house minor units) and/or ``count``
    deposits ``within`` a duration (default 1h, at most a week: what a player's state keeps)."""
    where = format_path(at)
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: must be a mapping of {', '.join(_FLAG_KEYS)}, or null")
        return None
    _unknown_keys(spec, _FLAG_KEYS, at, problems)
    amount, count = spec.get("amount_minor"), spec.get("count")
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int) or amount < 1
    ):
        problems.append(f"{where}.amount_minor: must be a whole amount of at least 1, or null")
        amount = None
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= DEPOSITS_KEPT
    ):
        problems.append(f"{where}.count: must be a whole number from 2 to {DEPOSITS_KEPT}, or null")
        count = None
    within = 0
    try:
        within = parse_duration(spec.get("within", "1h"), f"{where}.within")
    except RulesetError as exc:
        problems.append(f"{where}.within: {exc.message}")
    if within > DEPOSITS_KEPT_MS:
        problems.append(f"{where}.within: must be at most 7d (the deposits a state keeps)")
    if amount is None and count is None:
        problems.append(f"{where}: give amount_minor, count or both")
    return DepositFlags(amount, count, within)


def _mtime(path: FilePath) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def load_policies(path: str | FilePath) -> Policies:
    """The policies in ``path``; re-read only when the file changes."""
    resolved = FilePath(path).resolve()
    return _load(resolved, _mtime(resolved))


@cache
def _load(path: FilePath, _mtime_ns: int) -> Policies:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(str(path), [exc.strerror or str(exc)]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyFileError(str(path), [f"not valid YAML: {exc}"]) from exc
    return Policies.from_mapping(data, str(path))


def default_policies() -> Policies:
    """The policies this deployment uses (``PITBOSS_JURISDICTIONS``)."""
    return load_policies(Settings.from_env().jurisdictions_path)


# --- the check ----------------------------------------------------------------------------


def _play_products(rule: Mapping[str, Any], policies: Policies) -> frozenset[str]:
    """The products of the play that earns ``rule``'s reward: its games', or all live ones."""
    games = rule.get("games")
    if not games or not isinstance(games, list):
        return policies.live_products
    return frozenset(policies.products_by_game[g] for g in games if g in policies.products_by_game)


def _reward_findings(
    at: Path,
    reward: Mapping[str, Any],
    plays: frozenset[str],
    policies: Policies,
    inherits: bool,
) -> Iterator[Finding]:
    """A reward against every policy. A variant's reward (``inherits``) is checked only on the
    fields it overrides: the rest is the rule's reward, checked (and reported) once."""
    product = reward.get("product", None if inherits else DEFAULT_PRODUCT)
    if isinstance(product, str) and plays and product not in plays:
        named = "" if "product" in reward else " (the default product)"
        play = " or ".join(sorted(plays))
        for policy in policies:
            if not policy.cross_product:
                yield (
                    (*at, "product"),
                    f"an incentive in {product}{named} for {play} play breaks policy "
                    f"{policy.label}: no cross-product incentives",
                    "error",
                )
    wagering = reward.get("wagering")
    if isinstance(wagering, int) and not isinstance(wagering, bool):
        for policy in policies:
            if policy.max_wagering is not None and wagering > policy.max_wagering:
                yield (
                    (*at, "wagering"),
                    f"{wagering}x wagering breaks policy {policy.label}: "
                    f"at most {policy.max_wagering}x",
                    "error",
                )
    kind = reward.get("kind")
    if isinstance(kind, str) and kind in REWARD_KINDS:
        for policy in policies:
            if not policy.allows(kind):
                yield (
                    (*at, "kind"),
                    f"{kind} is not allowed by policy {policy.label}: players there will not "
                    "get it (withheld at run time)",
                    "warning",
                )


def policy_findings(
    doc: Any, policies: Policies, skip: frozenset[int] = frozenset()
) -> list[Finding]:
    """Every rule's reward and variant rewards against every policy, by document path.

    Rules in ``skip`` (those the schema already refused) are left out: their fields may not
    mean what they seem. Disabled rules are checked: they are meant to be switched back on.
    """
    rules = doc.get("rules") if isinstance(doc, Mapping) else None
    found: list[Finding] = []
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        if i in skip or not isinstance(rule, Mapping):
            continue
        plays = _play_products(rule, policies)
        reward = rule.get("reward")
        if isinstance(reward, Mapping):
            found += _reward_findings(("rules", i, "reward"), reward, plays, policies, False)
        variants = rule.get("variants")
        for j, variant in enumerate(variants if isinstance(variants, list) else ()):
            override = variant.get("reward") if isinstance(variant, Mapping) else None
            if isinstance(override, Mapping):
                at: Path = ("rules", i, "variants", j, "reward")
                found += _reward_findings(at, override, plays, policies, True)
    found += _store_findings(doc, policies)
    return found


def _store_findings(doc: Any, policies: Policies) -> list[Finding]:
    """What the store's items, the levels and the mini-games' sectors grant, checked like
    rules' rewards (earned by any live play: a purchase, a level or a spin is of no game)."""
    found: list[Finding] = []
    plays = policies.live_products
    for section, part in (("store", None), ("levels", None), ("minigames", "sectors")):
        entries = doc.get(section) if isinstance(doc, Mapping) else None
        for i, entry in enumerate(entries if isinstance(entries, list) else ()):
            if not isinstance(entry, Mapping):
                continue
            grants = [((section, i, "reward"), entry.get("reward"))]
            if part is not None:
                sectors = entry.get(part)
                grants = [
                    ((section, i, part, j, "reward"), sector.get("reward"))
                    for j, sector in enumerate(sectors if isinstance(sectors, list) else ())
                    if isinstance(sector, Mapping)
                ]
            for at, reward in grants:
                if isinstance(reward, Mapping):
                    found += _reward_findings(at, reward, plays, policies, False)
    return found


def check_ruleset(
    doc: Any, policies: Policies, source: str = "ruleset", lines: LineMap | None = None
) -> list[RuleProblem]:
    """What ``policies`` say about a ruleset document: errors refuse it, warnings inform."""
    problems = [
        problem_at(doc, source, lines, path, message, severity=severity)
        for path, message, severity in policy_findings(doc, policies)
    ]
    return sorted(problems, key=lambda p: p.line or 0)


# --- the runtime view ---------------------------------------------------------------------


def runtime_view(policies: Policies) -> Jurisdictions:
    """What the engine needs of the policies per grant: one dict lookup per player."""

    def rules(policy: Policy) -> CountryRules:
        return CountryRules(
            policy.allowed_kinds, policy.cross_product, policy.kyc_required, policy.deposit_flags
        )

    return Jurisdictions(
        default=rules(policies.default),
        countries={code: rules(policy) for code, policy in policies.countries.items()},
        products_by_game=dict(policies.products_by_game),
    )
