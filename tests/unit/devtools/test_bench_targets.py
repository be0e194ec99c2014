"""make bench's judgement of issue 17's targets (scripts/bench/targets.py), the rates it picks
for latency, and its state figure: the pure parts, on synthetic reports, no broker."""

from __future__ import annotations

import math
import os

import orjson
import pytest

from app.core import PlayerState
from app.settings import Settings
from scripts.bench import targets
from scripts.bench.__main__ import FALLBACK_RATE, half_capacity, latency_rates, throughput_rows
from scripts.bench.baselines import PhaseResult
from scripts.bench.common import make_workload
from scripts.bench.pitboss import decided_states, state_sizes

EVENTS = 60_000


def phase(name: str, rate: float) -> PhaseResult:
    return PhaseResult(name, name, EVENTS, EVENTS / rate, 10)


def latency_run(basis: str, rate: float, p99: float, undecided: int = 0) -> dict:
    return {
        "rate_basis": basis,
        "rate_asked": rate,
        "rate_sent": round(rate),
        "undecided_after_drain": undecided,
        "latency_ms": {"p50": p99 / 3, "p99": p99, "max": p99 * 2},
    }


def push_run(p99s: list[float], basis: str = targets.HALF) -> dict:
    steps = [
        {
            "connections": 100 * (n + 1),
            "messages_timed": 0 if math.isnan(p) else 1000,
            "latency_ms": {"p50": p / 3, "p99": p, "max": p * 2},
        }
        for n, p in enumerate(p99s)
    ]
    return {"rate_basis": basis, "rate": 3000.0, "steps": steps}


def report(**parts: object) -> dict:
    """A bench report with nothing run but ``parts``."""
    return {"throughput": [], "state": None, "latency": [], "recovery": None, "push": None} | parts


def full_report() -> dict:
    results = [
        phase("bare", 60_000),
        phase("quix", 12_000),
        phase("pitboss-streak", 19_200),  # 1.6x Quix
        phase("pitboss-default", 10_800),  # 0.9x Quix, 0.18x bare
    ]
    return report(
        throughput=throughput_rows(results, 10),
        latency=[
            latency_run(targets.HALF, 5400, p99=40),
            latency_run(targets.FIXED, targets.FIXED_RATE, p99=60),
        ],
        recovery={"players": 1_000_000, "start_to_ready_s": 25.0},
        state={"players": 5000, "bytes": {"mean": 600.0, "p99": 1100, "max": 1500}},
        push=push_run([80, 120]),
    )


def verdicts(found: list[dict]) -> dict[str, bool | None]:
    return {t["name"]: t["met"] for t in found}


def judged(doc: dict, name: str) -> dict:
    [found] = [t for t in targets.judge(doc) if t["name"] == name]
    return found


def test_each_target_is_judged_on_its_own_figure():
    assert verdicts(targets.judge(full_report())) == {
        "(4) loss-streak-5 vs Quix": True,
        "(5) default ruleset vs Quix": False,
        "(5) vs bare (aim, informative)": False,
        "latency at half of (5)": True,
        "latency at 1,000 events/s": False,
        "recovery of 1,000,000 players": True,
        "state per active player (p99)": False,
        "push latency at half of (5)": True,
    }


def test_a_phase_that_did_not_run_is_neither_met_nor_missed():
    found = targets.judge(report())
    assert [t["met"] for t in found] == [None] * len(found)
    assert all(t["measured"] is None and targets.status(t) == "not run" for t in found)


def test_without_quix_the_ratios_to_it_are_not_run():
    rows = throughput_rows([phase("bare", 60_000), phase("pitboss-default", 30_000)], 10)
    met = verdicts(targets.judge(report(throughput=rows)))
    assert met["(5) default ruleset vs Quix"] is None
    assert met["(5) vs bare (aim, informative)"] is True


def test_a_worker_left_behind_misses_the_latency_target_whatever_its_p99():
    runs = [latency_run(targets.HALF, 5400, p99=10, undecided=500)]
    half = judged(report(latency=runs), "latency at half of (5)")
    assert half["met"] is False
    assert "500 events undecided" in half["measured"]


def test_an_asked_latency_rate_of_1000_is_judged_as_the_fixed_one():
    runs = [latency_run("--latency-rate", targets.FIXED_RATE, p99=20)]
    met = verdicts(targets.judge(report(latency=runs)))
    assert met["latency at 1,000 events/s"] is True
    assert met["latency at half of (5)"] is None


@pytest.mark.parametrize(("ready_s", "met"), [(3.2, None), (31.0, False)])
def test_recovery_of_fewer_players_can_only_miss(ready_s, met):
    rec = {"players": 20_000, "start_to_ready_s": ready_s}
    found = judged(report(recovery=rec), "recovery of 1,000,000 players")
    assert found["met"] is met
    assert "20,000 players" in found["measured"]
    assert targets.status(found) == ("not judged" if met is None else "NOT MET")


def test_push_at_another_rate_than_half_of_5_is_not_judged():
    pushed = push_run([20], basis="--push-rate")
    found = judged(report(push=pushed), "push latency at half of (5)")
    assert found["met"] is None
    assert "--push-rate" in found["measured"]


def test_push_is_judged_at_the_fewest_connections_and_says_how_many_held():
    found = judged(full_report(), "push latency at half of (5)")
    assert found["value"] == 80
    assert "up to 100 connections" in found["measured"]


def test_push_with_no_message_timed_misses_its_target_in_the_run_and_from_its_json():
    doc = report(push=push_run([math.nan, 50]))
    for judged_on in (doc, orjson.loads(orjson.dumps(doc))):  # nan is null in the JSON
        found = judged(judged_on, "push latency at half of (5)")
        assert found["met"] is False
        assert "p99 - ms over 0 messages" in found["measured"]
        assert "up to 200 connections" in found["measured"]


def test_render_gives_one_line_per_target_with_its_verdict():
    found = targets.judge(full_report())
    found[-1] = targets.judge(report())[-1]  # push: not run
    lines = targets.render(found)
    assert len(lines) == len(found)
    assert lines[0].startswith("MET ") and "1.60x" in lines[0]
    assert lines[1].startswith("NOT MET ") and "0.90x" in lines[1]
    assert lines[-1].startswith("not run ") and lines[-1].endswith(" -")


def test_half_capacity_is_half_of_5_else_the_fallback():
    assert half_capacity([phase("quix", 12_000), phase("pitboss-default", 5938)]) == (
        2969,
        targets.HALF,
    )
    rate, basis = half_capacity([phase("quix", 12_000)])
    assert rate == FALLBACK_RATE and basis != targets.HALF


def test_latency_runs_at_half_of_5_and_1000_unless_a_rate_is_asked():
    results = [phase("pitboss-default", 8000)]
    assert latency_rates(None, results) == [
        (targets.HALF, 4000),
        (targets.FIXED, targets.FIXED_RATE),
    ]
    assert latency_rates(2500.0, results) == [("--latency-rate", 2500.0)]


def test_state_sizes_count_what_makes_a_state_rich():
    rich = PlayerState(badges=["explorer"], balance=40).to_bytes()
    bare = PlayerState().to_bytes()
    sizes = state_sizes([bare] * 99 + [rich], events=500, cpu_s=0.5)
    assert sizes["players"] == 100
    assert sizes["bytes"]["max"] == len(rich) > sizes["bytes"]["p99"] == len(bare)
    assert sizes["players_with"] == {"badges": 1, "missions": 0, "boosts": 0, "balance": 1}


def test_decided_states_are_those_of_the_players_with_events():
    workload = make_workload(1500, players=300, tables=6, seed=3)
    settings = Settings.from_env({**os.environ, "PITBOSS_PARTITIONS": "4"})
    states = decided_states(workload, settings)
    playing = {e["player_id"] for e in workload.decoded(len(workload.events)) if e["player_id"]}
    assert len(states) == len(playing) < len(workload.profiles)
    assert state_sizes(states, 1500, 0.0)["players_with"]["badges"] > 0
