"""How the processes that are not Faust workers (intake, gateway, webhooks, fulfil) learn to
stop: SIGTERM (a supervisor, Kubernetes) or SIGINT (Ctrl-C) sets an event they wait on, so
they can close their Kafka clients and servers in order instead of dying mid-send."""

from __future__ import annotations

import asyncio
import signal


def stop_on_signals() -> asyncio.Event:
    """An event that SIGTERM or SIGINT sets (call it inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
