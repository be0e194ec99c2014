"""Mini-games: a spin's outcome is fixed by its reward id and the operator's salt, lands on
the sectors as often as their weights say, grants through the issue path, and is played once."""

from __future__ import annotations

import math
from collections import Counter

from app.core import Engine
from app.core.games import draw, landing
from app.core.state import CooldownState, PlayerState
from tests.support.factories import ms, table_event
from tests.support.rulesets import ruleset, run
from tests.unit.core.test_store import command, decisions

T0 = ms("2026-12-01T18:00:00Z")
SALT = b"operator-secret-salt"

WHEEL = """
protection: {daily_points_cap: null}
rules:
  - id: join-spin
    events: [PLAYER_JOINED]
    reward: {kind: WHEEL_SPIN, amount: 2}
minigames:
  - id: lucky-wheel
    type: wheel
    sectors:
      - {weight: 50}
      - {weight: 30, reward: {kind: POINTS, amount: 20, message: "+{amount} points from the wheel"}}
      - {weight: 15, reward: {kind: XP, amount: 25}}
      - {weight: 5, reward: {kind: BADGE, badge: wheel-winner}}
  - id: gift
    type: gift_box
    sectors:
      - {weight: 1, reward: {kind: POINTS, amount: 5}}
      - {weight: 1, reward: {kind: POINTS, amount: 50}}
"""


def join(at: int) -> dict:
    return table_event(event_type="PLAYER_JOINED", bet=None, occurred_at=at)


def test_wheel_frequencies_match_the_weights_chi_square():
    """100,000 spins of fixed ids under a fixed salt (so the test cannot flake): the
    chi-square statistic stays below the 0.1% critical value for 3 degrees of freedom."""
    game = ruleset(WHEEL).minigames["lucky-wheel"]
    spins = 100_000
    landed = Counter(landing(game, SALT, f"rw-{i:06d}", 1)[0] for i in range(spins))
    expected = [spins * s.weight / game.total for s in game.sectors]
    chi2 = sum((landed[i] - e) ** 2 / e for i, e in enumerate(expected))
    assert chi2 < 16.27, (chi2, landed)  # chi-square(3) at p = 0.001
    # and a salt that is not the operator's lands elsewhere (about 3 in 4 times differ)
    other = sum(
        landing(game, b"another", f"rw-{i:06d}", 1)[0] != landing(game, SALT, f"rw-{i:06d}", 1)[0]
        for i in range(1000)
    )
    assert 550 < other < 750


def test_the_draw_is_a_keyed_hash_of_the_spin_and_its_play():
    assert draw(SALT, "rw-1", 1) == draw(SALT, "rw-1", 1)
    assert len({draw(SALT, "rw-1", 1), draw(SALT, "rw-1", 2), draw(SALT, "rw-2", 1)}) == 3
    assert 0 <= draw(SALT, "rw-1", 1) < 2**64
    assert math.isfinite(draw(b"", "rw-1", 1))


def test_a_won_spin_is_kept_and_played_by_command_where_the_salt_says():
    engine = Engine(ruleset(WHEEL), game_salt=SALT)
    joined = join(T0)
    state, out = run(engine, [joined])
    (spin,) = out.rewards
    assert state.spins == [[spin["reward_id"], "lucky-wheel", 2]]  # the first wheel by default
    game = engine.ruleset.minigames["lucky-wheel"]
    plays = [command(T0 + 1, "SPIN"), command(T0 + 2, "SPIN", reward_id=spin["reward_id"])]
    plays.append(command(T0 + 3, "SPIN"))
    state, out = run(engine, plays, state=state)
    played = decisions(out, "GAME_PLAYED")
    assert [p["details"]["play"] for p in played] == ["2", "1"]
    for entry in played:
        play = int(entry["details"]["play"])
        sector, rule = landing(game, SALT, spin["reward_id"], play)
        assert entry["details"]["sector"] == str(sector) and entry["reward_id"] == spin["reward_id"]
        if rule.rule is not None:
            (prize,) = [
                r for r in out.rewards if r["reward_id"] == entry["details"]["prize_reward_id"]
            ]
            assert prize["rule_id"] == f"game:lucky-wheel:{sector}"
    reasons = [e["reason"] for e in out.journal if e["decision"].startswith("COMMAND")]
    assert reasons == ["spin", "spin", "no_spin"]  # two plays won, two played
    assert state.spins == []
    # the same spin under another engine with the same salt lands the same (a replay)
    replayed = Engine(ruleset(WHEEL), game_salt=SALT)
    _, out2 = run(replayed, plays, state=run(replayed, [joined])[0])
    assert decisions(out2, "GAME_PLAYED") == played


def test_a_spin_during_a_cool_down_is_refused_and_kept():
    engine = Engine(ruleset(WHEEL), game_salt=SALT)
    state, out = run(engine, [join(T0)])
    state.cooldown = CooldownState("cd-1", T0, T0 + 3_600_000, "RAPID_LOSS_AMOUNT")
    state, out = run(engine, [command(T0 + 1, "SPIN")], state=state)
    assert [e["reason"] for e in decisions(out, "COMMAND_REFUSED")] == ["cooldown_active"]
    assert state.spins[0][2] == 2 and not decisions(out, "GAME_PLAYED")


def test_a_spin_names_a_game_that_exists_and_a_spin_is_refused_without_one():
    doc = WHEEL.replace("amount: 2}", "amount: 1, minigame: gift}")
    engine = Engine(ruleset(doc), game_salt=SALT)
    state, _ = run(engine, [join(T0)])
    assert state.spins[0][1] == "gift"
    _, out = run(Engine(ruleset(WHEEL)), [command(T0, "SPIN")], state=PlayerState())
    assert [e["reason"] for e in decisions(out, "COMMAND_REFUSED")] == ["no_spin"]


def test_a_spin_of_a_game_the_rules_no_longer_have_is_kept_and_the_next_playable_is_played():
    state = PlayerState(spins=[["rw-old", "retired", 1], ["rw-new", "lucky-wheel", 1]])
    engine = Engine(ruleset(WHEEL), game_salt=SALT)
    plays = [command(T0, "SPIN", reward_id="rw-old"), command(T0 + 1, "SPIN")]
    state, out = run(engine, plays, state=state)
    reasons = [e["reason"] for e in out.journal if e["decision"].startswith("COMMAND")]
    assert reasons == ["unknown_minigame", "spin"]
    assert [e["reward_id"] for e in decisions(out, "GAME_PLAYED")] == ["rw-new"]
    assert state.spins == [["rw-old", "retired", 1]]
