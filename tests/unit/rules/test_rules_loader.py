"""Validation of ruleset files: every mistake is reported with file, line, rule and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from app.core.compile import EVENT_TYPES, GAMES, ONCE_PER, REWARD_KINDS, TRIGGERS
from app.rules import DEFAULT_RULESET_PATH, compile_document, default_ruleset
from app.rules.loader import (
    SCHEMA_PATH,
    RuleProblem,
    RulesFileError,
    load_ruleset_file,
    parse_ruleset_text,
    runnable_document,
    validate_document,
)

HEADER = """\
ruleset: test
promos:
  lightning-weekend:
    from: 2026-11-20T00:00:00Z
    until: "2026-11-23T00:00:00Z"
rules:
"""
GOOD_RULE = """\
  - id: wager-points
    events: [BET_PLACED]
    reward: {kind: POINTS, amount: event.bet.stake_minor / 100}
"""


def write(tmp_path: Path, rules: str, header: str = HEADER) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(header + textwrap.dedent(rules))
    return path


def problems_of(tmp_path: Path, rules: str, header: str = HEADER) -> list[RuleProblem]:
    with pytest.raises(RulesFileError) as caught:
        load_ruleset_file(write(tmp_path, rules, header))
    return caught.value.problems


def only(problems: list[RuleProblem]) -> RuleProblem:
    assert len(problems) == 1, "\n".join(str(p) for p in problems)
    return problems[0]


def test_the_shipped_ruleset_validates_and_compiles() -> None:
    doc = load_ruleset_file(DEFAULT_RULESET_PATH)
    assert doc["ruleset"] == "default"
    assert len(default_ruleset().rules) == len(doc["rules"])


def test_unquoted_instants_stay_text_so_the_document_survives_json(tmp_path: Path) -> None:
    doc = load_ruleset_file(write(tmp_path, GOOD_RULE))
    assert doc["promos"]["lightning-weekend"]["from"] == "2026-11-20T00:00:00Z"


def test_a_typo_in_a_field_name_is_an_unknown_field_with_a_suggestion(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: loss-streak-5
              events: [BET_SETTLED]
              reward:
                kind: POINTS
                ammount: 5
            """,
        )
    )
    assert (problem.line, problem.rule_id, problem.field) == (11, "loss-streak-5", "reward.ammount")
    assert str(problem) == (
        f"{tmp_path / 'rules.yaml'}:11: rule loss-streak-5: reward.ammount: "
        "unknown field (did you mean 'amount'?)"
    )


def test_a_wrong_enum_names_the_choices_and_the_closest(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: blackjack-only
              events: [BET_PLACED]
              games: [BLACKJAK]
              reward: {kind: POINTS}
            """,
        )
    )
    assert (problem.line, problem.field) == (9, "games[0]")
    assert "'BLACKJAK' is not one of" in problem.message
    assert "did you mean 'BLACKJACK'" in problem.message


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "- id: no-reward\n  events: [BET_PLACED]\n"))
    assert (problem.line, problem.rule_id, problem.field) == (7, "no-reward", "reward")
    assert problem.message == "is required but missing"


def test_a_zero_length_streak_reads_as_the_compiler_says_it(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: loss-streak-5
              events: [BET_SETTLED]
              trigger: {type: streak, counts: 'event.settlement.outcome == "LOSS"', length: 0}
              reward: {kind: POINTS}
            """,
        )
    )
    assert str(problem).endswith(
        ":9: rule loss-streak-5: trigger.length: must be a whole number of at least 1, got 0"
    )


def test_a_field_of_another_trigger_type_is_refused(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: mission
              events: [BET_PLACED]
              trigger: {type: mission, steps: 3, length: 5}
              reward: {kind: POINTS}
            """,
        )
    )
    assert problem.field == "trigger.length"
    assert problem.message.startswith("does not apply to mission triggers")


def test_bad_cel_syntax_is_reported_by_the_compiler(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: broken
              events: [BET_PLACED]
              when: event.bet.stake_minor >
              reward: {kind: POINTS}
            """,
        )
    )
    assert (problem.line, problem.field) == (9, "when")
    assert "CEL does not compile" in problem.message


@pytest.mark.parametrize(
    ("expression", "field", "words"),
    [
        ("event.bet.stake_minor", "when", "true or false"),  # dynamic: the dry run sees it
        ("size(event.chat_text)", "when", "true or false"),  # static: the type checker does
        ("event.bett.stake_minor > 1", "when", "bett"),  # a field no event has
    ],
)
def test_cel_of_the_wrong_type_or_an_unknown_field(
    tmp_path: Path, expression: str, field: str, words: str
) -> None:
    problem = only(
        problems_of(
            tmp_path,
            f"""\
            - id: typed
              events: [BET_PLACED]
              when: {expression}
              reward: {{kind: POINTS}}
            """,
        )
    )
    assert (problem.line, problem.rule_id, problem.field) == (9, "typed", field)
    assert words in problem.message


def test_an_unknown_promo_lists_the_known_ones(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: double
              events: [BET_PLACED]
              reward: {kind: POINTS}
              multipliers:
                - {factor: 2, promo: lightning-weekends}
            """,
        )
    )
    assert (problem.line, problem.field) == (11, "multipliers[0].promo")
    assert "no promo named 'lightning-weekends' (known: lightning-weekend)" in problem.message


def test_duplicate_rule_ids_point_at_the_first(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, GOOD_RULE + GOOD_RULE))
    assert (problem.line, problem.field) == (10, "id")
    assert "already the id of the rule at line 7" in problem.message


def test_a_bad_duration_is_explained(tmp_path: Path) -> None:
    problem = only(
        problems_of(
            tmp_path,
            """\
            - id: busy
              events: [BET_PLACED]
              trigger: {type: window, within: 10 minutes, count_at_least: 3}
              reward: {kind: POINTS}
            """,
        )
    )
    assert problem.field == "trigger.within"
    assert problem.message == '"10 minutes" is not a duration like 90s, 10m, 1h or 2d'


def test_a_bad_promo_window_is_a_document_problem(tmp_path: Path) -> None:
    header = HEADER.replace('until: "2026-11-23T00:00:00Z"', 'until: "2026-11-19T00:00:00Z"')
    problem = only(problems_of(tmp_path, GOOD_RULE, header))
    assert (problem.line, problem.rule_id) == (5, None)
    assert str(problem).endswith("promos.lightning-weekend.until: must be after 'from'")


def test_every_problem_is_reported_together_in_file_order(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """\
        - id: first
          events: [BET_PLACD]
          reward: {kind: POINTS}
        - id: second
          events: [BET_PLACED]
          when: event.bet.stake_minor
          reward: {kind: POINTS}
        - id: third
          events: [BET_PLACED]
          when: 'event.device == "mobile"'
          when: 'event.device == "tablet"'
          reward: {kind: BADGE}
        """,
    )
    assert [(p.line, p.rule_id, p.field) for p in problems] == [
        (8, "first", "events[0]"),
        (12, "second", "when"),
        (17, "third", "when"),  # given twice
        (18, "third", "reward.badge"),
    ]


def test_yaml_syntax_errors_carry_their_line(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "  - id: x\n    events: [BET_PLACED\n"))
    assert problem.line is not None and problem.line >= 8
    assert problem.message.startswith("not valid YAML")


def test_a_published_document_validates_with_its_metadata() -> None:
    doc, lines, problems = parse_ruleset_text(DEFAULT_RULESET_PATH.read_text(), "default.yaml")
    assert problems == []
    published = {**doc, "revision": 3, "levels_version": 2, "published_at": 1, "source": "x"}
    published["rules"] = [{**r, "version": 2, "hash": "abc"} for r in doc["rules"]]
    published["retired"] = {"old-rule": 4}
    assert validate_document(published, "crm-rules", lines) == []


def test_disabled_rules_are_validated_but_never_run(tmp_path: Path) -> None:
    off = GOOD_RULE.replace("wager-points", "off-for-now") + "    enabled: false\n"
    doc = load_ruleset_file(write(tmp_path, GOOD_RULE + off))
    assert [r["id"] for r in doc["rules"]] == ["wager-points", "off-for-now"]
    assert [r["id"] for r in runnable_document(doc)["rules"]] == ["wager-points"]
    assert [r.rule_id for r in compile_document(doc).rules] == ["wager-points"]
    broken_off = off.replace("[BET_PLACED]", "[BET_PLACD]")
    assert only(problems_of(tmp_path, GOOD_RULE + broken_off)).rule_id == "off-for-now"


def test_the_schema_names_the_same_choices_as_the_compiler() -> None:
    """The schema is published for editors; drifting from the compiler would mislead them."""
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    defs = schema["$defs"]
    assert tuple(defs["eventType"]["enum"]) == EVENT_TYPES
    assert tuple(defs["game"]["enum"]) == GAMES
    assert tuple(defs["rewardKind"]["enum"]) == REWARD_KINDS
    assert tuple(defs["rule"]["properties"]["once_per"]["enum"]) == ONCE_PER
    assert tuple(defs["trigger"]["properties"]["type"]["enum"]) == TRIGGERS
