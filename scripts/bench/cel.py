#!/usr/bin/env python3
"""Benchmark Python CEL bindings on Pitboss-style rule conditions.

Usage::

    python scripts/bench/cel.py [BINDING ...] [--json PATH] [--quick]

Bindings: ``common-expression-language``, ``cel-expr-python``, ``cel-python`` (interpreted
runner) and ``cel-python-compiled`` (its transpiling runner). With no names, all are tried.
Each binding runs in a fresh subprocess of the same interpreter, so bindings never share
module state and a crash in one does not hide the others; a binding that is not importable
is skipped with a message.

Measured per rule expression (best of several repeats, µs per call):

* ``compile``: parse/check/plan one expression (what a worker pays per rule version);
* ``eval``: evaluation against a prebuilt activation (conversion paid once, reused);
* ``build+eval``: Python dicts -> binding activation -> evaluation, per call;
* ``batch``: one program over 1,000 distinct events (200 for cel-python), prebuilt and from dicts;
* ``per event``: build one activation per event, then evaluate every rule on it.

It also runs CEL-semantics probes (heterogeneous numbers, error absorption, ``has()``, null,
timestamps, error messages) and records, for each, the value or where the error was raised.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

BINDINGS: dict[str, tuple[str, str]] = {
    # name -> (module to import, distribution for the version)
    "common-expression-language": ("cel", "common-expression-language"),
    "cel-expr-python": ("cel_expr_python", "cel-expr-python"),
    "cel-python": ("celpy", "cel-python"),
    "cel-python-compiled": ("celpy", "cel-python"),
}

# name -> (CEL source, expected result on EVENT_A activation, on EVENT_B activation)
RULES: dict[str, tuple[str, bool, bool]] = {
    "bj_natural": (
        'event.game == "BLACKJACK" && event.settlement.outcome == "WIN"'
        ' && event.settlement.hand == "natural_blackjack"',
        True,
        False,
    ),
    "banker_vip": (
        'event.bet.bet_type == "banker" && profile.vip_tier in ["GOLD", "PLATINUM"]',
        False,
        True,
    ),
    "birthday_lower": ('event.chat_text.lowerAscii().contains("birthday")', True, False),
    "birthday_regex": ('event.chat_text.matches("(?i)birthday")', True, False),
    "loss_streak": ("state.loss_streak >= 5 && event.bet.stake_minor > 1000", True, False),
    "has_bet": ("has(event.bet) && event.bet.stake_minor >= 10000", True, False),
    "custom_fn": ('is_vip(profile.vip_tier) && event.game == "BACCARAT"', False, True),
    "trivial": ("true", True, True),
}

ERROR = "<error>"  # expected outcome: compile-time or evaluation-time error


def is_vip(tier: str) -> bool:
    """Custom function registered in every binding (Python callback)."""
    return tier in ("GOLD", "PLATINUM")


def make_event(rng: random.Random | None = None, kind: str = "A") -> dict[str, Any]:
    """Return a TableEvent-shaped dict as a decoder would hand it over (no datetimes)."""
    rng = rng or random.Random(0)
    bj = kind == "A"
    return {
        "event_id": f"evt-{rng.randrange(10**9)}",
        "event_type": "ROUND_SETTLED",
        "occurred_at_ms": 1_714_564_800_000 + rng.randrange(86_400_000),
        "studio_id": "riga-1",
        "table_id": f"tbl-{rng.randrange(40)}",
        "dealer_id": f"dlr-{rng.randrange(200)}",
        "game": "BLACKJACK" if bj else "BACCARAT",
        "game_variant": "Infinite" if bj else "Speed",
        "round_id": f"rnd-{rng.randrange(10**9)}",
        "player_id": f"p-{rng.randrange(10**6)}",
        "bet": {
            "bet_type": "main" if bj else "banker",
            "stake_minor": 12_000 if bj else 500,
            "currency": "EUR",
        },
        "settlement": {
            "outcome": "WIN" if bj else "LOSS",
            "payout_minor": 30_000 if bj else 0,
            "hand": "natural_blackjack" if bj else None,
        },
        "chat_text": "Happy BIRTHDAY to me, dealer!" if bj else "gl all",
        "device": {"type": "mobile", "os": "android", "app_version": "5.12.1"},
    }


def make_activation(rng: random.Random | None = None, kind: str = "A") -> dict[str, Any]:
    """Return the ``{"event", "profile", "state"}`` activation used by every rule."""
    rng = rng or random.Random(0)
    return {
        "event": make_event(rng, kind),
        "profile": {
            "player_id": "p-1",
            "vip_tier": "GOLD" if kind == "A" else "PLATINUM",
            "country": "LV",
            "language": "lv",
            "segments": ["high_roller", "blackjack_fan"],
            "lifetime_stake_minor": 98_765_432,
            "created_at_ms": 1_600_000_000_000,
            "opt_in_marketing": True,
        },
        "state": {
            "loss_streak": 6 if kind == "A" else 2,
            "win_streak": 0,
            "rounds_today": rng.randrange(500),
            "last_reward_at_ms": 1_714_000_000_000,
        },
    }


_SEM_EVENT = {"game": "BLACKJACK", "n": 12_000, "chat_text": "Happy BIRTHDAY", "player_id": None}
_SEM = {"event": _SEM_EVENT, "profile": {}, "state": {}}
# name -> (CEL source, activation, expected per the CEL spec / cel-go)
SEMANTICS: dict[str, tuple[str, dict[str, Any], Any]] = {
    "int == double (dyn)": ("event.n == 12000.0", _SEM, True),
    "int vs uint compare": ("event.n > 1000u", _SEM, True),
    "mixed arithmetic 1 + 2.5": ("1 + 2.5", _SEM, ERROR),
    "int division truncates": ("-7 / 2", _SEM, -3),
    "int modulo truncates": ("-7 % 3", _SEM, -1),
    "int64 overflow": ("9223372036854775807 + 1", _SEM, ERROR),
    "'in' on strings": ('"birthday" in event.chat_text', _SEM, ERROR),
    "has() on missing key": ("has(event.nope)", _SEM, False),
    "missing key access": ("event.nope == 1", _SEM, ERROR),
    "error absorbed by ||": ("event.nope == 1 || true", _SEM, True),
    "error absorbed by &&": ("event.nope == 1 && false", _SEM, False),
    "|| on a non-bool": ("event.n || false", _SEM, ERROR),
    "None is null": ("event.player_id == null", _SEM, True),
    "size counts code points": ('size("héllo")', _SEM, 5),
    "lowerAscii is ASCII-only": ('"ÀBC".lowerAscii()', _SEM, "Àbc"),
    "matches (?i)": ('event.chat_text.matches("(?i)birthday")', _SEM, True),
    "timestamp + duration": (
        'timestamp("2024-05-01T12:00:00Z") + duration("90m") > timestamp("2024-05-01T13:00:00Z")',
        _SEM,
        True,
    ),
    "datetime nested in dict": (
        'event.ts < timestamp("2030-01-01T00:00:00Z")',
        {"event": {"ts": datetime(2024, 5, 1, tzinfo=UTC)}, "profile": {}, "state": {}},
        True,
    ),
    "exists macro": ("[1, 2, 3].exists(x, x > 2)", _SEM, True),
    "syntax error": ('event.game = "x"', _SEM, ERROR),
    "undeclared variable": ('evnt.game == "x"', _SEM, ERROR),
    "type error string + int": ("event.game + 1", _SEM, ERROR),
}


class CelEvalError(Exception):
    """Raised by adapters when a binding reports an evaluation error."""


class Adapter:
    """Uniform face over one binding: compile, prepare an activation, evaluate."""

    def compile(self, src: str) -> Any:
        """Compile ``src`` into a reusable program."""
        raise NotImplementedError

    def prepare(self, act: dict[str, Any]) -> Any:
        """Convert a dict activation into the binding's reusable activation."""
        raise NotImplementedError

    def run(self, prog: Any, prepared: Any) -> Any:
        """Evaluate on a prepared activation; raise CelEvalError on a CEL error."""
        raise NotImplementedError

    def run_dict(self, prog: Any, act: dict[str, Any]) -> Any:
        """Evaluate straight from dicts (conversion included)."""
        return self.run(prog, self.prepare(act))


class RustCelAdapter(Adapter):
    """``common-expression-language``: PyO3 wrapper of the Rust ``cel`` crate."""

    def __init__(self) -> None:
        import cel
        import cel.stdlib

        self.cel = cel
        # lowerAscii is not native here: cel.stdlib supplies it as a Python callback.
        self.functions = {"lowerAscii": cel.stdlib.lower_ascii, "is_vip": is_vip}

    def compile(self, src: str) -> Any:
        return self.cel.compile(src)

    def prepare(self, act: dict[str, Any]) -> Any:
        return self.cel.Context(act, functions=self.functions)

    def run(self, prog: Any, prepared: Any) -> Any:
        return prog.execute(prepared)


class GoogleCelAdapter(Adapter):
    """``cel-expr-python``: Google's pybind11 wrapper of cel-cpp (type-checked)."""

    def __init__(self) -> None:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_strings

        self.cel = cel
        dyn_map = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
        vip = cel.Overload("is_vip_string", cel.Type.BOOL, [cel.Type.STRING], impl=is_vip)
        self.env = cel.NewEnv(
            variables={"event": dyn_map, "profile": dyn_map, "state": dyn_map},
            extensions=[ext_strings.ExtStrings()],
            functions=[cel.FunctionDecl("is_vip", [vip])],
        )
        self.error_type = cel.Type.ERROR

    def compile(self, src: str) -> Any:
        return self.env.compile(src)

    def prepare(self, act: dict[str, Any]) -> Any:
        return self.env.Activation(act)

    def _unwrap(self, value: Any) -> Any:
        if value.type() == self.error_type:
            raise CelEvalError(value.value())
        return value.value()

    def run(self, prog: Any, prepared: Any) -> Any:
        return self._unwrap(prog.eval(prepared))

    def run_dict(self, prog: Any, act: dict[str, Any]) -> Any:
        return self._unwrap(prog.eval(data=act))


class CelpyAdapter(Adapter):
    """``cel-python`` (celpy): pure-Python lark parser + interpreter or transpiler.

    In 0.5.0 the transpiler (CompiledRunner) fails on custom functions, and the two runners
    cannot share one process (the parser class keeps the first runner's tree type).
    """

    def __init__(self, compiled: bool = False) -> None:
        import celpy
        from celpy import celtypes
        from celpy.adapter import json_to_cel

        runner = celpy.CompiledRunner if compiled else celpy.InterpretedRunner
        self.env = celpy.Environment(runner_class=runner)
        self.json_to_cel = json_to_cel
        self.eval_error = celpy.CELEvalError
        self.natives = (
            (celtypes.BoolType, bool),
            (celtypes.IntType, int),
            (celtypes.UintType, int),
            (celtypes.DoubleType, float),
            (celtypes.StringType, str),
        )
        self.functions = {
            "lowerAscii": lambda s: celtypes.StringType(s.lower()),
            "is_vip": lambda t: celtypes.BoolType(is_vip(t)),
        }

    def compile(self, src: str) -> Any:
        return self.env.program(self.env.compile(src), functions=self.functions)

    def prepare(self, act: dict[str, Any]) -> Any:
        return {k: self.json_to_cel(v) for k, v in act.items()}

    def run(self, prog: Any, prepared: Any) -> Any:
        result = prog.evaluate(prepared)
        if isinstance(result, self.eval_error):
            raise CelEvalError(str(result))
        for cel_type, native in self.natives:
            if isinstance(result, cel_type):
                return native(result)
        return result


def make_adapter(name: str) -> Adapter:
    """Instantiate the adapter for a binding name."""
    if name == "common-expression-language":
        return RustCelAdapter()
    if name == "cel-expr-python":
        return GoogleCelAdapter()
    return CelpyAdapter(compiled=name == "cel-python-compiled")


def per_call_us(fn: Callable[[], Any], min_time: float, repeats: int) -> float:
    """Best-of-``repeats`` µs per ``fn()`` call, each repeat a calibrated loop.

    The minimum is the least disturbed by other load on a shared machine (as ``timeit``).
    """
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time / 4:
            break
        n *= 4
    n = max(1, int(n * (min_time / max(elapsed, 1e-9))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return round(min(samples), 3)


def per_item_us(fn: Callable[[], Any], items: int, repeats: int) -> float:
    """Best-of-``repeats`` µs per item for ``fn()``, which handles ``items`` items per call."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) / items * 1e6)
    return round(min(samples), 3)


def outcome(adapter: Adapter, src: str, act: dict[str, Any]) -> dict[str, Any]:
    """Compile and evaluate once; report value or the phase and message of the error."""
    try:
        prog = adapter.compile(src)
    except Exception as exc:
        return {"error": "compile", "type": type(exc).__name__, "message": str(exc)}
    try:
        value = adapter.run_dict(prog, act)
    except Exception as exc:
        return {"error": "eval", "type": type(exc).__name__, "message": str(exc)}
    if isinstance(value, bool | int | float | str | type(None)):
        return {"value": value}
    return {"value": repr(value)}


def matches_spec(got: dict[str, Any], expected: Any) -> bool:
    """True when ``got`` is what the CEL spec asks for."""
    if expected == ERROR:
        return "error" in got
    value = got.get("value", ERROR)
    return type(value) is type(expected) and value == expected


def thread_speedup(adapter: Adapter, prog: Any, prepared: Any, calls: int) -> float:
    """Throughput of two threads relative to one (about 1.0 means the GIL is held)."""

    def work(n: int) -> None:
        for _ in range(n):
            adapter.run(prog, prepared)

    t0 = time.perf_counter()
    work(calls)
    single = time.perf_counter() - t0
    threads = [threading.Thread(target=work, args=(calls // 2,)) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(single / (time.perf_counter() - t0), 2)


def bench_binding(name: str, quick: bool) -> dict[str, Any]:
    """Run every measurement for one binding in this process."""
    adapter = make_adapter(name)
    slow = name.startswith("cel-python")
    min_time = 0.05 if quick else 0.2
    repeats = 3 if quick else 7
    n_events = 200 if quick or slow else 1000
    rng = random.Random(42)
    events = [make_activation(rng, "A" if i % 2 else "B") for i in range(n_events)]
    act_a, act_b = make_activation(kind="A"), make_activation(kind="B")
    pre_a = adapter.prepare(act_a)
    tiny = {"event": {"game": "BLACKJACK"}, "profile": {}, "state": {}}

    rules: dict[str, Any] = {}
    progs: dict[str, Any] = {}
    for rule, (src, exp_a, exp_b) in RULES.items():
        row: dict[str, Any] = {"src": src}
        try:
            prog = progs[rule] = adapter.compile(src)
            got = (adapter.run_dict(prog, act_a), adapter.run_dict(prog, act_b))
        except Exception as exc:
            row["error"] = f"{type(exc).__name__}: {exc}"
            rules[rule] = row
            progs.pop(rule, None)
            continue
        row["correct"] = bool(got[0]) is exp_a and bool(got[1]) is exp_b
        row["compile_us"] = per_call_us(lambda s=src: adapter.compile(s), min_time, repeats)
        row["eval_us"] = per_call_us(lambda p=prog: adapter.run(p, pre_a), min_time, repeats)
        row["build_eval_us"] = per_call_us(
            lambda p=prog: adapter.run_dict(p, act_a), min_time, repeats
        )
        prepared = [adapter.prepare(a) for a in events]

        def batch_pre(p: Any = prog, acts: list[Any] = prepared) -> None:
            for a in acts:
                adapter.run(p, a)

        def batch_dict(p: Any = prog) -> None:
            for a in events:
                adapter.run_dict(p, a)

        row["batch_eval_us"] = per_item_us(batch_pre, n_events, repeats)
        row["batch_build_eval_us"] = per_item_us(batch_dict, n_events, repeats)
        rules[rule] = row

    real = [p for r, p in progs.items() if r != "trivial"]

    def per_event() -> None:
        for a in events:
            prepared = adapter.prepare(a)
            for p in real:
                adapter.run(p, prepared)

    result: dict[str, Any] = {
        "binding": name,
        "version": importlib.metadata.version(BINDINGS[name][1]),
        "rules": rules,
        "activation_build_us": per_call_us(lambda: adapter.prepare(act_a), min_time, repeats),
        "activation_build_tiny_us": per_call_us(lambda: adapter.prepare(tiny), min_time, repeats),
        "per_event_all_rules_us": per_item_us(per_event, n_events, repeats),
        "per_event_rule_count": len(real),
        "batch_events": n_events,
    }
    if "has_bet" in progs:
        calls = 2_000 if slow else 100_000
        result["thread_speedup_2t"] = thread_speedup(adapter, progs["has_bet"], pre_a, calls)
    sem = {}
    for case, (src, act, expected) in SEMANTICS.items():
        got = outcome(adapter, src, act)
        got["spec"] = expected if expected != ERROR else "error"
        got["ok"] = matches_spec(got, expected)
        sem[case] = got
    result["semantics"] = sem
    return result


def run_worker(name: str, quick: bool) -> dict[str, Any]:
    """Benchmark ``name`` in a fresh interpreter; return its JSON result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name]
    if quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"binding": name, "failed": proc.stderr.strip()[-2000:]}
    return json.loads(proc.stdout)


def fmt(value: Any) -> str:
    """Format a µs figure for the table."""
    return "-" if value is None else f"{value:,.2f}"


def print_report(results: list[dict[str, Any]]) -> None:
    """Print the timing and semantics tables."""
    done = [r for r in results if "rules" in r]
    if not done:
        return
    cols = [f"{r['binding']} {r['version']}" for r in done]
    width = max(24, *(len(c) for c in cols))
    metrics = [
        ("compile_us", "compile (µs)"),
        ("eval_us", "eval, prebuilt activation (µs)"),
        ("build_eval_us", "dict -> activation + eval (µs)"),
        ("batch_eval_us", "batch of events, prebuilt (µs/eval)"),
        ("batch_build_eval_us", "batch of events, from dicts (µs/eval)"),
    ]
    for key, title in metrics:
        print(f"\n## {title}")
        print(f"{'rule':<16}" + "".join(f"{c:>{width + 2}}" for c in cols))
        for rule in RULES:
            cells = []
            for r in done:
                row = r["rules"].get(rule, {})
                cell = "ERR" if "error" in row else fmt(row.get(key))
                if row.get("correct") is False:
                    cell += " (WRONG)"
                cells.append(f"{cell:>{width + 2}}")
            print(f"{rule:<16}" + "".join(cells))
    print("\n## per event")
    for label, key in [
        ("activation build (µs)", "activation_build_us"),
        ("activation build, 1-field event (µs)", "activation_build_tiny_us"),
        ("build once + all rules (µs/event)", "per_event_all_rules_us"),
        ("2-thread speedup (x)", "thread_speedup_2t"),
    ]:
        print(f"{label:<36}" + "".join(f"{fmt(r.get(key)):>{width + 2}}" for r in done))
    print("\n## CEL semantics (ok = matches spec; E:compile / E:eval = where it failed)")
    print(f"{'case':<30}" + "".join(f"{c:>{width + 2}}" for c in cols))
    for case in SEMANTICS:
        cells = []
        for r in done:
            got = r["semantics"][case]
            shown = f"E:{got['error']}" if "error" in got else str(got.get("value"))[:14]
            cells.append(f"{('ok ' if got['ok'] else 'NO ') + shown:>{width + 2}}")
        print(f"{case:<30}" + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the requested bindings and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bindings", nargs="*", help=f"any of: {', '.join(BINDINGS)}")
    parser.add_argument("--json", default="bench_cel.json", help="where to write results")
    parser.add_argument("--quick", action="store_true", help="shorter timing loops")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        json.dump(bench_binding(args.worker, args.quick), sys.stdout)
        return 0

    unknown = [name for name in args.bindings if name not in BINDINGS]
    if unknown:
        parser.error(f"unknown binding(s) {unknown}; choose from {', '.join(BINDINGS)}")
    results: list[dict[str, Any]] = []
    for name in args.bindings or list(BINDINGS):
        if importlib.util.find_spec(BINDINGS[name][0]) is None:
            print(f"skip {name}: not installed (pip install {BINDINGS[name][1]})")
            results.append({"binding": name, "skipped": "not installed"})
            continue
        print(f"benchmarking {name} ...", flush=True)
        result = run_worker(name, args.quick)
        if "failed" in result:
            print(f"  {name} failed:\n{result['failed']}")
        results.append(result)

    print_report(results)
    report = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": results,
    }
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, ensure_ascii=False)
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
