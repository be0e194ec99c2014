"""Missions players own: tasks in sequence or in any order, prerequisites, opting in and out,
time limits and windows (expired, missed), what CEL reads of them, levels that grant rewards,
and a state that stays small and decides the same however its input is cut into batches."""

from __future__ import annotations

import itertools

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState
from app.core.compile import RulesetError
from app.core.ids import reward_id
from app.core.state import COMPLETED, EXPIRED, MISSED
from app.pipeline.inputs import player_command
from app.rules.loader import validate_document
from app.rules.policy import default_policies
from tests.support.factories import ms, settled, table_event
from tests.support.hypothesis_profiles import examples
from tests.support.rulesets import PLAYER, ruleset, run

T0 = ms("2026-12-01T18:00:00Z")
HOUR = 3_600_000
_ids = itertools.count(1)

MISSIONS = """
protection: {daily_points_cap: null}
rules:
  - id: welcome                       # one task, the form every mission had before
    events: [BET_PLACED]
    trigger: {type: mission, steps: 2, period: ever}
    reward: {kind: POINTS, amount: 10}
  - id: tour                          # in order, unlocked by welcome
    events: [BET_PLACED, BET_SETTLED]
    trigger:
      type: mission
      period: ever
      order: sequence
      requires: [welcome]
      tasks:
        - {id: roulette, events: [BET_PLACED], when: 'event.game == "ROULETTE"', count: 2}
        - {id: win, events: [BET_SETTLED], when: 'event.settlement.outcome == "WIN"'}
    reward: {kind: XP, amount: 100}
  - id: mix                           # any order: an event counts for every task it meets
    events: [BET_PLACED]
    trigger:
      type: mission
      period: day
      tasks:
        - {id: bets, count: 3}
        - {id: big, when: 'event.bet.stake_minor >= 10000'}
    reward: {kind: POINTS, amount: 5}
  - id: sprint                        # opt-in, two hours from the opt-in
    events: [BET_PLACED]
    trigger: {type: mission, period: day, opt_in: true, time_limit: 2h, steps: 3}
    reward: {kind: POINTS, amount: 50}
  - id: xmas                          # its window is the rule's active window
    events: [BET_PLACED]
    active: {from: "2026-12-01T00:00:00Z", until: "2026-12-02T00:00:00Z"}
    trigger: {type: mission, period: ever, steps: 5}
    reward: {kind: BADGE, badge: xmas}
  - id: veteran                       # rules read what players completed
    events: [BET_PLACED]
    when: '"tour" in state.missions.completed && state.missions.progress["mix"] >= 1'
    once_per: ever
    reward: {kind: BADGE, badge: veteran}
"""


def bet(at: int, game: str = "BLACKJACK", stake: int = 2500) -> dict:
    bet_part = {"bet_type": "main", "stake_minor": stake, "currency": "EUR"}
    return table_event(occurred_at=at, game=game, bet=bet_part)


def win(at: int, game: str = "ROULETTE") -> dict:
    return settled("WIN", occurred_at=at, game=game)


def command(at: int, kind: str, target: str | None, command_id: str | None = None) -> dict:
    event, problem = player_command(
        {
            "command_id": command_id or f"m-{next(_ids)}",
            "player_id": "p-000001",
            "type": kind,
            "target_id": target,
            "occurred_at": at,
        }
    )
    assert problem is None
    return event


def entries(out: Decisions, rule_id: str, decision: str | None = None) -> list[dict]:
    return [
        e
        for e in out.journal
        if e["rule_id"] == rule_id and (decision is None or e["decision"] == decision)
    ]


def engine() -> Engine:
    return Engine(ruleset(MISSIONS))


def test_tasks_in_sequence_count_only_the_current_task_after_the_prerequisite():
    first = [win(T0), bet(T0 + 1, "ROULETTE")]  # tour is locked until welcome is done
    state, out = run(engine(), first)
    assert entries(out, "tour") == [] and "tour" not in state.missions
    events = [
        bet(T0 + 2),  # welcome done: tour unlocks (a blackjack bet meets no task of it)
        win(T0 + 3),  # the win task is not current yet: it does not count
        bet(T0 + 4, "ROULETTE"),
        bet(T0 + 5, "ROULETTE"),
        bet(T0 + 6, "ROULETTE"),  # the roulette task is done: nothing more to count
        win(T0 + 7),
    ]
    state, out = run(engine(), events, state=state)
    assert [m for m in state.missions_done if m != "xmas"] == ["welcome", "tour"]
    steps = entries(out, "tour", "MISSION_PROGRESS")
    assert [(e["details"]["task"], e["details"]["step"]) for e in steps] == [
        ("roulette", "1"),
        ("roulette", "2"),
        ("win", "1"),
    ]
    assert [e["event_ids"] for e in steps] == [[events[2]["event_id"]], [events[3]["event_id"]],
                                               [events[5]["event_id"]]]  # fmt: skip
    (done,) = entries(out, "tour", "MISSION_COMPLETED")
    (reward,) = [r for r in out.rewards if r["rule_id"] == "tour"]
    # named tasks: the completing event identifies the completion and its reward
    assert done["event_ids"] == [events[5]["event_id"]]
    assert reward["reward_id"] == reward_id("tour", 1, [events[5]["event_id"]])
    mission = state.missions["tour"]
    # ended: only what the view needs stays (steps done; the journal has the rest)
    assert (mission.end, mission.steps, mission.tasks, mission.event_ids) == (COMPLETED, 3, [], [])
    state, out = run(engine(), [bet(T0 + 8, "ROULETTE"), win(T0 + 9)], state=state)
    assert entries(out, "tour") == []  # period "ever": done for good


def test_the_one_task_form_journals_and_identifies_as_it_always_did():
    events = [bet(T0), bet(T0 + 1)]
    state, out = run(engine(), events)
    steps = entries(out, "welcome", "MISSION_PROGRESS")
    assert [e["details"] for e in steps] == [
        {"step": "1", "steps": "2", "period": "ever", "revision": "0"},
        {"step": "2", "steps": "2", "period": "ever", "revision": "0"},
    ]
    (done,) = entries(out, "welcome", "MISSION_COMPLETED")
    ids = [e["event_id"] for e in events]
    assert done["event_ids"] == ids
    assert entries(out, "welcome", "REWARD_ISSUED")[0]["reward_id"] == reward_id("welcome", 1, ids)
    assert state.missions["welcome"].event_ids == []  # no longer needed once it completed


def test_tasks_in_any_order_and_one_event_counts_for_every_task_it_meets():
    events = [bet(T0, stake=50_000), bet(T0 + 1), bet(T0 + 2)]
    state, out = run(engine(), events)
    steps = entries(out, "mix", "MISSION_PROGRESS")
    assert [(e["details"]["task"], e["event_ids"][0]) for e in steps] == [
        ("bets", events[0]["event_id"]),
        ("big", events[0]["event_id"]),
        ("bets", events[1]["event_id"]),
        ("bets", events[2]["event_id"]),
    ]
    assert len({e["entry_id"] for e in steps}) == 4  # one event, two tasks: two entries
    assert len(entries(out, "mix", "MISSION_COMPLETED")) == 1
    # the other order: the big bet last
    state, out = run(engine(), [bet(T0), bet(T0 + 1), bet(T0 + 2), bet(T0 + 3, stake=10_000)])
    assert [e["details"]["task"] for e in entries(out, "mix", "MISSION_PROGRESS")] == [
        "bets", "bets", "bets", "big",
    ]  # fmt: skip
    assert entries(out, "mix", "MISSION_COMPLETED")[0]["event_time"] == T0 + 3
    # a new day, a new run
    state, out = run(engine(), [bet(T0 + 24 * HOUR)], state=state)
    assert state.missions["mix"].tasks == [1, 0] and not state.missions["mix"].end


def test_opt_in_missions_count_only_after_the_opt_in_and_stop_at_the_opt_out():
    events = [bet(T0), command(T0 + 1, "OPT_IN", "sprint"), bet(T0 + 2), bet(T0 + 3)]
    state, out = run(engine(), events)
    (applied,) = entries(out, "sprint", "COMMAND_APPLIED")
    assert applied["details"]["mission"] == "sprint"
    assert applied["details"]["ends_at"] == str(T0 + 1 + 2 * HOUR)
    assert [e["details"]["step"] for e in entries(out, "sprint", "MISSION_PROGRESS")] == ["1", "2"]
    state, out = run(engine(), [command(T0 + 4, "OPT_OUT", "sprint"), bet(T0 + 5)], state=state)
    assert entries(out, "sprint", "COMMAND_APPLIED")[0]["details"]["step"] == "2"
    assert entries(out, "sprint", "MISSION_PROGRESS") == [] and "sprint" not in state.missions
    # opting in again starts afresh: three more steps to go
    again = [command(T0 + 6, "OPT_IN", "sprint")] + [bet(T0 + 7 + i) for i in range(3)]
    state, out = run(engine(), again, state=state)
    assert len(entries(out, "sprint", "MISSION_COMPLETED")) == 1
    assert [r["amount"] for r in out.rewards if r["rule_id"] == "sprint"] == [50]


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ([command(T0, "OPT_IN", "nope")], "unknown_mission"),
        ([command(T0, "OPT_IN", None)], "unknown_mission"),
        ([command(T0, "OPT_IN", "mix")], "not_opt_in"),
        ([command(T0, "OPT_OUT", "sprint")], "not_in"),
        ([command(T0, "OPT_IN", "sprint"), command(T0 + 1, "OPT_IN", "sprint")], "already_in"),
    ],
)
def test_opt_in_and_out_refusals_name_the_reason(events, reason):
    _, out = run(engine(), events)
    (refused,) = [e for e in out.journal if e["decision"] == "COMMAND_REFUSED"]
    assert refused["reason"] == reason and refused["details"]["explain"]


def test_an_opt_in_mission_with_a_prerequisite_is_locked_until_it_is_completed():
    rules = ruleset(
        MISSIONS.replace(
            "trigger: {type: mission, period: day, opt_in: true, time_limit: 2h, steps: 3}",
            "trigger: {type: mission, period: day, opt_in: true, steps: 1, requires: [welcome]}",
        )
    )
    _, out = run(Engine(rules), [command(T0, "OPT_IN", "sprint")])
    (refused,) = [e for e in out.journal if e["decision"] == "COMMAND_REFUSED"]
    assert refused["reason"] == "locked" and "welcome" in refused["details"]["explain"]
    events = [bet(T0), bet(T0 + 1), command(T0 + 2, "OPT_IN", "sprint"), bet(T0 + 3)]
    state, out = run(Engine(rules), events)
    assert state.missions_done == ["welcome", "sprint"]


def test_a_time_limit_expires_the_mission_on_the_next_input_dated_by_its_deadline():
    events = [command(T0, "OPT_IN", "sprint"), bet(T0 + 1)]
    state, out = run(engine(), events)
    late = T0 + 3 * HOUR
    chat = table_event(event_type="CHAT_MESSAGE", occurred_at=late, bet=None, chat_text="hi")
    state, out = run(engine(), [chat, bet(late + 1)], state=state)
    (expired,) = entries(out, "sprint", "MISSION_PROGRESS")
    assert expired["details"]["state"] == "expired" and expired["details"]["step"] == "1"
    assert expired["event_time"] == T0 + 2 * HOUR and expired["event_ids"] == []
    assert state.missions["sprint"].end == EXPIRED
    # no second try the same day; the next day it can be joined again
    state, out = run(engine(), [command(late + 2, "OPT_IN", "sprint")], state=state)
    assert entries(out, "sprint", "COMMAND_REFUSED")[0]["reason"] == "mission_expired"
    state, out = run(engine(), [command(T0 + 24 * HOUR, "OPT_IN", "sprint")], state=state)
    assert entries(out, "sprint", "COMMAND_APPLIED")


def test_a_window_that_closes_before_completion_is_journaled_missed_once():
    events = [bet(T0), bet(T0 + 1)]  # two of five steps of xmas
    state, _ = run(engine(), events)
    assert state.missions["xmas"].ends == ms("2026-12-02T00:00:00Z")
    after = ms("2026-12-02T09:00:00Z")
    state, out = run(engine(), [bet(after), bet(after + 1)], state=state)
    (missed,) = entries(out, "xmas", "MISSION_PROGRESS")
    assert missed["details"]["state"] == "missed" and missed["details"]["step"] == "2"
    assert missed["event_time"] == ms("2026-12-02T00:00:00Z")
    assert state.missions["xmas"].end == MISSED and "xmas" not in state.badges
    # a mission no one started is never missed
    _, out = run(engine(), [table_event(occurred_at=after, bet=None, event_type="CHAT_MESSAGE")])
    assert entries(out, "xmas") == []


def test_rules_read_the_missions_completed_and_their_progress():
    events = [bet(T0), bet(T0 + 1, "ROULETTE"), bet(T0 + 2, "ROULETTE"), win(T0 + 3)]
    state, out = run(engine(), events)
    assert "tour" in state.missions_done
    assert [r for r in out.rewards if r["rule_id"] == "veteran"] == []  # tour done after them
    state, out = run(engine(), [bet(T0 + 4)], state=state)
    assert [r["attributes"] for r in out.rewards if r["rule_id"] == "veteran"] == [
        {"badge": "veteran"}
    ]


LEVELS = """
protection: {daily_points_cap: null}
levels:
  - {level: 2, xp: 50, reward: {kind: POINTS, amount: 100}}
  - {level: 3, xp: 150, reward: {kind: WHEEL_SPIN, amount: 1, message: "Level 3!"}}
  - {level: 4, xp: 400}
rules:
  - id: xp
    events: [BET_PLACED]
    reward: {kind: XP, amount: event.bet.stake_minor / 100}
"""


def test_levels_grant_their_reward_once_each_when_reached():
    engine_ = Engine(ruleset(LEVELS))
    events = [bet(T0, stake=2000), bet(T0 + 1, stake=20_000), bet(T0 + 2, stake=5000)]
    state, out = run(engine_, events)
    assert state.level == 3 and state.xp == 270
    granted = [(r["rule_id"], r["kind"], r["amount"]) for r in out.rewards if r["rule_id"] != "xp"]
    assert granted == [("level:2", "POINTS", 100), ("level:3", "WHEEL_SPIN", 1)]  # both, at once
    by_rule = {r["rule_id"]: r for r in out.rewards}
    trigger = [events[1]["event_id"]]
    assert by_rule["level:2"]["reward_id"] == reward_id("level:2", 1, trigger)
    assert by_rule["level:3"]["trigger_event_ids"] == trigger
    decisions = [e["decision"] for e in out.journal if e["rule_id"] in ("levels", "level:2")]
    assert decisions == ["LEVEL_UP", "REWARD_ISSUED"]  # the level first, then what it grants
    state, out = run(engine_, [bet(T0 + 3, stake=10_000)], state=state)
    assert [r["rule_id"] for r in out.rewards] == ["xp"]  # level 4 grants nothing; none again


def test_a_level_reward_passes_the_guards():
    """A spin is marketing: a player who gave no consent reaches level 3 without it."""
    no_consent = {**PLAYER, "consents": []}
    state, out = run(Engine(ruleset(LEVELS)), [bet(T0, stake=20_000)], no_consent)
    assert state.level == 3 and not state.spins
    assert [r["rule_id"] for r in out.rewards] == ["xp", "level:2"]
    (held,) = [e for e in out.journal if e["decision"] == "REWARD_SUPPRESSED"]
    assert held["rule_id"] == "level:3" and held["reason"] == "no_consent"


def test_an_active_players_state_with_missions_stays_under_1_kb():
    events, t = [], T0
    for day in range(14):  # a fortnight of play: missions daily, an opt-in one too
        t = T0 + day * 24 * HOUR
        events.append(command(t, "OPT_IN", "sprint"))
        for i in range(40):
            game = ("ROULETTE", "BLACKJACK")[i % 2]
            events += [bet(t + i * 30_000, game, stake=12_000), win(t + i * 30_000 + 1, game)]
    state, _ = run(engine(), events)
    data = state.to_bytes()
    assert PlayerState.from_bytes(data) == state
    assert state.missions_done and state.commands and len(state.seen) == 32
    assert len(data) < 1024, len(data)


def test_mission_mistakes_are_refused_naming_the_field():
    def compile_with(trigger: str, extra: str = "") -> None:
        ruleset(
            f"""
            rules:
              - id: m
                events: [BET_PLACED]
                trigger: {trigger}
                reward: {{kind: XP}}
                {extra}
            """
        )

    cases = [
        ("{type: mission}", "trigger", "exactly one of steps or tasks"),
        ("{type: mission, steps: 2, tasks: [{id: a}]}", "trigger", "exactly one"),
        ("{type: mission, tasks: [{id: a}, {id: a}]}", "tasks[1].id", "twice"),
        ("{type: mission, tasks: [{id: a, events: [BET_SETTLED]}]}", "events[0]", "not one of"),
        ("{type: mission, tasks: [{id: a, when: 'event.bett > 1'}]}", "tasks[0].when", ""),
        ("{type: mission, steps: 1, order: random}", "trigger.order", "not one of"),
        ("{type: mission, steps: 1, requires: [m]}", "trigger.requires", "itself"),
        ("{type: mission, steps: 1, requires: [other]}", "trigger.requires", "not a mission"),
        ("{type: mission, steps: 1, time_limit: soon}", "trigger.time_limit", "duration"),
        ("{type: mission, steps: 1, opt_in: true}", "trigger.opt_in", "per game"),
        ("{type: mission, steps: 1, expires: 2h}", "trigger.expires", "unknown field"),
    ]
    for trigger, where, words in cases:
        extra = "per: game" if "opt_in" in trigger else ""
        with pytest.raises(RulesetError) as caught:
            compile_with(trigger, extra)
        assert where in caught.value.path or where in str(caught.value), (trigger, caught.value)
        assert words in str(caught.value), (trigger, caught.value)


def test_prerequisites_in_a_circle_are_refused():
    with pytest.raises(RulesetError, match="circle"):
        ruleset(
            """
            rules:
              - {id: a, events: [BET_PLACED], trigger: {type: mission, steps: 1, requires: [b]},
                 reward: {kind: XP}}
              - {id: b, events: [BET_PLACED], trigger: {type: mission, steps: 1, requires: [a]},
                 reward: {kind: XP}}
            """
        )


def test_the_ruleset_schema_takes_tasks_opt_in_and_level_rewards():
    doc = yaml.safe_load(MISSIONS + LEVELS.split("rules:")[0].replace("protection", "#"))
    doc["ruleset"] = "missions"
    assert [p.message for p in validate_document(doc, "m.yaml", {}, default_policies())] == []
    doc["rules"][1]["trigger"]["tasks"][0]["cout"] = 2
    problems = validate_document(doc, "m.yaml", {}, default_policies())
    assert problems and all(p.severity == "error" for p in problems)


def _script() -> list[dict]:
    """Play across two days with opt-ins, an opt-out, a deadline and every mission kind."""
    return [
        bet(T0),
        command(T0 + 1, "OPT_IN", "sprint", "s1"),
        bet(T0 + 2, "ROULETTE", 12_000),  # welcome done, tour unlocked and started
        command(T0 + 3, "OPT_OUT", "sprint", "s2"),
        command(T0 + 4, "OPT_IN", "sprint", "s3"),
        bet(T0 + 5, "ROULETTE"),
        win(T0 + 6),  # tour done
        win(T0 + 7, "BLACKJACK"),
        bet(T0 + 3 * HOUR),  # sprint's two hours are over; xmas at four of five
        *(bet(T0 + 24 * HOUR + i, "ROULETTE") for i in range(3)),  # xmas's window closed
    ]


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=40))
def test_the_journal_is_the_same_however_the_records_are_cut_into_batches(sizes):
    events = _script()
    whole = Decisions()
    engine_ = engine()
    engine_.decide(PlayerState(), events, PLAYER, 1, whole)
    state, journal, at = PlayerState(), [], 0
    for size in itertools.cycle(sizes):
        if at >= len(events):
            break
        out = Decisions()
        state = engine_.decide(state, events[at : at + size], PLAYER, 1, out)
        state = PlayerState.from_bytes(state.to_bytes())  # written and read between batches
        journal += out.journal
        at += size
    assert journal == whole.journal
    decided = {e["decision"] for e in journal}
    assert {"MISSION_PROGRESS", "MISSION_COMPLETED", "COMMAND_APPLIED"} <= decided
    assert {e["details"].get("state") for e in journal} >= {"expired", "missed"}


def test_level_rewards_are_checked_against_the_jurisdictions():
    doc = yaml.safe_load(LEVELS)
    doc["ruleset"] = "levels"
    doc["levels"][0]["reward"]["wagering"] = 500
    problems = validate_document(doc, "l.yaml", {}, default_policies())
    assert any(p.severity == "error" and "wagering" in p.message for p in problems), problems


def test_a_mission_written_before_tasks_existed_still_loads_and_goes_on():
    old = b'{"v":2,"m":{"welcome":["ever",1,["ev-old"],0]}}'
    state = PlayerState.from_bytes(old)
    assert state.missions["welcome"].event_ids == ["ev-old"] and not state.missions["welcome"].end
    last = bet(T0)
    state, out = run(engine(), [last], state=state)
    (done,) = entries(out, "welcome", "MISSION_COMPLETED")
    assert done["event_ids"] == ["ev-old", last["event_id"]]
    assert PlayerState.from_bytes(state.to_bytes()) == state
