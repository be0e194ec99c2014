"""``/metrics`` (Prometheus text, ``metrics.read``: a scraper's API key or the monitoring role),
and the probes ``/livez`` and ``/readyz``, open like ``/health`` (probes carry no credentials)."""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from app.metrics.consumer import ConsumerCollector
from app.metrics.definitions import REGISTRY
from app.security.middleware import requires
from app.streaming.diagnostics import consumer_state, ready
from app.streaming.faust_app import app

REGISTRY.register(ConsumerCollector(lambda: consumer_state(app)))


@app.page("/metrics")
@requires("metrics.read")
class MetricsView(View):
    async def get(self, request: Request) -> Response:
        # aiohttp refuses a charset in content_type=, so the header is set whole; the 0.0.4
        # text format is the one every Prometheus version reads.
        body = generate_latest(REGISTRY)
        return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})


@app.page("/livez")
class LivenessView(View):
    """The event loop answers: nothing more (a restart would not cure a slow recovery)."""

    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


@app.page("/readyz")
class ReadinessView(View):
    """200 once the tables are recovered and the partitions assigned; 503 before and during a
    rebalance, so a load balancer or a rolling upgrade waits for it."""

    async def get(self, request: Request) -> Response:
        if ready(app):
            return self.json({"status": "ok"})
        return self.json({"status": "starting"}, status=503)
