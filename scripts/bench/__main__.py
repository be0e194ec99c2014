#!/usr/bin/env python
"""Benchmark Pitboss against its peers in one run, on one broker, on the same events.

    python scripts/bench/                         # everything (make bench)
    python scripts/bench/ --events 20000 --recovery-players 100000 --latency-seconds 10
    python scripts/bench/ --only bare,quix,pitboss-streak

Phases (``--only`` takes their names), one after another, each run of one on the broker in a
stage of its own (topic prefix, group/app id and state dir, its topics deleted when it ends):

  bare             (1) a bare aiokafka getmany loop with a dict as state: the ceiling
  faust            (2) a stock Faust agent writing a RocksDB table per event
  quix             (3) a Quix Streams app with RocksDB state
  pitboss-streak   (4) a Pitboss worker running only the loss-streak-5 rule
  pitboss-default  (5) a Pitboss worker running the shipped ruleset (caps, cool-downs...)
  state            no broker: the worker's decision code decides the workload in memory
                   with the default ruleset; bytes per player's state (mean, p99, max)
  latency          the simulator's table events at a steady rate; produce-to-decision
                   p50, p99, max: twice, at half of what (5) decided in this run and at
                   1,000 events/s (``--latency-rate`` forces one rate instead)
  recovery         a fresh worker rebuilding N players' state from the changelog
  push             a worker and a gateway at half of (5)'s rate: produce-to-WebSocket
                   p50, p99 while the connections ramp up (scripts/bench/push.py)

(1)-(5) decide the same pre-loaded Avro events, and each reports the loss-streak offers it
made (Pitboss: issued plus held back by its protection), so a baseline doing other work
shows. Throughput is events over the seconds from the first event consumed to the last
(Pitboss: its first decided micro-batch to its last). The run prints a table, then issue
17's targets judged on it (MET, NOT MET, not run; scripts/bench/targets.py), and writes
both as JSON (machine, settings, every detail) so that runs can be compared.

The run uses a broker of its own (noida-db on a free port, deleted afterwards) unless
``--broker-url`` or ``PITBOSS_BROKER_URL`` names one: the local broker keeps all its data
in one JSON file that it rewrites continuously, and a million player states make that file
~2 GB, which would slow every test sharing the broker (and their traffic would skew ours).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import orjson

from app.devtools.localbroker import LocalBroker, free_port
from app.rules import DEFAULT_RULESET_PATH
from app.settings import PROJECT_ROOT, Settings
from scripts.bench import baselines, pitboss, push, targets
from scripts.bench.baselines import PhaseResult
from scripts.bench.common import Stage, Workload, machine, make_workload

THROUGHPUT = {
    "bare": "(1) bare aiokafka loop + dict",
    "faust": "(2) stock Faust agent + table",
    "quix": "(3) Quix Streams, RocksDB state",
    "pitboss-streak": "(4) Pitboss, loss-streak-5 only",
    "pitboss-default": "(5) Pitboss, default ruleset",
}
PHASES = (*THROUGHPUT, "state", "latency", "recovery", "push")
#: sized so that ``make bench`` stays under ten minutes on a busy 2-core machine
DEFAULT_EVENTS = 100_000
#: the rate when (5) did not run to take half of
FALLBACK_RATE = 200.0


async def throughput_phase(
    name: str, stage: Stage, workload: Workload, timeout: float
) -> PhaseResult:
    label = THROUGHPUT[name]
    if name == "bare":
        return await baselines.bare(stage, workload, timeout)
    if name in ("faust", "quix"):
        command = baselines.faust_command() if name == "faust" else baselines.quix_command()
        return await baselines.framework(
            stage, workload, phase=name, label=label, command=command, timeout=timeout
        )
    ruleset = (
        pitboss.streak_only_ruleset(stage.root / "loss-streak-only.yaml")
        if name == "pitboss-streak"
        else DEFAULT_RULESET_PATH
    )
    return await pitboss.throughput(
        stage, workload, phase=name, label=label, ruleset=ruleset, timeout=timeout
    )


@contextlib.asynccontextmanager
async def staged(
    name: str, run_dir: Path, broker_url: str, partitions: int
) -> AsyncIterator[Stage]:
    """A stage of its own for one run of a phase, its topics deleted afterwards."""
    stage = Stage.create(name, run_dir, broker_url, partitions)
    print(f"   stage {stage.tag}, logs in {stage.root}", flush=True)
    try:
        yield stage
    finally:
        try:
            await stage.cleanup()
        except Exception as exc:
            print(f"   could not delete the stage's topics: {exc}", flush=True)


async def run_phases(args: argparse.Namespace, run_dir: Path, broker_url: str) -> dict:
    wanted = [p for p in PHASES if p in args.only]
    workload = None
    if set(wanted) - {"latency", "push"}:
        print(f"making {args.events:,} simulator events ...", flush=True)
        workload = make_workload(args.events, args.players, args.tables, args.seed)
    report: dict = {
        "throughput": [],
        "state": None,
        "latency": [],
        "recovery": None,
        "push": None,
        "errors": {},
    }
    if workload is not None:
        report["workload"] = {
            "events": len(workload.events),
            "players": workload.players,
            "tables": workload.tables,
            "seed": workload.seed,
            "profiles": len(workload.profiles),
            "expected_offers": workload.expected_offers,
            "avg_event_bytes": round(sum(len(v) for _k, v in workload.events) / args.events, 1),
            "seconds_to_make": round(workload.seconds_to_make, 1),
        }
    settings = Settings.from_env({**os.environ, "PITBOSS_PARTITIONS": str(args.partitions)})
    decided: list[bytes] = []  # the state phase's, which recovery fills the changelog with

    def states() -> list[bytes]:
        if not decided:
            assert workload is not None
            decided.extend(pitboss.decided_states(workload, settings))
        return decided

    def stage(run: str) -> contextlib.AbstractAsyncContextManager[Stage]:
        return staged(run, run_dir, broker_url, args.partitions)

    for name in wanted:
        print(f"-- {name} ...", flush=True)
        started = time.monotonic()
        try:
            if name in THROUGHPUT:
                assert workload is not None
                timeout = 120 + args.events / 500
                async with stage(name) as st:
                    result = await throughput_phase(name, st, workload, timeout)
                report["throughput"].append(result)
                print(f"   {result.rate:,.0f} events/s, {result.offers} offers", flush=True)
            elif name == "state":
                assert workload is not None
                cpu = time.process_time()
                decided_now = states()
                cpu_s = time.process_time() - cpu
                sizes = report["state"] = pitboss.state_sizes(
                    decided_now, len(workload.events), cpu_s
                )
                print(f"   p99 {sizes['bytes']['p99']:,} B per player", flush=True)
            elif name == "latency":
                for basis, rate in latency_rates(args.latency_rate, report["throughput"]):
                    async with stage(f"latency-{rate:.0f}") as st:
                        lat = await pitboss.latency(
                            st,
                            rate=rate,
                            seconds=args.latency_seconds,
                            warmup=args.latency_warmup,
                            players=args.players,
                            tables=args.tables,
                            seed=args.seed,
                        )
                    report["latency"].append({"rate_basis": basis, **lat})
                    ms = lat["latency_ms"]
                    print(
                        f"   {rate:,.0f} events/s ({basis}): p50 {ms['p50']:,.0f} ms, "
                        f"p99 {ms['p99']:,.0f} ms",
                        flush=True,
                    )
            elif name == "push":
                rate, basis = (
                    (args.push_rate, "--push-rate")
                    if args.push_rate
                    else half_capacity(report["throughput"])
                )
                async with stage(name) as st:
                    pushed = await push.push_latency(
                        st,
                        steps=push.steps_of(args.push_connections),
                        rate=rate,
                        seconds=args.push_seconds,
                        warmup=args.push_warmup,
                        target_ms=args.push_target_ms,
                    )
                report["push"] = {"rate_basis": basis, **pushed}
            else:
                async with stage(name) as st:
                    rec = report["recovery"] = await pitboss.recovery(
                        st, states(), args.recovery_players, timeout=600
                    )
                print(f"   Ready after {rec['start_to_ready_s']:.1f} s", flush=True)
        except Exception as exc:  # one phase failing must not lose the others' numbers
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
            print(f"   FAILED: {report['errors'][name]}", flush=True)
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    return report


def half_capacity(results: list[PhaseResult]) -> tuple[float, str]:
    """Half of what (5) decided in this run (issue 17's rate), else ``FALLBACK_RATE``; and
    which of the two it is."""
    measured = [r.rate for r in results if r.phase == "pitboss-default"]
    if measured:
        return round(measured[0] / 2), targets.HALF
    return FALLBACK_RATE, "(5) did not run: a fixed fallback"


def latency_rates(asked: float | None, results: list[PhaseResult]) -> list[tuple[str, float]]:
    """(basis, rate) of each latency run: ``--latency-rate`` alone when given, else half of
    (5) and the fixed 1,000 events/s, both targets of issue 17."""
    if asked:
        return [("--latency-rate", asked)]
    rate, basis = half_capacity(results)
    return [(basis, rate), (targets.FIXED, targets.FIXED_RATE)]


def throughput_rows(results: list[PhaseResult], expected_offers: int | None) -> list[dict]:
    """Each phase with its rate, its ratios to Quix (3) and to the bare loop (1), and
    whether it made the offers the loss-streak work calls for (a wrong phase shows)."""
    rates = {r.phase: r.rate for r in results}
    rows = []
    for r in results:
        row = {k: v for k, v in asdict(r).items() if k != "detail"}
        row["events_per_s"] = round(r.rate)
        row["seconds"] = round(r.seconds, 2)
        for ref, key in (("quix", "ratio_to_quix"), ("bare", "ratio_to_bare")):
            row[key] = round(r.rate / rates[ref], 3) if rates.get(ref) else None
        row["offers_as_expected"] = r.offers == expected_offers if r.offers is not None else None
        row["detail"] = r.detail
        rows.append(row)
    return rows


def render(doc: dict) -> str:
    m, s = doc["machine"], doc["settings"]
    lines = [
        f"Pitboss benchmark, {m['date']}: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"Python {m['python']}, load {m['load_average_at_start'][0]} at start",
        f"broker {doc['broker']}; {s['partitions']} partitions; run took {doc['seconds']:.0f} s",
    ]
    if w := doc.get("workload"):
        lines.append(
            f"{w['events']:,} simulator events ({w['avg_event_bytes']:.0f} B Avro each) of "
            f"{w['players']:,} players at {w['tables']} tables; loss-streak-5 makes "
            f"{w['expected_offers']:,} offers on them"
        )
    if rows := doc["throughput"]:
        lines.append("")
        lines.append(
            f"{'phase':<34} {'events':>9} {'seconds':>8} {'events/s':>9} "
            f"{'vs Quix':>8} {'vs bare':>8} {'offers':>7} {'batch':>6}"
        )

        def ratio(x: float | None) -> str:
            return f"{x:.2f}x" if x is not None else "-"

        for r in rows:
            offers = f"{r['offers']:,}" if r["offers"] is not None else "-"
            offers += "" if r["offers_as_expected"] is not False else " (WRONG)"
            batch = r["detail"].get("mean_batch", "-")
            lines.append(
                f"{r['label']:<34} {r['events']:>9,} {r['seconds']:>8.1f} "
                f"{r['events_per_s']:>9,} {ratio(r['ratio_to_quix']):>8} "
                f"{ratio(r['ratio_to_bare']):>8} {offers:>7} {batch:>6}"
            )
        lines.append(
            "offers: loss-streak-5's offers; Pitboss's count those issued and those its "
            "protection held back (cool-down, consent, jurisdiction)\n"
            "batch: Pitboss's mean events per decided micro-batch (PITBOSS_BATCH_MAX at most)"
        )
    if st := doc["state"]:
        size, has = st["bytes"], st["players_with"]
        lines += [
            "",
            f"state     {st['players']:,} players after the decision code decided the "
            f"{st['events']:,} events in memory (default ruleset, with profiles; "
            f"{st['cpu_s']:.1f} s CPU): mean {size['mean']:,.0f} B, p99 {size['p99']:,} B, "
            f"max {size['max']:,} B per player",
            f"          players with badges {has['badges']:,}, missions {has['missions']:,}, "
            f"running boosts {has['boosts']:,}, a balance {has['balance']:,}",
        ]
    for lat in doc["latency"]:
        ms = lat["latency_ms"]
        lines += [
            "",
            f"latency   default ruleset, table events at {lat['rate_asked']:,.0f}/s asked "
            f"({lat['rate_basis']}), {lat['rate_sent']:,}/s sent in the {lat['seconds']:g} s "
            f"timed after a {lat['warmup_s']:g} s warm-up: p50 {ms['p50']:,.0f} ms, "
            f"p99 {ms['p99']:,.0f} ms, max {ms['max']:,.0f} ms over "
            f"{lat['decisions_timed']:,} decisions (event produced -> decision readable); "
            f"mean batch {lat['mean_batch']}",
        ]
        if lat["undecided_after_drain"]:
            lines.append(
                f"          the worker fell behind: {lat['behind_at_stop']:,} events undecided "
                f"when the simulator stopped, {lat['undecided_after_drain']:,} still "
                f"{pitboss.DRAIN_LIMIT_S:.0f} s later (never timed, so the figures flatter it)"
            )
    if rec := doc["recovery"]:
        restore = f"{rec['restore_s']:.1f} s" if rec["restore_s"] is not None else "unknown"
        lines += [
            "",
            f"recovery  {rec['players']:,} players: a fresh worker Ready after "
            f"{rec['start_to_ready_s']:.1f} s (Faust's restore {restore}); RocksDB "
            f"{rec['rocksdb_player_state_mb']:,.0f} MB = {rec['rocksdb_bytes_per_player']:.0f} "
            f"B/player on disk; state {rec['state_bytes_per_player']:.0f} B/player",
        ]
    if doc.get("push"):
        lines += ["", push.render(doc["push"]), f"push rate: {doc['push']['rate_basis']}"]
    lines += ["", "targets (issue 17)", *targets.render(doc["targets"])]
    for name, error in doc["errors"].items():
        lines.append(f"FAILED {name}: {error.splitlines()[0]}")
    return "\n".join(lines)


def broker_for(args: argparse.Namespace, run_dir: Path) -> tuple[str, LocalBroker | None]:
    """The broker to run on, and the private one started for the run, if any."""
    url = args.broker_url or os.environ.get("PITBOSS_BROKER_URL", "").strip()
    if url:
        return url, None
    broker = LocalBroker(port=free_port(), data_dir=run_dir / "broker")
    print(broker.start(), flush=True)
    return f"kafka://{broker.address}", broker


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events to pre-load")
    parser.add_argument("--players", type=int, default=5000)
    parser.add_argument("--tables", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument(
        "--only",
        default=",".join(PHASES),
        help=f"comma-separated phases (default: all): {','.join(PHASES)}",
    )
    parser.add_argument("--json", type=Path, help="default: .state/bench/bench-<date>.json")
    parser.add_argument(
        "--latency-rate",
        type=float,
        help="events per second of one latency run (default: two runs, at half of what (5) "
        f"decided and at {targets.FIXED_RATE:,.0f})",
    )
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument(
        "--latency-warmup", type=float, default=5.0, help="seconds run before timing starts"
    )
    parser.add_argument("--recovery-players", type=int, default=1_000_000)
    push.add_arguments(parser, prefix="push-", rate=None)
    parser.add_argument("--broker-url", help="default: PITBOSS_BROKER_URL, else a private one")
    parser.add_argument("--keep", action="store_true", help="keep the private broker's data")
    args = parser.parse_args(argv)
    args.only = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(args.only) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; pick from {PHASES}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = PROJECT_ROOT / ".state" / "bench" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    json_path = args.json or PROJECT_ROOT / ".state" / "bench" / f"bench-{stamp}.json"
    started = time.monotonic()
    doc: dict = {"machine": machine()}
    url, own_broker = broker_for(args, run_dir)
    try:
        report = asyncio.run(run_phases(args, run_dir, url))
    finally:
        if own_broker is not None:
            own_broker.stop()
            if not args.keep:
                shutil.rmtree(own_broker.data_dir, ignore_errors=True)
    doc.update(
        settings={k: v for k, v in vars(args).items() if k != "json"} | {"json": str(json_path)},
        broker=url if own_broker is None else f"private noida-db at {own_broker.address}",
        seconds=round(time.monotonic() - started, 1),
        logs=str(run_dir),
        **report,
    )
    expected = report.get("workload", {}).get("expected_offers")
    doc["throughput"] = throughput_rows(report["throughput"], expected)
    doc["targets"] = targets.judge(doc)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print("\n" + render(doc))
    print(f"\nJSON: {json_path}")
    return 1 if doc["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
