#!/usr/bin/env python
"""``make run``: a worker (with its console), the timeline archive, the player gateway, the
studio simulator and the rewards on screen, until Ctrl-C.

Starts the local broker if none answers, and creates the topics that are missing. Worker
and simulator logs go to ``.state/logs``; this terminal shows each reward and cool-down as
it arrives. Ctrl-C stops the simulator, then the worker (within its shutdown bound), then
the local broker only if this run started it (its data is kept; ``make reset`` wipes it): a
broker that was already running may serve another terminal's ``make test``.

    PITBOSS_RUN_RATE=1000 make run      # events per second from the simulator (default 200)

The views need a token: without an identity provider (PITBOSS_AUTH_ISSUER) the run uses the
development identity in ``.state/dev-identity`` and says how to mint a token from it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from app.devtools.localbroker import LocalBroker, start_unless_answering
from app.devtools.simulator.producer import live_time_scale
from app.devtools.simulator.studio import StudioConfig
from app.devtools.supervise import Child, spawn, spawn_worker
from app.gateway.settings import GatewaySettings
from app.gateway.tokens import mint_player_token
from app.operations.admin import ensure_topics
from app.operations.tail import tail
from app.security.dev_identity import DevIdentity, ensure_dev_identity
from app.security.https import advertised_url
from app.security.settings import WebSettings
from app.settings import Settings

log = logging.getLogger("pitboss.run")

#: A player the simulator plays from the start (its pool is p-000001 on).
DEMO_PLAYER = "p-000001"


def with_identity(env: dict[str, str], settings: Settings) -> dict[str, str]:
    """``env`` with the development identity, unless an identity provider or another
    development identity is configured (authentication is never off, docs/security.md)."""
    if env.get("PITBOSS_AUTH_ISSUER") or env.get("PITBOSS_DEV_IDENTITY"):
        return env
    return {**env, "PITBOSS_DEV_IDENTITY": str(settings.state_dir / "dev-identity")}


def console_token(identity: DevIdentity, state_dir: Path) -> Path:
    """A development crm_manager token for the console's login, in a file only its owner can
    read: a token is a secret, so the terminal shows where it is, not what it is."""
    path = state_dir / "console-token"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(identity.mint("console", ["crm_manager"], ttl=8 * 3600) + "\n")
    return path


def widgets_demo(env: dict[str, str], settings: Settings, player: str = DEMO_PLAYER) -> str:
    """The gateway's demo page for ``player`` with a development token (valid 8 h), when the
    gateway signs its own tokens; else the page's address, to add an operator's token to."""
    config = GatewaySettings.from_env(env)
    url = f"http://127.0.0.1:{config.port}/widgets/demo.html?player={player}"
    if config.issuer:
        return url + "&token=<a player token from your backend>"
    keys = config.dev_key_dir(settings.state_dir)
    return f"{url}&token={mint_player_token(keys, player, config.audience, ttl=8 * 3600)}"


def start(settings: Settings, logs: Path, children: list[Child]) -> None:
    """Start the worker, wait until it is ready, then the simulator; both join ``children``."""
    env = with_identity(dict(os.environ), settings)
    worker = spawn_worker(env, settings.worker_id, logs)
    children.insert(0, worker)
    log.info("starting worker %s (log: %s)", settings.worker_id, worker.log_path)
    worker.wait_ready()
    views = advertised_url(WebSettings.from_env(env), settings.web_host, settings.web_port)
    log.info(
        "worker ready; its views: %s/pitboss/stats/ (all: %s/pitboss/openapi.json)", views, views
    )
    if env.get("PITBOSS_DEV_IDENTITY"):
        identity = ensure_dev_identity(env["PITBOSS_DEV_IDENTITY"])
        log.info(
            "the views need a token; from the development identity: TOKEN=$(python -m "
            "app.security mint-token --dir %s --sub $USER --role support) and "
            'curl -H "Authorization: Bearer $TOKEN" %s/pitboss/players/<player id>/ '
            "(roles: support, crm_manager, rg_officer, analyst, auditor, admin)",
            identity.directory,
            views,
        )
        log.info(
            "the console: %s/console/ (paste the crm_manager token in %s, valid 8 h)",
            views,
            console_token(identity, settings.state_dir),
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
            "%s/pitboss/timeline/<player id>/",
            archive.log_path,
            views,
        )
    gateway = spawn(
        "gateway",
        (sys.executable, "-m", "faust", "-A", "app.main", "-l", "info", "gateway"),
        {**env, "PITBOSS_WORKER_ID": f"{settings.worker_id}-gateway"},
        logs / "gateway.log",
    )
    children.insert(0, gateway)
    gateway.wait_ready(line="gateway listening")
    log.info(
        "player gateway (log: %s; docs/player-channel.md); the table-screen widgets of a "
        "simulated player, live: %s",
        gateway.log_path,
        widgets_demo(env, settings),
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
    log.info(pace_line(rate))


def pace_line(rate: str) -> str:
    """What the simulator's compressed pace does to the responsible-gaming detectors."""
    try:
        scale = live_time_scale(StudioConfig(), float(rate), seed=1)
    except ValueError:
        scale = 0.0
    if 0 < scale < 1.5:
        return "the simulator plays rounds at a real studio's pace (responsible-gaming markers too)"
    pace = f"about {scale:.0f}x a real studio's pace" if scale else "a compressed pace"
    return (
        f"the simulator plays rounds at {pace}: the responsible-gaming markers that count "
        "time (losing rounds in 10 minutes, session lengths) trip that much sooner, so the "
        "cool-downs and risk levels here overstate real play; `python -m scripts.calibrate` "
        "measures them at real pace (docs/responsible-gaming.md)"
    )


def stop(children: list[Child], settings: Settings, broker: LocalBroker | None) -> None:
    """Stop the children, then the broker if this run started it."""
    for child in children:
        if child.alive():
            took = child.stop(signal.SIGTERM, timeout=settings.shutdown_timeout + 10)
            log.info("%s stopped in %.1f s", child.name, took)
    if broker is not None:
        log.info(broker.stop())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings = Settings.from_env()
    logs = settings.state_dir / "logs"
    children: list[Child] = []
    broker: LocalBroker | None = None
    try:
        broker = start_unless_answering(settings)
        asyncio.run(ensure_topics(settings))
        start(settings, logs, children)
        log.info("rewards and cool-downs appear below as they are issued; Ctrl-C stops")
        asyncio.run(tail(settings))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:  # BrokerError, AdminError, a worker that did not start
        log.error("%s", exc)
        return 1
    finally:
        log.info("stopping")
        stop(children, settings, broker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
