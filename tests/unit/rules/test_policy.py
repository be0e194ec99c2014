"""Jurisdiction policies: loaded from configuration, checked at push time, compiled for run time."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
import yaml

from app.core.compile import REWARD_KINDS
from app.core.rules import DepositFlags
from app.rules import DEFAULT_RULESET_PATH
from app.rules.commands import render_problems, render_warnings
from app.rules.loader import (
    RuleProblem,
    RulesFileError,
    load_ruleset_file,
    parse_ruleset_text,
    read_ruleset_file,
    validate_document,
)
from app.rules.policy import (
    Policies,
    PolicyFileError,
    check_ruleset,
    default_policies,
    load_policies,
    runtime_view,
)
from app.rules.publish import push
from app.settings import PROJECT_ROOT, Settings

SHIPPED = PROJECT_ROOT / "app" / "rules" / "jurisdictions.yaml"
HEADER = "ruleset: test\nrules:\n"  # the first rule's `- id:` is line 3
GAMES_TO_PRODUCTS = {
    "BLACKJACK": "casino",
    "ROULETTE": "casino",
    "BACCARAT": "casino",
    "GAME_SHOW": "casino",
    "OTHER": "casino",
    "POKER": "poker",
}


def policies(**countries: dict) -> Policies:
    """A policy set of our own: an unrestricted default plus ``countries``."""
    return Policies.from_mapping({"products_by_game": GAMES_TO_PRODUCTS, "countries": countries})


GB_ONLY = policies(GB={"name": "United Kingdom", "max_wagering": 10, "cross_product": False})


def write(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(HEADER + textwrap.dedent(rules))
    return path


def errors_of(tmp_path: Path, rules: str, pols: Policies | None = GB_ONLY) -> list[RuleProblem]:
    with pytest.raises(RulesFileError) as caught:
        load_ruleset_file(write(tmp_path, rules), pols)
    return caught.value.problems


SPORTS_BONUS = """\
- id: sports-bonus
  events: [BET_SETTLED]
  games: [BLACKJACK, ROULETTE]
  reward:
    kind: FREE_SIDE_BET
    product: sports
"""


# --- the policy file ------------------------------------------------------------------


def test_the_shipped_policy_file_loads_with_the_documented_defaults() -> None:
    shipped = load_policies(SHIPPED)
    assert list(shipped.countries) == ["GB", "IE", "MT", "SE", "IT"]
    gb = shipped.for_country("GB")
    assert (gb.name, gb.max_wagering, gb.cross_product) == ("United Kingdom", 10, False)
    assert gb.allowed_kinds == frozenset(REWARD_KINDS)
    assert shipped.default.max_wagering == 35 and shipped.default.cross_product
    se = shipped.for_country("SE")
    assert se.allowed_kinds == {"XP", "POINTS", "BADGE", "CHAT_SHOUTOUT"}
    assert not se.allows("WHEEL_SPIN") and se.allows("POINTS")
    assert shipped.product_of_game("POKER") == "poker"
    assert shipped.product_of_game("BACCARAT") == "casino"
    assert shipped.live_products == {"casino", "poker"}


def test_unknown_or_missing_countries_get_the_default_and_codes_are_case_blind() -> None:
    shipped = load_policies(SHIPPED)
    assert shipped.for_country(None) is shipped.default
    assert shipped.for_country("ZZ") is shipped.default
    assert shipped.for_country(" gb ") is shipped.countries["GB"]


def test_the_setting_points_at_the_shipped_file_unless_pitboss_jurisdictions_says(
    tmp_path: Path,
) -> None:
    assert Settings.from_env({}).jurisdictions_path == SHIPPED
    own = tmp_path / "ours.yaml"
    assert Settings.from_env({"PITBOSS_JURISDICTIONS": str(own)}).jurisdictions_path == own


def test_a_country_inherits_what_it_leaves_out_from_the_default_but_not_its_name() -> None:
    pols = Policies.from_mapping(
        {
            "products_by_game": GAMES_TO_PRODUCTS,
            "default": {"max_wagering": 20, "allowed_kinds": ["XP", "POINTS"]},
            "countries": {"GB": {"cross_product": False}},
        }
    )
    gb = pols.for_country("GB")
    assert (gb.name, gb.max_wagering, gb.allowed_kinds) == ("GB", 20, {"XP", "POINTS"})
    assert not gb.cross_product


def test_a_broken_policy_file_is_refused_whole_with_every_mistake(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    data = {
        "products_by_game": {g: p for g, p in GAMES_TO_PRODUCTS.items() if g != "POKER"},
        "countries": {
            "GB": {"cross_prodcut": False, "max_wagering": -1},
            "uk": {},
            "SE": {"allowed_kinds": ["WHEEL_SPINS"]},
        },
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(PolicyFileError) as caught:
        load_policies(path)
    assert caught.value.problems == [
        "products_by_game.POKER: is required but missing",
        "countries.GB.cross_prodcut: unknown field (did you mean 'cross_product'?)",
        "countries.GB.max_wagering: must be a whole multiple (0 or more) or null",
        "countries.uk: not an ISO 3166-1 alpha-2 code (two capitals, e.g. GB)",
        "countries.SE.allowed_kinds: 'WHEEL_SPINS' is not one of POINTS, XP, BADGE, WHEEL_SPIN, "
        "FREE_SIDE_BET, CASHBACK_OFFER, CHAT_SHOUTOUT, MULTIPLIER (did you mean 'WHEEL_SPIN'?)",
    ]


def test_an_edited_policy_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(yaml.safe_dump({"products_by_game": GAMES_TO_PRODUCTS}))
    assert load_policies(path).countries == {}
    path.write_text(
        yaml.safe_dump({"products_by_game": GAMES_TO_PRODUCTS, "countries": {"GB": {}}})
    )
    assert list(load_policies(path).countries) == ["GB"]


# --- refused at push time ---------------------------------------------------------------


def test_a_cross_product_incentive_is_refused_naming_the_rule_and_the_policy(
    tmp_path: Path,
) -> None:
    [problem] = errors_of(tmp_path, SPORTS_BONUS)
    assert str(problem) == (
        f"{tmp_path / 'rules.yaml'}:8: rule sports-bonus: reward.product: an incentive in sports "
        "for casino play breaks policy GB (United Kingdom): no cross-product incentives"
    )


def test_the_same_rule_is_fine_where_cross_product_incentives_are_allowed(tmp_path: Path) -> None:
    load_ruleset_file(write(tmp_path, SPORTS_BONUS), policies(MT={"cross_product": True}))


def test_every_policy_that_bans_it_is_named(tmp_path: Path) -> None:
    problems = errors_of(tmp_path, SPORTS_BONUS, load_policies(SHIPPED))
    assert [p.message.split("breaks policy ")[1] for p in problems] == [
        "GB (United Kingdom): no cross-product incentives",
        "IE (Ireland): no cross-product incentives",
    ]


def test_a_rule_for_every_game_is_earned_by_casino_and_poker_play(tmp_path: Path) -> None:
    [problem] = errors_of(
        tmp_path,
        """\
        - id: any-table
          events: [BET_PLACED]
          reward: {kind: POINTS, product: bingo}
        """,
    )
    assert problem.message.startswith("an incentive in bingo for casino or poker play")


def test_a_poker_only_rule_paying_a_poker_incentive_is_fine(tmp_path: Path) -> None:
    rule = """\
    - id: poker-regular
      events: [BET_SETTLED]
      games: [POKER]
      reward: {kind: FREE_SIDE_BET, product: poker, wagering: 5}
    """
    load_ruleset_file(write(tmp_path, rule), load_policies(SHIPPED))


def test_a_poker_only_rule_without_a_product_pays_casino_and_says_so(tmp_path: Path) -> None:
    [problem] = errors_of(
        tmp_path,
        """\
        - id: poker-regular
          events: [BET_SETTLED]
          games: [POKER]
          reward:
            kind: XP
        """,
    )
    # no product line: the problem points at the reward
    assert (problem.line, problem.field) == (6, "reward.product")
    assert problem.message.startswith("an incentive in casino (the default product) for poker")


def test_wagering_above_the_cap_is_refused_and_at_the_cap_accepted(tmp_path: Path) -> None:
    rule = """\
    - id: cashback
      events: [BET_SETTLED]
      reward:
        kind: CASHBACK_OFFER
        amount: 500
        wagering: {wagering}
    """
    [problem] = errors_of(tmp_path, rule.replace("{wagering}", "35"))
    assert str(problem) == (
        f"{tmp_path / 'rules.yaml'}:8: rule cashback: reward.wagering: 35x wagering breaks "
        "policy GB (United Kingdom): at most 10x"
    )
    load_ruleset_file(write(tmp_path, rule.replace("{wagering}", "10")), GB_ONLY)


def test_the_default_policy_caps_wagering_for_every_other_country(tmp_path: Path) -> None:
    rule = """\
    - id: cashback
      events: [BET_SETTLED]
      reward: {kind: CASHBACK_OFFER, amount: 500, wagering: 36}
    """
    messages = [p.message for p in errors_of(tmp_path, rule, load_policies(SHIPPED))]
    assert messages[0] == "36x wagering breaks policy default (any other country): at most 35x"
    assert [m.split(" (")[0].rsplit(" ", 1)[1] for m in messages] == [
        "default",
        "GB",
        "IE",
        "MT",
        "SE",
        "IT",
    ]


def test_a_variant_is_checked_on_what_it_overrides_at_its_own_line(tmp_path: Path) -> None:
    problems = errors_of(
        tmp_path,
        """\
        - id: ab-cashback
          events: [BET_SETTLED]
          reward: {kind: CASHBACK_OFFER, amount: 500, wagering: 5}
          variants:
            - name: a
            - name: b
              reward: {wagering: 20}
            - name: c
              reward:
                kind: FREE_SIDE_BET
                product: sports
        """,
    )
    assert [(p.line, p.field) for p in problems] == [
        (9, "variants[1].reward.wagering"),
        (13, "variants[2].reward.product"),
    ]


def test_a_bad_rule_reward_is_reported_once_not_once_per_variant(tmp_path: Path) -> None:
    problems = errors_of(
        tmp_path,
        """\
        - id: ab-cashback
          events: [BET_SETTLED]
          reward: {kind: CASHBACK_OFFER, amount: 500, wagering: 50}
          variants:
            - {name: a, reward: {amount: 100}}
            - {name: b, reward: {kind: WHEEL_SPIN}}
        """,
    )
    assert [p.field for p in problems] == ["reward.wagering"]


def test_a_switched_off_rule_is_checked_too(tmp_path: Path) -> None:
    [problem] = errors_of(tmp_path, SPORTS_BONUS + "  enabled: false\n")
    assert problem.rule_id == "sports-bonus"


def test_a_malformed_product_or_wagering_is_a_schema_problem_not_a_policy_one(
    tmp_path: Path,
) -> None:
    problems = errors_of(
        tmp_path,
        """\
        - id: bad
          events: [BET_SETTLED]
          reward: {kind: CASHBACK_OFFER, product: Sports, wagering: -1}
        """,
    )
    assert sorted(p.message for p in problems) == [
        '"Sports" is not a product: a lower-case word like casino, poker or sports',
        "must be a whole multiple (0 or more), got -1",
    ]


def test_push_refuses_a_breach_before_it_touches_kafka(tmp_path: Path) -> None:
    settings = Settings.from_env({"PITBOSS_BROKER_URL": "kafka://127.0.0.1:1"})
    with pytest.raises(RulesFileError) as caught:
        asyncio.run(push(settings, write(tmp_path, SPORTS_BONUS)))
    assert "breaks policy GB (United Kingdom)" in str(caught.value)


# --- warned, then withheld at run time ----------------------------------------------------

SPIN = """\
- id: spin
  events: [BET_SETTLED]
  reward:
    kind: WHEEL_SPIN
"""


def test_a_kind_a_country_disallows_is_a_warning_not_an_error(tmp_path: Path) -> None:
    doc, warnings = read_ruleset_file(write(tmp_path, SPIN), load_policies(SHIPPED))
    assert doc["rules"][0]["id"] == "spin"
    assert [(w.severity, w.line, w.field) for w in warnings] == [
        ("warning", 6, "reward.kind"),
        ("warning", 6, "reward.kind"),
    ]
    assert str(warnings[1]) == (
        f"{tmp_path / 'rules.yaml'}:6: rule spin: reward.kind: WHEEL_SPIN is not allowed by "
        "policy SE (Sweden): players there will not get it (withheld at run time)"
    )
    assert "IE (Ireland)" in warnings[0].message


def test_warnings_are_shown_with_the_errors_of_an_invalid_file(tmp_path: Path) -> None:
    path = write(tmp_path, SPIN + SPORTS_BONUS)
    with pytest.raises(RulesFileError) as caught:
        load_ruleset_file(path, load_policies(SHIPPED))
    out = render_problems(caught.value)
    assert out.startswith(f"{path} is not valid: 2 problems\n")
    head = "4 warnings (not refused: the worker withholds these rewards from players there)"
    assert f"\n{head}\n" in out  # spin and the free side bet, each in IE and SE
    assert render_warnings([]) == ""


def test_validate_document_reports_errors_only_and_check_ruleset_both(tmp_path: Path) -> None:
    doc, lines, _ = parse_ruleset_text(HEADER + SPIN + SPORTS_BONUS, "r.yaml")
    pols = load_policies(SHIPPED)
    assert {p.severity for p in validate_document(doc, "r.yaml", lines, pols)} == {"error"}
    both = check_ruleset(doc, pols, "r.yaml", lines)
    assert [(p.line, p.severity) for p in both] == [
        *[(6, "warning")] * 2,  # spin: IE, SE
        *[(11, "warning")] * 2,  # the free side bet: IE, SE
        *[(12, "error")] * 2,  # the sports product: GB, IE
    ]


def test_the_shipped_ruleset_passes_the_shipped_policies_with_warnings_only() -> None:
    doc, warnings = read_ruleset_file(DEFAULT_RULESET_PATH, load_policies(SHIPPED))
    assert doc["ruleset"] == "default"
    named = {(w.rule_id, w.message.split(" (")[0].rsplit(" ", 1)[1]) for w in warnings}
    assert named == {("loss-streak-5", "IE"), ("loss-streak-5", "SE"), (None, "IE"), (None, "SE")}
    # the store's spin and the wheel's boost sector (of no rule) are withheld there too
    kinds = sorted(w.message.split()[0] for w in warnings if w.rule_id is None)
    assert kinds == ["MULTIPLIER", "MULTIPLIER", "WHEEL_SPIN", "WHEEL_SPIN"]


def test_the_deployment_policies_come_from_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "strict.yaml"
    own.write_text(
        yaml.safe_dump(
            {
                "products_by_game": GAMES_TO_PRODUCTS,
                "default": {"name": "everywhere", "max_wagering": 0},
            }
        )
    )
    monkeypatch.setenv("PITBOSS_JURISDICTIONS", str(own))
    assert default_policies().default.label == "default (everywhere)"
    rule = "- {id: w, events: [BET_SETTLED], reward: {kind: CASHBACK_OFFER, wagering: 1}}\n"
    [problem] = errors_of(tmp_path, rule, pols=None)  # None: the deployment's
    assert problem.message == "1x wagering breaks policy default (everywhere): at most 0x"


# --- the runtime view ----------------------------------------------------------------------


def test_the_runtime_view_gives_each_country_its_kinds_and_cross_product_rule() -> None:
    view = runtime_view(load_policies(SHIPPED))
    everything = frozenset(REWARD_KINDS)
    loyalty = frozenset({"XP", "POINTS", "BADGE", "CHAT_SHOUTOUT"})
    kinds = {code: rules.allowed_kinds for code, rules in view.countries.items()}
    assert kinds == {
        "GB": everything,
        "IE": loyalty,
        "MT": everything,
        "SE": loyalty,
        "IT": everything,
    }
    assert view.default.allowed_kinds == everything
    assert not view.for_country("gb").cross_product and view.for_country("MT").cross_product
    assert view.for_country(None) == view.for_country("ZZ") == view.default
    assert (view.product_of("POKER"), view.product_of("BLACKJACK")) == ("poker", "casino")


# --- money checks: KYC and deposit flags ---------------------------------------------------


def test_italy_requires_kyc_and_flags_deposits_in_the_shipped_file() -> None:
    shipped = load_policies(SHIPPED)
    italy = shipped.for_country("it")
    assert italy.kyc_required and not shipped.for_country("GB").kyc_required
    assert italy.deposit_flags == DepositFlags(200_000, 5, 3_600_000)
    view = runtime_view(shipped).for_country("IT")
    assert (view.kyc_required, view.deposit_flags) == (True, italy.deposit_flags)
    assert runtime_view(shipped).default.deposit_flags is None


def test_a_country_inherits_the_defaults_money_checks() -> None:
    flags = {"count": 3, "within": "30m"}
    pols = Policies.from_mapping(
        {
            "products_by_game": GAMES_TO_PRODUCTS,
            "default": {"kyc_required": True, "deposit_flags": flags},
            "countries": {"MT": {"name": "Malta"}, "SE": {"deposit_flags": None}},
        }
    )
    malta = pols.for_country("MT")
    assert malta.kyc_required and malta.deposit_flags == DepositFlags(None, 3, 30 * 60_000)
    assert pols.for_country("SE").deposit_flags is None


def test_wrong_money_checks_are_refused_with_every_mistake() -> None:
    with pytest.raises(PolicyFileError) as caught:
        policies(
            GB={"kyc_required": "yes", "deposit_flags": {"amount_minr": 5, "count": 99}},
            SE={"deposit_flags": {"within": "8d"}},
            MT={"deposit_flags": [1]},
        )
    assert caught.value.problems == [
        "countries.GB.kyc_required: must be true or false, got 'yes'",
        "countries.GB.deposit_flags.amount_minr: unknown field (did you mean 'amount_minor'?)",
        "countries.GB.deposit_flags.count: must be a whole number from 2 to 32, or null",
        "countries.GB.deposit_flags: give amount_minor, count or both",
        "countries.SE.deposit_flags.within: must be at most 7d (the deposits a state keeps)",
        "countries.SE.deposit_flags: give amount_minor, count or both",
        "countries.MT.deposit_flags: must be a mapping of amount_minor, count, within, or null",
    ]
