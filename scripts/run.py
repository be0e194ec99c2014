#!/usr/bin/env python
"""``make run``: a worker, the timeline archive, the studio simulator and the rewards on
screen, until Ctrl-C.

The broker and the topics are already up (``make broker topics``). Worker and simulator
logs go to ``.state/logs``; this terminal shows each reward and cool-down as it arrives.
Ctrl-C stops the simulator, then the worker (within its shutdown bound), then the local
broker (its data is kept; ``make reset`` wipes it).

    PITBOSS_RUN_RATE=1000 make run      # events per second from the simulator (default 200)
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from app.devtools.localbroker import LocalBroker
from app.devtools.supervise import Child, spawn, spawn_worker
from app.operations.tail import tail
from app.settings import Settings

log = logging.getLogger("pitboss.run")


def start(settings: Settings, logs: Path, children: list[Child]) -> None:
    """Start the worker, wait until it is ready, then the simulator; both join ``children``."""
    env = dict(os.environ)
    worker = spawn_worker(env, settings.worker_id, logs)
    children.insert(0, worker)
    log.info("starting worker %s (log: %s)", settings.worker_id, worker.log_path)
    worker.wait_ready()
    log.info(
        "worker ready; its views: http://%s:%d/pitboss/stats/",
        settings.web_host,
        settings.web_port,
    )
    if settings.archive_url:
        archive = spawn(
            "archive",
            (sys.executable, "-m", "faust", "-A", "app.main", "-l", "info", "archive"),
            {**env, "PITBOSS_WORKER_ID": f"{settings.worker_id}-archive"},
            logs / "archive.log",
        )
        children.insert(0, archive)
        log.info(
            "timeline archive copying the journal to PostgreSQL (log: %s); a player's history: "
            "http://%s:%d/pitboss/timeline/<player id>/",
            archive.log_path,
            settings.web_host,
            settings.web_port,
        )
    rate = env.get("PITBOSS_RUN_RATE", "200")
    simulator = spawn(
        "simulator",
        (sys.executable, "scripts/simulate.py", "--rate", rate),
        env,
        logs / "simulator.log",
    )
    children.insert(0, simulator)
    log.info("studio simulator producing %s events/s (log: %s)", rate, simulator.log_path)


def stop(children: list[Child], settings: Settings) -> None:
    for child in children:
        if child.alive():
            took = child.stop(signal.SIGTERM, timeout=settings.shutdown_timeout + 10)
            log.info("%s stopped in %.1f s", child.name, took)
    if settings.uses_local_broker:
        log.info(LocalBroker.from_settings(settings).stop())


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings = Settings.from_env()
    logs = settings.state_dir / "logs"
    children: list[Child] = []
    try:
        start(settings, logs, children)
        log.info("rewards and cool-downs appear below as they are issued; Ctrl-C stops")
        asyncio.run(tail(settings))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping")
        stop(children, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
