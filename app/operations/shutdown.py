"""A bound on shutdown: a stopping worker exits within ``PITBOSS_SHUTDOWN_TIMEOUT`` seconds.

Faust can wait a long time on a busy stream when asked to stop (over ten minutes was
measured; docs/operations.md, "Shutdown"); since unacked events are re-delivered and decide
again with identical ids, cutting that wait short loses nothing.
"""

from __future__ import annotations

import logging
import os
import threading

import mode

from app.streaming.faust_app import app, settings

log = logging.getLogger(__name__)


def _hard_exit() -> None:
    log.warning(
        "worker %s did not stop within %.0f s; exiting now (unacked events will be re-delivered)",
        settings.worker_id,
        settings.shutdown_timeout,
    )
    logging.shutdown()
    os._exit(0)


@app.service
class ShutdownDeadline(mode.Service):
    """Arms a timer the moment the worker starts stopping."""

    async def on_stop(self) -> None:
        log.info(
            "worker %s stopping; it will be gone within %.0f s",
            settings.worker_id,
            settings.shutdown_timeout,
        )
        timer = threading.Timer(settings.shutdown_timeout, _hard_exit)
        timer.daemon = True
        timer.start()
