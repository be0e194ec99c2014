#!/usr/bin/env python
"""Soak a worker: the simulator at a steady rate for minutes, measured as it goes.

    python scripts/bench/soak.py                    # 1,000 events/s for 10 minutes
    python scripts/bench/soak.py --minutes 1        # a smoke run
    python scripts/bench/soak.py --rate 2000 --minutes 30 --report soak.json

It runs an isolated deployment (its own topic prefix, app id and state dir, as the
end-to-end tests do) on the configured broker, or on a private local broker when none
answers, with one worker process and the studio simulator on the real-time clock. Every
``--sample-every`` seconds it records the worker's RSS (``/proc/<pid>/status``), its RocksDB
size, what it decided and the consumer lag; a consumer measures each decision's latency
(the journal or reward record's Kafka timestamp minus that of the event that triggered it)
and counts dead letters. At the end it prints a table per minute, writes a JSON report and
flags memory or RocksDB growth that does not level off (the last third's slope against the
first third's) and any dead letter (the simulator sends good input only).

Exit codes: 0 nothing flagged; 1 something flagged; 2 it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.devtools.deployment import Deployment, get_json  # the tests' isolated deployments, reused
from app.devtools.localbroker import LocalBroker, broker_answers, free_port
from app.devtools.simulator.producer import ProduceStats, RunOptions, run
from app.settings import PROJECT_ROOT, Settings
from scripts.bench.measure import LatencyMeter, dir_bytes, measure, percentile

WORKER_ID = "soak-worker"
#: a series whose last third still grows faster than this share of its first third's
#: growth has not levelled off (and the growth must matter: over 2 % of the value a minute)
LEVEL_OFF_RATIO = 0.5
SIGNIFICANT_PER_MINUTE = 0.02


@dataclass
class Sample:
    """The worker at one moment (``at``: seconds since the simulator started)."""

    at: float
    rss_bytes: int
    rocksdb_bytes: int
    produced: int
    decided: int
    lag: int
    dead_letters: int


@dataclass
class Minute:
    minute: int
    produced_per_s: float = 0.0
    decided_per_s: float = 0.0
    decisions_timed: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    rocksdb_mb: float = 0.0
    dead_letters: int = 0


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from ``/proc/<pid>/status`` (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def growth(samples: list[Sample], attr: str) -> dict:
    """First and last third's slopes of one series, and whether it levels off."""
    points = [(s.at, float(getattr(s, attr))) for s in samples]
    if len(points) < 6:
        return {"first_per_min": None, "last_per_min": None, "levels_off": None}
    third = (points[-1][0] - points[0][0]) / 3
    first = [p for p in points if p[0] <= points[0][0] + third]
    last = [p for p in points if p[0] >= points[-1][0] - third]
    early, late = slope_per_minute(first), slope_per_minute(last)
    significant = late > SIGNIFICANT_PER_MINUTE * max(points[-1][1], 1.0)
    levels_off = not (significant and late > LEVEL_OFF_RATIO * max(early, 0.0))
    return {"first_per_min": early, "last_per_min": late, "levels_off": levels_off}


async def soak(dep: Deployment, args: argparse.Namespace, pid: int) -> tuple[list, LatencyMeter]:
    settings = dep.settings
    data_dir = Path(settings.state_dir) / "workers" / WORKER_ID
    stop = asyncio.Event()
    produced = ProduceStats()
    meter = LatencyMeter(int(time.time() * 1000))
    options = RunOptions(rate=args.rate, tables=args.tables, players=args.players, seed=args.seed)
    simulator = asyncio.create_task(run(options, settings, stop=stop, stats=produced))
    measuring = asyncio.create_task(measure(settings, meter))
    samples: list[Sample] = []
    started = time.monotonic()

    async def sample() -> Sample:
        stats = await asyncio.to_thread(
            get_json, dep.web_url + "/pitboss/stats/", dep.token("auditor")
        )
        totals = stats["totals"]
        lag = await asyncio.to_thread(dep.lag, settings.topics.table_events)
        taken = Sample(
            at=round(time.monotonic() - started, 1),
            rss_bytes=rss_bytes(pid),
            rocksdb_bytes=dir_bytes(data_dir),
            produced=produced.sent,
            decided=totals["events"] + totals["table_level"],
            lag=lag,
            dead_letters=meter.dead_letters,
        )
        samples.append(taken)
        print(
            f"{taken.at:7.0f} s  sent {taken.produced:>9,}  decided {taken.decided:>9,}  "
            f"lag {taken.lag:>6,}  RSS {taken.rss_bytes / 2**20:6.1f} MB  "
            f"RocksDB {taken.rocksdb_bytes / 2**20:6.1f} MB  dead letters {taken.dead_letters}",
            flush=True,
        )
        return taken

    try:
        while time.monotonic() - started < args.minutes * 60:
            if simulator.done():
                simulator.result()  # raises what stopped it
                raise RuntimeError("the simulator stopped early")
            await asyncio.sleep(args.sample_every)
            await sample()
        stop.set()
        await simulator
        drained = time.monotonic()  # let the worker finish what was sent
        while (await sample()).lag and time.monotonic() - drained < 60:
            await asyncio.sleep(2)
        await asyncio.sleep(2)  # the last decisions' records reach the meter
    finally:
        stop.set()
        measuring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await measuring
    return samples, meter


def per_minute(samples: list[Sample], meter: LatencyMeter) -> list[Minute]:
    minutes = []
    previous = Sample(0, 0, 0, 0, 0, 0, 0)
    for m in range(int(max(s.at for s in samples) // 60) + 1):
        inside = [s for s in samples if m * 60 < s.at <= (m + 1) * 60]
        if not inside:
            continue
        last = inside[-1]
        seconds = max(last.at - previous.at, 1e-9)
        latencies = sorted(meter.by_minute.get(m, []))
        minutes.append(
            Minute(
                minute=m + 1,
                produced_per_s=(last.produced - previous.produced) / seconds,
                decided_per_s=(last.decided - previous.decided) / seconds,
                decisions_timed=len(latencies),
                latency_ms={
                    "p50": percentile(latencies, 0.50),
                    "p95": percentile(latencies, 0.95),
                    "p99": percentile(latencies, 0.99),
                    "max": latencies[-1] if latencies else float("nan"),
                },
                rss_mb=last.rss_bytes / 2**20,
                rocksdb_mb=last.rocksdb_bytes / 2**20,
                dead_letters=last.dead_letters,
            )
        )
        previous = last
    return minutes


def print_table(minutes: list[Minute]) -> None:
    print(
        f"\n{'min':>4} {'sent/s':>8} {'decided/s':>10} {'timed':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'RSS MB':>8} {'RocksDB MB':>11} {'dead':>5}"
    )
    for m in minutes:
        lat = m.latency_ms
        print(
            f"{m.minute:>4} {m.produced_per_s:>8,.0f} {m.decided_per_s:>10,.0f} "
            f"{m.decisions_timed:>7,} {lat['p50']:>8.0f} {lat['p95']:>8.0f} {lat['p99']:>8.0f} "
            f"{lat['max']:>8.0f} {m.rss_mb:>8.1f} {m.rocksdb_mb:>11.1f} {m.dead_letters:>5}"
        )


def broker_for(args: argparse.Namespace, state_dir: Path) -> tuple[str, LocalBroker | None]:
    """The broker URL to soak against, and the private broker started for it, if any."""
    if args.broker_url:
        return args.broker_url, None
    configured = Settings.from_env()
    if broker_answers(configured.bootstrap_servers):
        return configured.kafka_url, None
    broker = LocalBroker(port=free_port(), data_dir=state_dir / "broker")
    print(broker.start(), flush=True)
    return f"kafka://{broker.address}", broker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--players", type=int, default=500)
    parser.add_argument("--tables", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds")
    parser.add_argument("--broker-url", help="default: the configured broker, else a private one")
    parser.add_argument("--state-dir", type=Path, help="default: .state/soak/<time>")
    parser.add_argument("--report", type=Path, help="JSON report (default: in the state dir)")
    args = parser.parse_args(argv)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    state_dir = (args.state_dir or PROJECT_ROOT / ".state" / "soak" / stamp).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    report_path = args.report or state_dir / "report.json"
    try:
        url, own_broker = broker_for(args, state_dir)
    except Exception as exc:
        print(f"no broker: {exc}", file=sys.stderr)
        return 2
    dep = None
    try:
        dep = Deployment.create(
            state_dir,
            partitions=args.partitions,
            PITBOSS_BROKER_URL=url,
        )
        worker = dep.start_worker(WORKER_ID)
        print(
            f"soaking worker pid {worker.proc.pid} (log {worker.log_path}) at {args.rate:,.0f} "
            f"events/s for {args.minutes:g} min; topics prefixed "
            f"{dep.env['PITBOSS_TOPIC_PREFIX']} on {url}",
            flush=True,
        )
        samples, meter = asyncio.run(soak(dep, args, worker.proc.pid))
        stop_took = worker.stop(signal.SIGTERM, timeout=60)
    finally:
        if dep is not None:
            dep.stop_all()
        if own_broker is not None:
            own_broker.stop()

    minutes = per_minute(samples, meter)
    print_table(minutes)
    checks = {"rss": growth(samples, "rss_bytes"), "rocksdb": growth(samples, "rocksdb_bytes")}
    flags = [
        f"{name} keeps growing: {c['last_per_min'] / 2**20:+.2f} MB/min in the last third "
        f"against {c['first_per_min'] / 2**20:+.2f} MB/min in the first"
        for name, c in checks.items()
        if c["levels_off"] is False
    ]
    if meter.dead_letters:
        flags.append(f"{meter.dead_letters} dead letters from good input")
    all_latencies = sorted(v for vs in meter.by_minute.values() for v in vs)
    report = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("state_dir", "report")},
        "broker": url,
        "worker_log": str(worker.log_path),
        "sigterm_stop_seconds": round(stop_took, 2),
        "events_sent": samples[-1].produced,
        "events_decided": samples[-1].decided,
        "latency_ms_overall": {
            q: percentile(all_latencies, v)
            for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        },
        "decisions_timed": len(all_latencies),
        "growth": checks,
        "dead_letters": meter.dead_letters,
        "flags": flags,
        "minutes": [asdict(m) for m in minutes],
        "samples": [asdict(s) for s in samples],
    }
    report_path.write_text(json.dumps(report, indent=2))
    overall = report["latency_ms_overall"]
    print(
        f"\n{report['events_sent']:,} events sent, {report['events_decided']:,} decided; "
        f"latency p50 {overall['p50']:.0f} ms, p95 {overall['p95']:.0f} ms, "
        f"p99 {overall['p99']:.0f} ms, max {overall['max']:.0f} ms over "
        f"{len(all_latencies):,} decisions; SIGTERM stop took {stop_took:.1f} s"
    )
    for name, c in checks.items():
        if c["levels_off"] is not None:
            print(
                f"{name}: {c['first_per_min'] / 2**20:+.2f} MB/min in the first third, "
                f"{c['last_per_min'] / 2**20:+.2f} MB/min in the last: "
                + ("levels off" if c["levels_off"] else "DOES NOT LEVEL OFF")
            )
    print("\n".join(f"FLAG: {f}" for f in flags) or "nothing flagged")
    print(f"report: {report_path}")
    return 1 if flags else 0


if __name__ == "__main__":
    sys.exit(main())
