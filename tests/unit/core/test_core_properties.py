"""Properties of the decision core over simulated play (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import Decisions, Engine, PlayerState
from app.core.engine import group_by_player
from app.devtools.simulator import generate_events
from app.pipeline.ingest import PLAYER_EVENT_TYPES
from tests.support.factories import ms, settled
from tests.support.hypothesis_profiles import examples
from tests.support.rulesets import PLAYER, default_engine, ruleset

START = ms("2026-11-21T20:00:00Z")  # spans the promo window's end and a day change
CLOCKS = {"issued_at", "recorded_at"}
PROPS = settings(
    max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def play(seed: int, players: int = 6, count: int = 1500) -> dict[str, list[dict]]:
    events = generate_events(count, seed=seed, start_ms=START, tables=4, players=players)
    return group_by_player(e for e in events if e["event_type"] in PLAYER_EVENT_TYPES)


def decide_all(by_player, batches: int = 1, now_ms: int = 1):
    """Every player's events in ``batches`` slices, state stored and reloaded between."""
    engine = default_engine("Europe/Malta")
    out = Decisions()
    states = {}
    for player, events in by_player.items():
        raw = None
        size = max(1, -(-len(events) // batches))
        for i in range(0, len(events), size):
            state = engine.decide(
                PlayerState.from_bytes(raw), events[i : i + size], None, now_ms, out
            )
            raw = state.to_bytes()
        states[player] = raw
    return out, states


def without_clock(records):
    return [{k: v for k, v in r.items() if k not in CLOCKS} for r in records]


@PROPS
@given(seed=st.integers(0, 10_000))
def test_the_same_events_give_the_same_decisions_and_ids(seed):
    by_player = play(seed)
    a, states_a = decide_all(by_player, now_ms=1)
    b, states_b = decide_all(by_player, now_ms=2)
    assert without_clock(a.rewards) == without_clock(b.rewards)
    assert without_clock(a.journal) == without_clock(b.journal)
    assert states_a == states_b
    ids = [r["reward_id"] for r in a.rewards]
    assert len(ids) == len(set(ids))


@PROPS
@given(seed=st.integers(0, 10_000), batches=st.integers(2, 12))
def test_micro_batch_boundaries_do_not_change_any_decision(seed, batches):
    by_player = play(seed)
    whole, states = decide_all(by_player)
    sliced, sliced_states = decide_all(by_player, batches=batches)
    assert without_clock(sliced.rewards) == without_clock(whole.rewards)
    assert without_clock(sliced.journal) == without_clock(whole.journal)
    assert sliced_states == states


@PROPS
@given(seed=st.integers(0, 10_000), data=st.data())
def test_redelivered_events_mint_no_second_reward(seed, data):
    by_player = play(seed)
    clean, _ = decide_all(by_player)
    redelivered = {}
    for player, events in by_player.items():
        again = list(events)
        for _ in range(data.draw(st.integers(0, 10))):
            # a re-delivery arrives soon after the original (within the remembered ids)
            i = data.draw(st.integers(0, len(events) - 1))
            again.insert(
                min(len(again), again.index(events[i]) + data.draw(st.integers(1, 20))), events[i]
            )
        redelivered[player] = again
    noisy, _ = decide_all(redelivered, batches=3)
    assert without_clock(noisy.rewards) == without_clock(clean.rewards)
    assert noisy.duplicates == sum(len(v) for v in redelivered.values()) - sum(
        len(v) for v in by_player.values()
    )


WINDOW = ruleset(
    """
    protection: {rapid_loss: {losses: 1000}}  # many losses close together: not the point here
    rules:
      - id: three-losses-in-10-min
        events: [BET_SETTLED]
        when: event.settlement.outcome == "LOSS"
        trigger: {type: window, within: 10m, count_at_least: 3}
        reward: {kind: WHEEL_SPIN}
    """
)


@PROPS
@given(offsets=st.lists(st.integers(0, 9 * 60_000), min_size=1, max_size=20), data=st.data())
def test_a_window_counts_events_inside_it_whatever_their_arrival_order(offsets, data):
    losses = [settled("LOSS", occurred_at=START + offset) for offset in offsets]
    shuffled = data.draw(st.permutations(losses))
    out = Decisions()
    Engine(WINDOW).decide(PlayerState(), shuffled, PLAYER, 1, out)
    assert len(out.rewards) == len(losses) // 3
    fired = [i for r in out.rewards for i in r["trigger_event_ids"]]
    assert len(fired) == len(set(fired)) == 3 * (len(losses) // 3)
