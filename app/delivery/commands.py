"""``pitboss webhooks`` and ``pitboss fulfil``: the delivery process (its own, like
``pitboss intake``) for operators' webhooks and for the fulfilment adapters."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import aiohttp
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from app.delivery import metrics
from app.delivery.config import Use, load_endpoints
from app.delivery.lanes import Lanes
from app.delivery.letters import Letters
from app.delivery.outlet import Outlet
from app.delivery.process import Deliverer
from app.delivery.settings import DeliverySettings
from app.metrics.process import serve_metrics
from app.operations.cli import COULD_NOT_RUN, Command
from app.operations.signals import stop_on_signals
from app.security import kafka_clients
from app.security.documents import SecurityFileError
from app.security.erasure_key import erasure_key
from app.streaming.faust_app import app, security, settings
from app.streaming.pacing import start_paced


def _fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(COULD_NOT_RUN)


@app.command(base=Command)
async def webhooks(self: object) -> None:
    """Deliver rewards, cool-downs and journal decisions to the HTTP endpoints of
    PITBOSS_WEBHOOKS_FILE: signed, retried, in order per player, at least once
    (docs/integration.md#webhooks)."""
    await _deliver("webhooks")


@app.command(base=Command)
async def fulfil(self: object) -> None:
    """Credit money-like rewards through the operator's API, as the adapters of
    PITBOSS_FULFIL_FILE say; each reward's lifecycle goes to reward-lifecycle
    (docs/integration.md#fulfilment)."""
    await _deliver("fulfil")


async def _deliver(use: Use) -> None:
    config = DeliverySettings.from_env(os.environ, use, settings.app_id)
    if not config.file:
        _fail(f"Error: set PITBOSS_{use.upper()}_FILE to the endpoints file (docs/integration.md)")
    try:
        endpoints = load_endpoints(config.file, use)
    except SecurityFileError as exc:
        _fail(str(exc))
    outlet = Outlet(settings, security.kafka, use)
    keys = kafka_clients.consumer(settings, kafka=security.kafka, enable_auto_commit=False)
    consumer = kafka_clients.consumer(
        settings,
        kafka=security.kafka,
        group_id=config.group,
        # static membership, as for workers: a restarted process takes its partitions back
        group_instance_id=settings.worker_id,
        client_id=f"{config.group}-{settings.worker_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # a player's rewards, cool-downs and journal share a partition number: one member
        # gets all three, as in the archive
        partition_assignment_strategy=(RangePartitionAssignor,),
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
        # a slow endpoint holds a lane, not the poll loop; this is only a bound on a stuck loop
        max_poll_interval_ms=10 * 60 * 1000,
    )
    stop = stop_on_signals()
    server = None
    if config.metrics_port:
        server = await serve_metrics(
            metrics.REGISTRY, settings, security, config.metrics_bind, config.metrics_port
        )
    await outlet.start()
    await keys.start()
    await start_paced(consumer, pace=settings.pace_empty_fetches)
    try:
        async with aiohttp.ClientSession() as session:
            deliverer = Deliverer(
                settings,
                use,
                endpoints,
                session,
                outlet,
                Letters(settings, keys, erasure_key(settings)),
            )
            lanes = Lanes(consumer, deliverer.handle, config.max_queued)
            metrics.watch(use, lanes, consumer)
            consumer.subscribe(list(deliverer.topics), listener=lanes)
            print(
                f"{use} delivering {', '.join(deliverer.topics)} to "
                f"{', '.join(e.name for e in endpoints)} as consumer group {config.group}",
                flush=True,
            )
            await lanes.run(stop)
            deliverer.report(force=True)
    finally:
        await consumer.stop()
        await keys.stop()
        await outlet.stop()
        if server is not None:
            await server.cleanup()
    print(f"{use} stopped", flush=True)
