"""The Faust application object, configured from the environment.

Agents, tables, views and commands register themselves on ``app`` from their own modules;
``app.main`` imports them all, and ``faust -A app.main worker`` runs the result.
"""

from __future__ import annotations

import faust
from faust.types import TransportT

from app.metrics.logs import logging_config
from app.security.https import faust_web_options
from app.security.kafka import faust_broker_credentials
from app.security.masking import mask_log_records
from app.security.settings import SecuritySettings
from app.settings import Settings
from app.streaming import consumer
from app.streaming.batch_table import TableManager
from app.streaming.codecs import register_faust_codecs
from app.streaming.web import FAUST_VIEWS_OFF, Web, guard

settings = Settings.from_env()
security = SecuritySettings.from_env()
settings.data_dir.mkdir(parents=True, exist_ok=True)
mask_log_records()  # no password or token in any log line (docs/security.md)
register_faust_codecs(settings.schema_registry_url or None)


class App(faust.App):
    """Faust's app on Pitboss's consumer (``app.streaming.consumer``), serving its views
    behind the door (``app.streaming.web``)."""

    def _new_transport(self) -> TransportT:
        return consumer.Transport(
            self.conf.broker_consumer, self, pace_empty_fetches=settings.pace_empty_fetches
        )

    def _new_web(self) -> Web:
        return Web(self)

    def on_webserver_init(self, web: Web) -> None:  # type: ignore[override]
        guard(web, settings, security)


app = App(
    settings.app_id,
    broker=settings.kafka_url,
    # TLS/SASL, the same settings every aiokafka client gets (app/security/kafka_clients.py).
    broker_credentials=faust_broker_credentials(security.kafka),
    store=settings.store_url,
    datadir=str(settings.data_dir),
    # Tables start at once: all of them are defined at import (app.streaming.batch_table).
    TableManager=TableManager,
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    # Changelog topics are Faust's own; every other topic is created up front.
    topic_allow_declare=True,
    # A stable member id: a restarted worker takes its partitions straight back
    # (static membership), which the local broker needs and Kubernetes wants.
    consumer_group_instance_id=settings.worker_id,
    # Join the group in about a second instead of Faust's default ~30 s.
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=settings.heartbeat_interval,
    # Stop promptly on SIGTERM: unacked events are simply re-delivered, and the
    # deterministic ids make their decisions identical.
    stream_wait_empty=False,
    # A fetch is a decide batch (app.streaming.consumer's lane): bound it.
    broker_max_poll_records=settings.batch_max,
    # app.streaming.outbox fills record batches itself: let one carry a micro-batch's outputs.
    producer_max_batch_size=512 * 1024,
    # Bind address, advertised URL and HTTPS: docs/security.md ("Web surfaces").
    **faust_web_options(security.web, settings.web_host, settings.web_port),
    **FAUST_VIEWS_OFF,
    # PITBOSS_LOG_FORMAT=json: one JSON object per line, with the worker id.
    logging_config=logging_config(settings.log_format, settings.worker_id),
    autodiscover=False,
)
