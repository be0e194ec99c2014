"""Messages in the player's language: a template per language tag, falling back to a default."""

from __future__ import annotations

import pytest

from app.core import Engine
from app.core.compile import RulesetError, compile_ruleset
from app.core.languages import in_language
from tests.support.factories import ms, profile, settled, table_event
from tests.support.rulesets import ruleset, run

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000
RULES = """
protection:
  cooldown:
    message: "Take a break for {minutes} minutes."
    messages: {sv: "Ta en paus i {minutes} minuter."}
rules:
  - id: wager-points
    events: [BET_PLACED]
    reward:
      kind: POINTS
      amount: 25
      message: "+{amount} points at {table}"
      messages:
        sv: "+{amount} poäng vid {table}"
        pt: "+{amount} pontos"
        pt-BR: "+{amount} pontinhos"
"""
ENGINE = Engine(ruleset(RULES))


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("sv", "+25 poäng vid bj-01"),
        ("SV-se", "+25 poäng vid bj-01"),  # by its primary language, whatever the case
        ("pt_BR", "+25 pontinhos"),  # the tag as given first
        ("pt-PT", "+25 pontos"),
        ("fi", "+25 points at bj-01"),  # no Finnish template: the default
        (None, "+25 points at bj-01"),
    ],
)
def test_a_reward_message_is_in_the_players_language(language, message):
    _, out = run(ENGINE, [table_event(occurred_at=T0)], profile=profile(language=language))
    assert [r["message"] for r in out.rewards] == [message]


def test_a_player_with_no_profile_reads_the_default():
    _, out = run(ENGINE, [table_event(occurred_at=T0)], profile=None)
    assert [r["message"] for r in out.rewards] == ["+25 points at bj-01"]


def test_a_boosted_amount_is_told_in_the_players_language():
    boosted = Engine(
        ruleset(
            RULES
            + """
  - id: happy-hour
    events: [PLAYER_JOINED]
    reward: {kind: MULTIPLIER, amount: 2}
"""
        )
    )
    joined = table_event(event_type="PLAYER_JOINED", bet=None, occurred_at=T0)
    _, out = run(
        boosted, [joined, table_event(occurred_at=T0 + MIN)], profile=profile(language="sv")
    )
    assert [r["message"] for r in out.rewards if r["kind"] == "POINTS"] == ["+50 poäng vid bj-01"]


def test_the_cool_down_message_is_in_the_players_language():
    bet = {"bet_type": "main", "stake_minor": 80_000, "currency": "EUR"}
    lost = settled("LOSS", occurred_at=T0, bet=bet)
    _, out = run(ENGINE, [lost], profile=profile(language="sv"))
    assert [c["message"] for c in out.cooldowns] == ["Ta en paus i 30 minuter."]
    _, out = run(ENGINE, [dict(lost, event_id="other")], profile=profile(language="de"))
    assert [c["message"] for c in out.cooldowns] == ["Take a break for 30 minutes."]


def test_a_variant_keeps_the_rules_languages_unless_it_gives_its_own():
    rules = ruleset(
        """
        rules:
          - id: welcome
            events: [PLAYER_JOINED]
            reward: {kind: XP, amount: 5, message: "Hi", messages: {sv: "Hej"}}
            variants:
              - {name: a}
              - {name: b, reward: {messages: {sv: "Tjena"}}}
        """
    )
    [a, b] = rules.rule("welcome").variants
    assert (dict(a.reward.messages), dict(b.reward.messages)) == ({"sv": "Hej"}, {"sv": "Tjena"})


def test_in_language_falls_back_step_by_step():
    templates = {"pt": "pt", "pt-br": "br"}
    assert in_language("d", templates, "pt-BR") == "br"
    assert in_language("d", templates, "pt-AO") == "pt"
    assert in_language("d", templates, "es") == "d"
    assert in_language("d", {}, "pt") == "d"


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ({"swedish!": "x"}, "rules[0].reward.messages.swedish!"),
        ({"sv": 3}, "rules[0].reward.messages.sv"),
        (["sv"], "rules[0].reward.messages"),
    ],
)
def test_a_bad_language_template_is_refused_naming_the_field(messages, field):
    rule = {"id": "r", "events": ["BET_PLACED"], "reward": {"kind": "XP", "messages": messages}}
    with pytest.raises(RulesetError) as caught:
        compile_ruleset({"ruleset": "x", "rules": [rule]})
    assert caught.value.path == field
