"""The worker's web server: Faust's aiohttp driver without Faust's own views, and with the door
(``app.security.middleware``) in front of every route before the server starts listening.

Each Pitboss view declares its permission with ``@requires`` on its class; Faust wraps the
class in a plain function for aiohttp, so the middleware reads the permissions from the route
table built here (``declared_permissions``), and refuses any route without one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web as aiohttp_web
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from app.console.errors import console_refusals
from app.console.session import COOKIE, PREFIX
from app.security.access import load_access_file
from app.security.access_log_producer import AccessLogProducer
from app.security.authenticate import authenticator_from_settings
from app.security.middleware import PERMISSION_ATTRIBUTE, auth_middleware
from app.security.settings import SecuritySettings
from app.settings import Settings

#: Faust's own views off: ``/table/`` shows table data, ``/router/`` and ``/graph/`` the
#: cluster's topology, the statistics and ``/performance/`` the worker's internals. Request
#: forwarding (``@app.table_route``) asks the partition assignor, not the ``/router/`` views,
#: so it works without them.
FAUST_VIEWS_OFF: dict[str, Any] = {
    "web_tables_enabled": False,
    "web_router_enabled": False,
    "web_graph_enabled": False,
    "web_stats_enabled": False,
    "web_metrics_enabled": False,
}


class Web(AiohttpWeb):
    """Faust's aiohttp driver without the index Faust serves at ``/`` when its statistics are
    off (no setting removes it): every route the server answers is one of Pitboss's."""

    production_blueprints: ClassVar[list] = []


def declared_permissions(web: AiohttpWeb) -> dict[str, str]:
    """Each view's path and the permission its class declares (``@requires``)."""
    return {
        path: permission
        for path, view in web.views.items()
        if (permission := getattr(view, PERMISSION_ATTRIBUTE, None)) is not None
    }


def guard(web: AiohttpWeb, settings: Settings, security: SecuritySettings) -> None:
    """Put the door in front of ``web``'s routes. Faust calls this for every command, not only
    the worker, so the door is built when the server starts (aiohttp's ``on_startup``, before
    it listens): the deployment's authenticator (the server refuses to start without one), its
    access policy and the access log on Kafka. Until then every request is refused (503)."""
    built: list[Any] = []
    access_log = AccessLogProducer(settings, security.kafka)

    @aiohttp_web.middleware
    async def door(request: aiohttp_web.Request, handler: Any) -> aiohttp_web.StreamResponse:
        if not built:
            return aiohttp_web.json_response(
                {"error": "unavailable", "detail": "the web server is starting"}, status=503
            )
        return await built[0](request, handler)

    async def build(_: aiohttp_web.Application) -> None:
        authenticator = authenticator_from_settings(security.auth)
        policy = load_access_file(security.auth.access_file)
        routes = declared_permissions(web)
        built.append(
            auth_middleware(
                authenticator, policy, access_log, routes=routes, cookie=(PREFIX, COOKIE)
            )
        )

    async def stop_access_log(_: aiohttp_web.Application) -> None:
        await access_log.stop()

    # outside the door: a console page it refuses is answered with the login or forbidden page
    web.web_app.middlewares.extend([console_refusals, door])
    web.web_app.on_startup.append(build)
    web.web_app.on_cleanup.append(stop_access_log)
