"""Prometheus metrics, liveness and readiness of a worker: what it decided (``record_batch``,
once per batch), where its consumer stands (``ConsumerCollector``, read at each scrape from
``app.streaming.diagnostics``), served by ``app.metrics.views`` at ``/metrics``, ``/livez`` and
``/readyz``."""
