#!/usr/bin/env python
"""Local development broker (noida-db's Kafka service): start, stop, status, reset.

    python scripts/broker.py start [--timeout 30]
    python scripts/broker.py status
    python scripts/broker.py stop
    python scripts/broker.py reset [--start]        # also wipes the workers' local state
    python scripts/broker.py reset --state-only     # only the workers' local state

When PITBOSS_BROKER_URL is set an external Kafka is configured and this script leaves it
alone. Settings (port, data dir) come from the environment; see app/settings.py.
"""

from __future__ import annotations

import argparse
import logging
import sys

from app.devtools.localbroker import (
    BrokerError,
    LocalBroker,
    reset_local,
    wipe_worker_state,
)
from app.settings import Settings

log = logging.getLogger("pitboss.broker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the local broker and wait until it answers")
    start.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    sub.add_parser("stop", help="stop the local broker (data is kept)")
    sub.add_parser("status", help="is it running, where, does it answer (exit 1 if not)")
    reset = sub.add_parser(
        "reset", help="stop the broker, delete its data and the workers' local state"
    )
    reset.add_argument("--start", action="store_true", help="start it again afterwards")
    reset.add_argument(
        "--state-only", action="store_true", help="only delete the workers' local state"
    )
    reset.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s broker: %(message)s",
    )

    settings = Settings.from_env()
    broker = LocalBroker.from_settings(settings)
    try:
        if args.command == "reset" and args.state_only:
            log.info(wipe_worker_state(settings))
            return 0
        if not settings.uses_local_broker:
            log.info(
                "PITBOSS_BROKER_URL is set (%s): an external Kafka is configured, "
                "so there is no local broker to %s",
                settings.broker_url,
                args.command,
            )
            return 2 if args.command == "reset" else 0
        if args.command == "start":
            log.info(broker.start(timeout=args.timeout))
        elif args.command == "stop":
            log.info(broker.stop())
        elif args.command == "status":
            st = broker.status()
            if not st.running:
                log.info("local broker is not running (data dir %s)", broker.data_dir)
                return 1
            log.info(
                "local broker is running: kafka at %s, %s (data in %s)",
                st.kafka_address or "(kafka service stopped)",
                "answering metadata requests" if st.answering else "NOT answering",
                broker.data_dir,
            )
            return 0 if st.answering else 1
        elif args.command == "reset":
            log.info("resetting: stop the workers first, their state is deleted too")
            for line in reset_local(settings, restart=args.start, timeout=args.timeout):
                log.info(line)
            if not args.start:
                log.info("left the broker stopped; `make broker` starts it again")
    except BrokerError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
