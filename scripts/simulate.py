#!/usr/bin/env python
"""Feed Pitboss with a simulated live-casino studio (what ``make run`` and benchmarks use).

    python scripts/simulate.py                          # 200 events/s, 12 tables, forever
    python scripts/simulate.py --rate 1000 --count 50000
    python scripts/simulate.py --preload 500000         # as fast as possible, then stop
    python scripts/simulate.py --no-realtime-clock --start 2026-11-22T18:00:00Z

With the real-time clock (the default for live runs) every event is sent when the wall
clock reaches its ``occurred_at``, so latency measured from event time is real; to reach
``--rate`` with the given players, rounds are shortened or lengthened accordingly. Without
it, event time starts at ``--start`` and runs at a real studio's pace, and events go out at
``--rate``. Ctrl-C (or SIGTERM) stops cleanly after flushing what was handed to Kafka.

Exit codes: 0 done; 1 some sends failed; 2 the broker or a topic is not there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time

from app.core.times import time_ms
from app.devtools.simulator.producer import ProduceStats, RunOptions, run
from app.operations.admin import AdminError
from app.settings import Settings

log = logging.getLogger("pitboss.simulate")


def _epoch_ms(text: str) -> int:
    """ISO-8601 instant with a zone (``2026-11-22T18:00:00Z``) or epoch milliseconds."""
    try:
        return time_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Produce simulated live-dealer table events (and player profiles) to Kafka."
    )
    p.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help="target events per second (default 200; 0 = as fast as possible)",
    )
    p.add_argument("--tables", type=_positive, default=12, help="tables (default 12)")
    p.add_argument("--players", type=int, default=500, help="player pool size (default 500)")
    p.add_argument(
        "--seed",
        type=int,
        default=1,
        help="random seed; same seed and start give the same events (default 1)",
    )
    p.add_argument(
        "--count",
        type=_positive,
        default=None,
        help="stop after this many events (default: run until stopped)",
    )
    p.add_argument(
        "--preload",
        type=_positive,
        metavar="N",
        default=None,
        help="benchmark preload: N events as fast as possible, studio-paced "
        "event time (same as --count N --rate 0 --no-realtime-clock)",
    )
    p.add_argument(
        "--profiles",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first produce the players' profiles to the player-profiles topic (default yes)",
    )
    p.add_argument(
        "--accounts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also the players' account events (registration, KYC, logins, deposits) to the "
        "account-events topic (default yes for live runs, no for --preload and --rate 0)",
    )
    p.add_argument(
        "--realtime-clock",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send each event when the wall clock reaches its event time "
        "(default yes for live runs, no for --preload and --rate 0)",
    )
    p.add_argument(
        "--start",
        type=_epoch_ms,
        default=None,
        help="event time of the first round, ISO or epoch ms (default: now; "
        "only without the real-time clock)",
    )
    p.add_argument("--topic", default=None, help="events topic (default from settings)")
    p.add_argument(
        "--progress-every",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="log progress this often (default 5)",
    )
    args = p.parse_args(argv)
    if args.preload is not None:
        args.count, args.rate = args.preload, 0.0
        if args.realtime_clock:
            p.error("--preload cannot use the real-time clock")
        args.realtime_clock = False
    if args.rate < 0:
        p.error("--rate must be 0 (as fast as possible) or more")
    if args.realtime_clock is None:
        args.realtime_clock = args.rate > 0
    if args.realtime_clock and args.rate == 0:
        p.error("the real-time clock needs a --rate above 0")
    if args.realtime_clock and args.start is not None:
        p.error("--start only applies with --no-realtime-clock")
    return args


class _Progress:
    """Logs progress with the rate since the previous line, which shows a stall at once."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), 0)

    def __call__(self, stats: ProduceStats) -> None:
        now = time.monotonic()
        then, sent_then = self._last
        self._last = (now, stats.sent)
        recent = (stats.sent - sent_then) / (now - then) if now > then else 0.0
        line = f"{stats.describe()}, {recent:,.0f}/s in the last {now - then:.0f} s"
        if stats.last_event_ms:
            lag = time.time() - stats.last_event_ms / 1000
            where = "behind" if lag >= 0 else "ahead of"
            line += f"; event time {abs(lag):,.1f} s {where} the wall clock"
        log.info("%s", line)


async def _main(args: argparse.Namespace) -> ProduceStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options = RunOptions(
        rate=args.rate,
        tables=args.tables,
        players=args.players,
        seed=args.seed,
        count=args.count,
        profiles=args.profiles,
        realtime_clock=args.realtime_clock,
        start_ms=args.start,
        topic=args.topic,
        accounts=args.accounts,
    )
    settings = Settings.from_env()
    pace = "as fast as possible" if args.rate == 0 else f"{args.rate:,.0f} events/s"
    log.info(
        "simulating %d tables and %s players (seed %d) at %s to %s on %s%s",
        args.tables,
        f"{args.players:,}",
        args.seed,
        pace,
        args.topic or settings.topics.table_events,
        ",".join(settings.bootstrap_servers),
        f", stopping after {args.count:,} events" if args.count else "",
    )
    return await run(
        options, settings, stop=stop, on_progress=_Progress(), progress_every=args.progress_every
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        stats = asyncio.run(_main(args))
    except AdminError as exc:
        log.error("%s", exc)
        return 2
    log.info("done: %s in %.1f s", stats.describe(), stats.seconds)
    return 1 if stats.failed else 0


if __name__ == "__main__":
    sys.exit(main())
