"""Cross-origin access for widgets embedded in the operator's own site: the origins in
``PITBOSS_GATEWAY_CORS_ORIGINS`` may call the player API, open its Server-Sent Events and load
the widget kit (a module script is fetched in CORS mode); every other origin gets no CORS
headers, so browsers keep it same-origin. Credentials (cookies) are never allowed: the player's
token travels in the Authorization header or the query.

aiohttp-cors (aio-libs, 0.8.1 of 2025, already installed with Faust) answers the preflights and
adds the headers; it decides nothing about authentication, which stays in the routes.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import aiohttp_cors
from aiohttp import web

#: Request headers a widget sends cross-origin (EventSource resends Last-Event-ID itself).
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Last-Event-ID")
#: Seconds a browser may cache a preflight's answer.
MAX_AGE = 600


def parse_origins(text: str) -> tuple[str, ...]:
    """The comma-separated origins (``scheme://host[:port]``, nothing more); ValueError
    naming the first that is not one."""
    origins = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path or parts.query:
            raise ValueError(
                f"PITBOSS_GATEWAY_CORS_ORIGINS: {origin!r} is not an origin "
                "(scheme://host[:port], no path; '*' is not allowed: list the origins)"
            )
    return origins


def allow_origins(app: web.Application, origins: Iterable[str], skip: Iterable[str]) -> None:
    """Let ``origins`` call every route of ``app`` but those whose path is in ``skip``."""
    origins = tuple(origins)
    if not origins:
        return
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False,
        allow_headers=ALLOWED_HEADERS,
        allow_methods=("GET", "POST"),
        max_age=MAX_AGE,
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(origins, options))
    skipped = set(skip)
    for route in list(app.router.routes()):
        if route.method != "HEAD" and route.resource.canonical not in skipped:
            cors.add(route)
