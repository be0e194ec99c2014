"""Issue 17's targets judged on one ``make bench`` report: met, not met, or not run.

Each target is a ratio within the run or a bound at a rate the run chose itself, so the
verdicts hold on any machine. ``judge`` reads the report ``scripts/bench/__main__.py``
writes (its throughput rows, latency runs, state, recovery and push) and returns one
``{name, target, measured, value, met}`` per target: ``met`` is None when the phase did not
run (``measured`` None too) or ran at a scale or rate the target is not about (``measured``
says which). A run that sent less than ``RATE_SHARE`` of the rate it asked for in its timed
window (a load generator starved of CPU on a busy machine) and a run with fewer players than
the target's can only miss: passing at a lower load says nothing of the load asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable

#: the latency run at half of what (5) decided in the same run (the bench picks it)
HALF = "half of (5)"
#: the latency run at the fixed rate
FIXED = "fixed"
FIXED_RATE = 1000.0
LATENCY_P99_MS = 50.0
PUSH_P99_MS = 100.0
RECOVERY_PLAYERS = 1_000_000
RECOVERY_S = 30.0
STATE_BYTES = 1024
#: the share of the asked rate a timed window must send for a pass to count
RATE_SHARE = 0.9


def _target(
    name: str, target: str, value: float | None, measured: str | None, met: bool | None
) -> dict:
    return {"name": name, "target": target, "measured": measured, "value": value, "met": met}


def _ms(value: float | None) -> str:
    """A latency, or "-" when nothing was timed (nan in the run, null in its JSON)."""
    return "-" if value is None or math.isnan(value) else f"{value:,.0f}"


def _under(value: float | None, bound: float) -> bool:
    """Measured and under ``bound`` (nothing timed is a miss)."""
    return value is not None and value < bound


def _at_rate(met: bool, asked: float, sent: float) -> tuple[bool | None, str]:
    """The verdict of a run that sent ``sent`` events/s of the ``asked``: a pass counts only
    at the rate; and what to add to ``measured`` when it was short of it."""
    if sent >= RATE_SHARE * asked:
        return met, ""
    return (None if met else False), (
        f"; sent under {RATE_SHARE:.0%} of the rate asked, so only a miss counts"
    )


def _ratio(rows: dict[str, dict], phase: str, key: str, floor: float, name: str, of: str) -> dict:
    row = rows.get(phase)
    ratio = row[key] if row else None
    target = f">= {floor:.2f}x {of}"
    if ratio is None:
        return _target(name, target, None, None, None)
    return _target(
        name, target, ratio, f"{ratio:.2f}x ({row['events_per_s']:,} events/s)", ratio >= floor
    )


def _latency(runs: list[dict], name: str, pick: Callable[[dict], bool]) -> dict:
    target = f"p99 < {LATENCY_P99_MS:g} ms"
    run = next((r for r in runs if pick(r)), None)
    if run is None:
        return _target(name, target, None, None, None)
    ms, behind = run["latency_ms"], run["undecided_after_drain"]
    measured = (
        f"p99 {_ms(ms['p99'])} ms (p50 {_ms(ms['p50'])}, max {_ms(ms['max'])}) at "
        f"{run['rate_asked']:,.0f} events/s asked, {run['rate_sent']:,}/s sent"
    )
    if behind:  # undecided events are never timed: the p99 flatters a worker behind
        measured += f"; fell behind, {behind:,} events undecided after the drain"
    met, short = _at_rate(
        _under(ms["p99"], LATENCY_P99_MS) and not behind, run["rate_asked"], run["rate_sent"]
    )
    return _target(name, target, ms["p99"], measured + short, met)


def _recovery(rec: dict | None) -> dict:
    name = f"recovery of {RECOVERY_PLAYERS:,} players"
    target = f"< {RECOVERY_S:g} s to Ready"
    if rec is None:
        return _target(name, target, None, None, None)
    ready, players = rec["start_to_ready_s"], rec["players"]
    measured = f"Ready after {ready:.1f} s with {players:,} players"
    if players >= RECOVERY_PLAYERS:
        return _target(name, target, ready, measured, ready < RECOVERY_S)
    # fewer players: only a miss can be told (more players take no less time)
    measured += f" (the target is for {RECOVERY_PLAYERS:,})"
    return _target(name, target, ready, measured, False if ready >= RECOVERY_S else None)


def _state(state: dict | None) -> dict:
    name = "state per active player (p99)"
    target = f"< 1 KB ({STATE_BYTES:,} B)"
    if state is None or not state["players"]:
        return _target(name, target, None, None, None)
    size = state["bytes"]
    measured = (
        f"p99 {size['p99']:,} B (mean {size['mean']:,.0f}, max {size['max']:,}) "
        f"over {state['players']:,} players"
    )
    return _target(name, target, size["p99"], measured, size["p99"] < STATE_BYTES)


def _push(push: dict | None) -> dict:
    name = "push latency at half of (5)"
    target = f"p99 < {PUSH_P99_MS:g} ms"
    if push is None or not push["steps"]:
        return _target(name, target, None, None, None)
    first = push["steps"][0]  # the fewest connections: the rate's latency, least crowded
    p99 = first["latency_ms"]["p99"]
    held = [s["connections"] for s in push["steps"] if pushed_all(s, PUSH_P99_MS)]
    measured = (
        f"p99 {_ms(p99)} ms over {first['messages_timed']:,} messages with "
        f"{first['connections']:,} connections at {push['rate']:,.0f} events/s asked, "
        f"{first['rate_sent']:,}/s sent; under {PUSH_P99_MS:g} ms up to {max(held, default=0):,} "
        "connections"
    )
    if missing := first["messages_missing"]:  # never timed: the p99 flatters a late system
        measured += f"; fell behind, {missing:,} messages had not come after the drain"
    if push.get("rate_basis") != HALF:
        measured += f" (rate: {push.get('rate_basis')}, not half of (5))"
        return _target(name, target, p99, measured, None)
    met, short = _at_rate(pushed_all(first, PUSH_P99_MS), push["rate"], first["rate_sent"])
    return _target(name, target, p99, measured + short, met)


def pushed_all(step: dict, bound_ms: float) -> bool:
    """A push step (scripts/bench/push.py) whose messages all came, its p99 under
    ``bound_ms``."""
    return not step["messages_missing"] and _under(step["latency_ms"]["p99"], bound_ms)


def judge(report: dict) -> list[dict]:
    """Every target of issue 17, in its order, judged on ``report``."""
    rows = {r["phase"]: r for r in report["throughput"]}
    runs = report.get("latency") or []
    return [
        _ratio(rows, "pitboss-streak", "ratio_to_quix", 1.5, "(4) loss-streak-5 vs Quix", "(3)"),
        _ratio(rows, "pitboss-default", "ratio_to_quix", 1.0, "(5) default ruleset vs Quix", "(3)"),
        _ratio(
            rows, "pitboss-default", "ratio_to_bare", 0.45, "(5) vs bare (aim, informative)", "(1)"
        ),
        _latency(runs, f"latency at {HALF}", lambda r: r["rate_basis"] == HALF),
        _latency(
            runs, f"latency at {FIXED_RATE:,.0f} events/s", lambda r: r["rate_asked"] == FIXED_RATE
        ),
        _recovery(report.get("recovery")),
        _state(report.get("state")),
        _push(report.get("push")),
    ]


def status(target: dict) -> str:
    if target["met"] is not None:
        return "MET" if target["met"] else "NOT MET"
    return "not run" if target["measured"] is None else "not judged"


def render(targets: list[dict]) -> list[str]:
    """One line per target: its verdict, name, bound and what was measured."""
    return [
        f"{status(t):<10} {t['name']:<32} {t['target']:<20} {t['measured'] or '-'}" for t in targets
    ]
