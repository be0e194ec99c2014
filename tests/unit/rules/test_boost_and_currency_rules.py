"""The ruleset language of boosts and currencies: validated with clear errors, versioned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.compile import RulesetError, compile_ruleset
from app.core.rewards import QUANTITY_KINDS
from app.rules import compile_document
from app.rules.loader import SCHEMA_PATH, load_ruleset_file
from app.rules.versioning import assign_versions, diff_documents, rule_hash
from tests.unit.rules.test_rules_loader import GOOD_RULE, HEADER, only, problems_of, write

HAPPY_HOUR = """\
  - id: happy-hour
    events: [PLAYER_JOINED]
    once_per: day
    reward:
      kind: MULTIPLIER
      amount: 2
      message: "Double points for the next hour at {table}"
      boost: {kinds: [POINTS, XP], games: [ROULETTE], table: same, for: 1h}
"""


def boost_rule(boost: str, kind: str = "MULTIPLIER", amount: str = "") -> str:
    return f"""\
  - id: boosting
    events: [PLAYER_JOINED]
    reward: {{kind: {kind}, {amount}boost: {boost}}}
"""


def test_a_boost_compiles_to_its_scope_and_end(tmp_path: Path) -> None:
    doc = load_ruleset_file(write(tmp_path, GOOD_RULE + HAPPY_HOUR))
    boost = compile_document(doc).rule("happy-hour").reward.boost
    assert boost is not None
    assert (boost.factor, boost.kinds, boost.games) == (2.0, {"POINTS", "XP"}, {"ROULETTE"})
    assert (boost.table, boost.duration_ms, boost.bets) == ("same", 3_600_000, None)


def test_a_multiplier_without_a_boost_section_lasts_an_hour_on_points(tmp_path: Path) -> None:
    text = "  - {id: m, events: [PLAYER_JOINED], reward: {kind: MULTIPLIER, amount: 3}}\n"
    boost = compile_document(load_ruleset_file(write(tmp_path, text))).rule("m").reward.boost
    assert boost is not None
    assert (boost.factor, boost.kinds, boost.duration_ms) == (3.0, {"POINTS"}, 3_600_000)


def test_a_boost_of_n_bets_has_no_time_limit_unless_given(tmp_path: Path) -> None:
    doc = load_ruleset_file(write(tmp_path, boost_rule("{factor: 1.5, bets: 3}")))
    boost = compile_document(doc).rule("boosting").reward.boost
    assert boost is not None and (boost.factor, boost.bets, boost.duration_ms) == (1.5, 3, None)


def test_boost_mistakes_are_named_with_their_field(tmp_path: Path) -> None:
    cases = [
        (boost_rule("{for: 1h}", kind="POINTS"), "reward.boost", "only a MULTIPLIER"),
        (boost_rule("{for: 1h}"), "reward.boost.factor", "needs a factor above 1"),
        (boost_rule("{factor: 1}"), "reward.boost.factor", "must be more than 1"),
        (boost_rule("{factor: 50}"), "reward.boost.factor", "must be at most 10"),
        (boost_rule("{factor: 2, kinds: [BADGE]}"), "reward.boost.kinds[0]", "'BADGE' is not"),
        (boost_rule("{factor: 2, until: 1h}"), "reward.boost.until", "unknown field"),
        (boost_rule("{factor: 2, bets: 0}"), "reward.boost.bets", "at least 1"),
        (boost_rule("{factor: 2, for: soon}"), "reward.boost.for", "is not a duration"),
        (boost_rule("{factor: 2, games: [CRAPS]}"), "reward.boost.games[0]", "'CRAPS' is not"),
    ]
    for text, field, message in cases:
        problem = only(problems_of(tmp_path, text))
        assert (problem.rule_id, problem.field) == ("boosting", field), (text, str(problem))
        assert message in problem.message, (text, str(problem))


def test_the_compiler_refuses_what_the_schema_would_for_documents_off_the_topic() -> None:
    """crm-rules documents are compiled without the schema: the compiler checks alone."""
    for boost, message in (
        ({"factor": 0.5}, "above 1"),
        ({"kinds": []}, "at least one reward kind"),
        ({"table": ""}, "must be a table id"),
        ({"kinds": "POINTS"}, "must be a list"),
    ):
        rule = {"id": "b", "events": ["PLAYER_JOINED"], "reward": {"kind": "MULTIPLIER"}}
        rule["reward"]["boost"] = {"factor": 2, **boost}
        with pytest.raises(RulesetError, match=message):
            compile_ruleset({"ruleset": "x", "rules": [rule]})


def test_a_currencies_section_is_checked_by_the_schema(tmp_path: Path) -> None:
    header = HEADER.replace("rules:\n", "currencies: {house: euro, rates: {SEK: 0}}\nrules:\n")
    problems = problems_of(tmp_path, GOOD_RULE, header)
    fields = {p.field: p.message for p in problems}
    assert "is not an ISO-4217 currency code" in fields["currencies.house"]
    assert "must be more than 0" in fields["currencies.rates.SEK"]


def test_the_schema_offers_the_boost_kinds_the_compiler_accepts() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    boost = schema["$defs"]["rewardFields"]["properties"]["boost"]["properties"]
    assert set(boost["kinds"]["items"]["enum"]) == QUANTITY_KINDS
    assert set(boost) == {"factor", "kinds", "games", "table", "for", "bets"}


def test_currencies_are_versioned_like_the_protection_thresholds() -> None:
    base = {
        "ruleset": "default",
        "rules": [],
        "currencies": {"house": "EUR", "rates": {"SEK": 0.087}},
    }
    first = assign_versions(base, None, 1, "test")
    assert first["currencies"] == {"house": "EUR", "rates": {"SEK": 0.087}, "version": 1}
    assert assign_versions(base, first, 2, "test")["currencies"]["version"] == 1
    moved = {**base, "currencies": {"house": "EUR", "rates": {"SEK": 0.09}}}
    second = assign_versions(moved, first, 3, "test")
    assert second["currencies"]["version"] == 2
    assert compile_document(second).currencies.version == 2
    assert [str(c) for c in diff_documents(moved, first).document] == [
        "currencies.rates.SEK 0.087 -> 0.09"
    ]
    assert "currencies" not in assign_versions({"ruleset": "d", "rules": []}, None, 1, "t")


def test_messages_per_language_validate_and_are_part_of_the_rules_version(tmp_path: Path) -> None:
    header = HEADER.replace(
        "rules:\n", "protection:\n  cooldown: {messages: {sv: 'Ta en paus'}}\nrules:\n"
    )
    text = GOOD_RULE.replace("amount: event", "messages: {sv: Hej, pt-BR: Oi}, amount: event")
    doc = load_ruleset_file(write(tmp_path, text, header))
    rule = doc["rules"][0]
    assert rule_hash(rule) != rule_hash({**rule, "reward": {**rule["reward"], "messages": {}}})
    problem = only(problems_of(tmp_path, text.replace("pt-BR", "portugues do brasil")))
    assert problem.field == "reward.messages.portugues do brasil"
    assert "is not a language tag" in problem.message
