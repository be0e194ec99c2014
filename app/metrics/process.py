"""``/metrics`` for the processes beside the worker (``pitboss intake``, ``webhooks``,
``fulfil`` and ``gateway``): each keeps its own registry and serves it as the worker does,
behind the same door (``metrics.read``: a scraper's API key or the monitoring role, every
decision in the access log), while the process's other routes keep their own door; and the
request counter by route and status their HTTP servers share.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from app.security.access import load_access_file
from app.security.access_log_producer import AccessLogProducer
from app.security.authenticate import authenticator_from_settings
from app.security.middleware import auth_middleware
from app.security.settings import SecuritySettings
from app.settings import Settings

ROUTE = "/metrics"
PERMISSION = "metrics.read"


def requests_counter(process: str, registry: CollectorRegistry) -> Counter:
    """``pitboss_<process>_requests_total`` by route (its pattern) and status."""
    return Counter(
        f"pitboss_{process}_requests",
        f"HTTP requests to the {process}, by route pattern and status.",
        ["route", "status"],
        registry=registry,
    )


def counting(counter: Counter) -> Any:
    """A middleware counting each request once it is answered (put it first, so that the
    statuses other middlewares make of errors are the ones counted; a stream counts when it
    ends)."""

    @web.middleware
    async def count(request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            counter.labels(route, str(status)).inc()

    return count


def add_metrics_route(
    app: web.Application,
    registry: CollectorRegistry,
    settings: Settings,
    security: SecuritySettings,
) -> None:
    """``GET /metrics`` on ``app``: ``registry`` in Prometheus text, for ``metrics.read``
    only. The door is built when the server starts (the deployment's staff authenticator and
    access policy, the access log on Kafka); until then the route answers 503."""
    access_log = AccessLogProducer(settings, security.kafka)
    built: list[Any] = []

    async def serve(_: web.Request) -> web.Response:
        # aiohttp refuses a charset in content_type=, so the header is set whole
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def metrics(request: web.Request) -> web.StreamResponse:
        if not built:
            return web.json_response(
                {"error": "unavailable", "detail": "the server is starting"}, status=503
            )
        return await built[0](request, serve)

    async def build(_: web.Application) -> None:
        built.append(
            auth_middleware(
                authenticator_from_settings(security.auth),
                load_access_file(security.auth.access_file),
                access_log,
                routes={ROUTE: PERMISSION},
            )
        )

    async def stop(_: web.Application) -> None:
        await access_log.stop()

    app.router.add_get(ROUTE, metrics)
    app.on_startup.append(build)
    app.on_cleanup.append(stop)


async def serve_metrics(
    registry: CollectorRegistry,
    settings: Settings,
    security: SecuritySettings,
    bind: str,
    port: int,
) -> web.AppRunner:
    """A server of its own with ``/health`` (open) and ``/metrics``, for a process that has
    no other HTTP surface (``webhooks``, ``fulfil``); ``cleanup()`` the runner to stop it."""
    app = web.Application()

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/health", health)
    add_metrics_route(app, registry, settings, security)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind, port).start()
    return runner
