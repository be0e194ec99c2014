"""Responsible gaming by round, the risk markers and the risk level (issue 18)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState
from app.core.compile import RulesetError
from app.rules.loader import _schema_errors
from tests.support.factories import ms, table_event
from tests.support.rulesets import PLAYER, default_engine, ruleset, run

T0 = ms("2026-11-24T12:00:00Z")
MIN = 60_000

#: Every bet earns points and a wheel spin (marketing): what a risk level holds back shows.
ENGINE = Engine(
    ruleset(
        """
        rules:
          - id: points
            events: [BET_PLACED]
            reward: {kind: POINTS, amount: 1}
          - id: spin
            events: [BET_PLACED]
            reward: {kind: WHEEL_SPIN, amount: 1}
        """
    )
)


def placed(at, stake, round_id, bet_type="straight", game="ROULETTE"):
    bet = {"bet_type": bet_type, "stake_minor": stake, "currency": "EUR"}
    return table_event(occurred_at=at, bet=bet, round_id=round_id, game=game)


def settled(at, stake, payout, round_id, bet_type="straight", game="ROULETTE"):
    bet = {"bet_type": bet_type, "stake_minor": stake, "currency": "EUR"}
    outcome = "WIN" if payout > stake else "LOSS" if payout < stake else "PUSH"
    return table_event(
        event_type="BET_SETTLED",
        occurred_at=at,
        bet=bet,
        round_id=round_id,
        game=game,
        settlement={"outcome": outcome, "payout_minor": payout, "hand": None},
    )


def spin(at, bets, round_id, settle_after=30_000):
    """One roulette round: every bet placed, then every bet settled; ``bets`` are
    ``(stake, payout)`` pairs."""
    out = [placed(at + i, stake, round_id) for i, (stake, _) in enumerate(bets)]
    settle_at = at + settle_after
    out += [settled(settle_at + i, s, p, round_id) for i, (s, p) in enumerate(bets)]
    return out


def entries(out, decision):
    return [j for j in out.journal if j["decision"] == decision]


def levels(out):
    return [(e["details"]["from"], e["details"]["to"]) for e in entries(out, "RISK_LEVEL_CHANGED")]


# -- counting by round -------------------------------------------------------------------------


def test_a_four_bet_roulette_player_losing_spins_trips_nothing_by_count():
    """Three straight-ups lose and one pays 36x each spin: 15 losing settlements in five
    minutes (per settlement that tripped at 8), but five rounds of net loss of 4.00 each."""
    events = []
    for i in range(5):
        events += spin(T0 + i * MIN, [(100, 0), (100, 0), (100, 0), (100, 0)], f"r{i}")
    _, out = run(default_engine(), events)
    assert out.cooldowns == []
    assert entries(out, "COOLDOWN_STARTED") == []


def test_twenty_losing_rounds_within_ten_minutes_are_counted_as_rounds():
    events = []
    for i in range(20):
        events += spin(T0 + i * 25_000, [(100, 0)] * 4, f"r{i}", settle_after=10_000)
    _, out = run(default_engine(), events)
    assert out.cooldowns == []  # rapid_loss_count is a medium marker by default
    [changed] = entries(out, "RISK_LEVEL_CHANGED")
    assert changed["details"]["markers"] == "rapid_loss_count"
    assert changed["event_ids"] == [events[-1]["event_id"]]  # the 20th round's last bet
    _, out = run(default_engine(), events[:-1])  # 19 rounds and three bets of the 20th
    assert entries(out, "RISK_LEVEL_CHANGED") == []


def test_a_round_of_mixed_bets_is_one_result_won_or_lost_as_a_whole():
    """A 1.00 straight-up lost and a 17.00 red won: a winning round, which ends a chase run."""
    state = PlayerState()
    chase = []
    for i, stake in enumerate((1000, 1200, 1500)):
        chase += spin(T0 + i * MIN, [(stake, 0)], f"r{i}")
    state, out = run(default_engine(), chase, state=state)
    assert state.chase == [3, 1000, 1500]
    mixed = spin(T0 + 3 * MIN, [(100, 0), (1700, 3400)], "r3")
    state, out = run(default_engine(), mixed, state=state)
    assert state.chase == [] and out.cooldowns == []


def test_small_and_large_bets_in_the_same_rounds_are_not_loss_chasing():
    """Every round: a 1.00 straight-up and a 10.00 red, both lost. Per settlement a 10.00
    stake after three losses starting at 1.00 looked like chasing; per round nothing rose."""
    events = []
    for i in range(5):
        events += spin(T0 + i * 3 * MIN, [(100, 0), (1000, 0)], f"r{i}")
    _, out = run(default_engine(), events)
    assert [c["reason"] for c in out.cooldowns] == []


def test_a_real_chase_of_round_stakes_after_losing_rounds_trips_loss_chasing():
    stakes = [1000, 1200, 1500, 2000, 2500, 3000]  # rounds of two bets each, rising to 3x
    events = []
    for i, stake in enumerate(stakes):
        events += spin(T0 + i * 3 * MIN, [(stake // 2, 0), (stake // 2, 0)], f"r{i}")
    _, out = run(default_engine(), events)
    [cooldown] = out.cooldowns
    assert cooldown["reason"] == "LOSS_CHASING"
    assert cooldown["figures"] == {
        "losses_before": 5,
        "first_stake_minor": 1000,
        "stake_minor": 3000,
    }
    [started] = entries(out, "COOLDOWN_STARTED")
    assert (started["rule_id"], started["reason"]) == ("loss-chasing", "loss_chasing")
    assert levels(out) == [("none", "high")]


def test_a_round_closes_when_the_players_next_round_starts():
    """A bet never settled (a void round) does not hold the round open for ever: the next
    round's first event closes it, and a round with no settlement counts nothing."""
    state, _ = run(default_engine(), [placed(T0, 100, "r1"), placed(T0 + 1, 100, "r1")])
    assert state.round[1:3] == [2, 0]
    state, _ = run(default_engine(), [settled(T0 + 10, 100, 0, "r1")], state=state)
    assert state.round[1:3] == [1, 1]  # one bet still open
    r1 = state.round[0]
    state, _ = run(default_engine(), [placed(T0 + MIN, 100, "r2")], state=state)
    assert state.round[0] != r1 and state.round[1] == 1
    assert state.loss_minutes == [[(T0 + 10) // MIN, 100, 1]]  # r1 counted once, lost


def test_a_round_ended_naming_the_player_closes_their_round():
    state, _ = run(default_engine(), [placed(T0, 100, "r1"), placed(T0 + 1, 100, "r1")])
    state, _ = run(default_engine(), [settled(T0 + 10, 100, 0, "r1")], state=state)
    ended = table_event(event_type="ROUND_ENDED", bet=None, round_id="r1", occurred_at=T0 + 20)
    state, _ = run(default_engine(), [ended], state=state)
    assert state.round == [] and state.loss_minutes == [[(T0 + 10) // MIN, 100, 1]]


# -- markers and levels --------------------------------------------------------------------------


def marathon(minutes, start=T0, every=2):
    """A bet and its push settlement every ``every`` minutes: play, with no loss to detect."""
    out = []
    for i, m in enumerate(range(0, minutes + 1, every)):
        at = start + m * MIN
        out += [placed(at, 500, f"m{i}"), settled(at + 20_000, 500, 500, f"m{i}")]
    return out


def test_a_marathon_session_sets_low_then_medium_and_pauses_marketing_at_medium():
    state, out = run(ENGINE, marathon(100))
    assert levels(out) == [("none", "low")]
    [low] = entries(out, "RISK_LEVEL_CHANGED")
    assert low["event_time"] == T0 + 90 * MIN and low["details"]["markers"] == "session_long"
    assert low["details"]["session_minutes"] == "90"
    assert "90 minutes" in low["details"]["message"] and "+0.00" in low["details"]["message"]
    assert entries(out, "REWARD_SUPPRESSED") == []  # low: rewards unchanged
    state, out = run(ENGINE, marathon(90, start=T0 + 102 * MIN), state=state)
    assert levels(out) == [("low", "medium")]
    [medium] = entries(out, "RISK_LEVEL_CHANGED")
    assert medium["event_time"] == T0 + 180 * MIN
    assert medium["details"]["markers"] == "session_marathon"
    assert "paused" in medium["details"]["message"]
    held = [h for h in entries(out, "REWARD_SUPPRESSED") if h["event_time"] >= T0 + 180 * MIN]
    assert held and {(h["rule_id"], h["reason"]) for h in held} == {("spin", "risk_medium")}
    points = [r for r in out.rewards if r["rule_id"] == "points"]
    assert points[-1]["event_time"] > T0 + 180 * MIN  # non-marketing rewards still flow
    assert out.cooldowns == []


def test_the_level_falls_once_its_markers_leave_the_window_and_the_fall_is_journaled():
    state, _ = run(ENGINE, marathon(100))
    assert state.risk == 1
    later = T0 + 100 * MIN + 61 * MIN  # a break, and past the hour the marker counts for
    state, out = run(ENGINE, [placed(later, 500, "x1")], state=state)
    assert levels(out) == [("low", "none")]
    assert "message" not in entries(out, "RISK_LEVEL_CHANGED")[0]["details"]
    assert state.markers == {} and state.risk == 0


def test_play_at_night_in_the_players_own_time_zone_sets_low():
    two_am_stockholm = ms("2026-11-24T01:00:00Z")
    event = placed(two_am_stockholm, 500, "n1")
    _, out = run(ENGINE, [event], {**PLAYER, "time_zone": "Europe/Stockholm"})
    assert levels(out) == [("none", "low")]
    assert entries(out, "RISK_LEVEL_CHANGED")[0]["details"]["markers"] == "night_play"
    _, out = run(ENGINE, [event], {**PLAYER, "time_zone": "America/New_York"})  # 20:00 there
    assert levels(out) == []


def test_two_low_markers_together_make_medium():
    night = ms("2026-11-24T01:00:00Z")
    _, out = run(ENGINE, marathon(92, start=night - 92 * MIN))  # 23:28 to 01:00 UTC
    assert levels(out) == [("none", "low"), ("low", "medium")]
    assert entries(out, "RISK_LEVEL_CHANGED")[-1]["details"]["markers"] == "night_play,session_long"


def test_stake_escalation_over_a_session_sets_medium_and_with_a_marathon_high():
    rounds = [spin(T0 + i * MIN, [(1000, 2000)], f"s{i}") for i in range(10)]  # won: no chase
    escalated = spin(T0 + 10 * MIN, [(5000, 10000)], "s10")  # 5x the mean of the first ten
    _, out = run(ENGINE, [e for r in rounds for e in r] + escalated)
    assert levels(out) == [("none", "medium")]
    assert entries(out, "RISK_LEVEL_CHANGED")[0]["details"]["markers"] == "stake_escalation"
    engine = Engine(
        ruleset(
            """
            protection:
              session: {long: 3m, marathon: 5m}
            rules: []
            """
        )
    )
    _, out = run(engine, [e for r in rounds for e in r] + escalated)
    assert levels(out)[-1] == ("medium", "high")
    [cooldown] = out.cooldowns
    assert cooldown["reason"] == "OTHER" and cooldown["figures"] == {"level": 3, "markers": 2}
    [started] = entries(out, "COOLDOWN_STARTED")
    assert (started["rule_id"], started["reason"]) == ("risk-level", "risk_high")


def test_escalation_compares_stakes_per_bet_so_more_bets_in_a_spin_are_not_a_raise():
    rounds = [spin(T0 + i * MIN, [(1000, 2000)], f"s{i}") for i in range(10)]
    covered = spin(T0 + 10 * MIN, [(1000, 2000)] * 6, "s10")  # six 10.00 bets: 6x the round
    _, out = run(ENGINE, [e for r in rounds for e in r] + covered)
    assert levels(out) == []


def chaser(outcomes, base=1000, start=T0):
    """Rounds of two bets each: the stake per bet doubles after a losing round and goes back
    to ``base`` after a win (``outcomes``: "L" or "W" per round)."""
    events, stake = [], base
    for i, outcome in enumerate(outcomes):
        payout = 0 if outcome == "L" else 2 * stake
        events += spin(start + i * MIN, [(stake, payout), (stake, payout)], f"c{i}")
        stake = 2 * stake if outcome == "L" else base
    return events


def test_raising_the_stake_per_bet_after_losing_rounds_sets_stake_chasing_at_medium():
    """Five raises to 2x right after a losing round within twelve rounds, never five losses
    in a row (so not loss_chasing): the chaser is at medium at the fifth raise."""
    outcomes = "LLWLLWLWLW"  # raises at rounds 1, 2, 4, 5, 7 and 9: each after a loss
    events = chaser(outcomes)
    _, out = run(ENGINE, events)
    [changed] = entries(out, "RISK_LEVEL_CHANGED")
    assert (changed["details"]["to"], changed["details"]["markers"]) == ("medium", "stake_chasing")
    assert out.cooldowns == []
    raises = [i for i in range(1, len(outcomes)) if outcomes[i - 1] == "L"]
    fifth = raises[4]  # the round staking 2x after the fifth losing round
    assert changed["event_time"] == events[4 * fifth + 3]["occurred_at"]
    _, out = run(ENGINE, chaser(outcomes[:fifth]))
    assert levels(out) == []  # four raises: nothing


def markers_seen(out):
    return {
        m for e in entries(out, "RISK_LEVEL_CHANGED") for m in e["details"]["markers"].split(",")
    }


def test_random_stakes_that_do_not_follow_losses_set_no_stake_chasing():
    """The same stakes and outcomes, but the doubled stake comes after a win: not chasing."""
    events, stakes = [], [1000, 2000, 1000, 2000, 1000, 2000, 1000, 2000, 1000, 2000, 1000, 2000]
    for i, stake in enumerate(stakes):
        payout = 2 * stake if stake == 1000 else 0  # the small stake wins, the big one loses
        events += spin(T0 + i * MIN, [(stake, payout)], f"n{i}")
    _, out = run(ENGINE, events)
    assert "stake_chasing" not in markers_seen(out)


def test_a_session_kept_before_the_per_bet_fields_is_extended_not_broken():
    state, _ = run(ENGINE, spin(T0, [(1000, 0)], "old"))
    state.session = state.session[:5]
    state, out = run(ENGINE, spin(T0 + MIN, [(1000, 0)], "new"), state=state)
    assert len(state.session) == 9 and out.cooldowns == []


def test_self_exclusion_and_harm_flags_still_come_first_at_any_level():
    _, out = run(ENGINE, marathon(190), {**PLAYER, "self_excluded": True})
    assert levels(out) == [("none", "low"), ("low", "medium")]
    assert {h["reason"] for h in entries(out, "REWARD_SUPPRESSED")} == {"self_excluded"}


def test_marker_levels_window_and_messages_come_from_the_ruleset():
    engine = Engine(
        ruleset(
            """
            protection:
              session: {break: 5m, long: 10m, marathon: 20m}
              risk:
                window: 10m
                levels: {session_long: medium}
                messages: {medium: "{minutes} min, {net}"}
            rules: []
            """
        )
    )
    _, out = run(engine, marathon(12))
    assert levels(out) == [("none", "medium")]
    assert entries(out, "RISK_LEVEL_CHANGED")[0]["details"]["message"] == "10 min, +0.00"


@pytest.mark.parametrize(
    ("protection", "message"),
    [
        ("risk: {levels: {night_play: severe}}", "must be low, medium or high"),
        ("risk: {levels: {bad_luck: low}}", "is not a marker"),
        ("risk: {messages: {high: hi}}", "only the low and medium levels"),
        ("session: {long: 2h, marathon: 1h}", "must be longer than session.long"),
        ("night_play: {from: 3, until: 3}", "must differ"),
        ("night_play: {from: 24}", "an hour from 0 to 23"),
        ("risk: {accumulate: 1}", "at least 2"),
        ("loss_chasing: {raises: 6, raises_within: 5}", "at least 'raises'"),
        ("loss_chasing: {raise_factor: 1}", "at least 1.01"),
    ],
)
def test_a_bad_protection_section_is_refused_with_its_path(protection, message):
    with pytest.raises(RulesetError, match=message):
        ruleset(f"protection: {{{protection}}}\nrules: []\n")


def test_the_ruleset_schema_accepts_the_new_sections_and_refuses_unknown_ones():
    good = {
        "ruleset": "x",
        "rules": [],
        "protection": {
            "session": {"break": "20m", "long": "90m", "marathon": "3h"},
            "night_play": {"from": 23, "until": 5},
            "stake_escalation": {"baseline_rounds": 5, "factor": 4},
            "loss_chasing": {"raises": 4, "raises_within": 10, "raise_factor": 1.5},
            "risk": {"window": "1h", "accumulate": 2, "levels": {"night_play": "medium"}},
        },
    }
    assert _schema_errors(good) == {}
    bad = {**good, "protection": {"risk": {"levels": {"night_play": "severe"}}}}
    assert _schema_errors(bad)


def test_state_with_rounds_sessions_and_markers_round_trips():
    state, _ = run(ENGINE, [*marathon(100), placed(T0 + 101 * MIN, 100, "open")])
    assert state.round and state.session and state.markers and state.risk
    assert PlayerState.from_bytes(state.to_bytes()) == state


# -- determinism ---------------------------------------------------------------------------------

#: Short thresholds, so that random play crosses every marker and level.
QUICK = Engine(
    ruleset(
        """
        protection:
          rapid_loss: {losses: 4, losses_within: 10m, net_loss_minor: 20000}
          session: {break: 5m, long: 10m, marathon: 25m}
          stake_escalation: {baseline_rounds: 2, factor: 3}
          risk: {window: 15m}
          cooldown: {duration: 5m}
        rules:
          - id: spin
            events: [BET_PLACED]
            reward: {kind: WHEEL_SPIN, amount: 1}
        """
    )
)


@st.composite
def sessions(draw):
    events, t = [], T0 + draw(st.integers(0, 23)) * 60 * MIN
    for n in range(draw(st.integers(1, 25))):
        t += draw(st.sampled_from([1, 1, 2, 3, 7, 30])) * MIN
        bets = draw(
            st.lists(
                st.tuples(st.sampled_from([100, 500, 2000]), st.sampled_from([0, 0, 1, 2])),
                min_size=1,
                max_size=4,
            )
        )
        events += spin(t, [(stake, stake * k) for stake, k in bets], f"h{n}")
    return events


@settings(max_examples=80, deadline=None)
@given(events=sessions(), data=st.data())
def test_the_journal_does_not_depend_on_where_the_events_were_cut_into_batches(events, data):
    whole = Decisions()
    QUICK.decide(PlayerState(), list(events), PLAYER, 1, whole)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=6)))
    parts, state, start = Decisions(), PlayerState(), 0
    for end in [*cuts, len(events)]:
        if end > start:
            state = PlayerState.from_bytes(state.to_bytes())  # written and read between batches
            QUICK.decide(state, events[start:end], PLAYER, 1, parts)
            start = end
    assert parts.journal == whole.journal
    assert parts.cooldowns == whole.cooldowns and parts.rewards == whole.rewards
