"""The settings of ``pitboss webhooks`` and ``pitboss fulfil``, from the environment, each with
its documented default (docs/integration.md). Both read the same names under their own prefix,
``PITBOSS_WEBHOOKS_`` and ``PITBOSS_FULFIL_``, so the two can run side by side."""

from __future__ import annotations

from dataclasses import dataclass

from app.delivery.config import Use
from app.settings import Environ, env_count, env_text


@dataclass(frozen=True)
class DeliverySettings:
    #: the endpoints file (required)
    file: str
    #: the consumer group: its own, so its offsets are nobody else's
    group: str
    #: records of one partition fetched and not yet finished before its fetching pauses
    max_queued: int
    #: where /metrics (and /health) listen; port 0 (the default): no metrics server, so that
    #: several delivery processes on one host need no port each unless they are scraped
    metrics_bind: str = "127.0.0.1"
    metrics_port: int = 0

    @classmethod
    def from_env(cls, env: Environ, use: Use, app_id: str) -> DeliverySettings:
        prefix = f"PITBOSS_{use.upper()}_"
        return cls(
            file=env_text(env, prefix + "FILE", ""),
            group=env_text(env, prefix + "GROUP", f"{app_id}-{use}"),
            max_queued=env_count(env, prefix + "MAX_QUEUED", 500, least=2),
            metrics_bind=env_text(env, prefix + "METRICS_BIND", "127.0.0.1"),
            metrics_port=env_count(env, prefix + "METRICS_PORT", 0, least=0),
        )
